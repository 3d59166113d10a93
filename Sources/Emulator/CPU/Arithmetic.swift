/// ADD, ADC, SUB, SBB, CMP, INC, DEC, NEG and the 00-3F ALU opcode pattern.
extension CPU {
    @inline(__always) func add(_ a: UInt32, _ b: UInt32, _ carry: UInt32, _ size: Int) -> UInt32 {
        let wide = UInt64(a) &+ UInt64(b) &+ UInt64(carry)
        let r = UInt32(truncatingIfNeeded: wide) & maskOf(size)
        let cf: UInt32 = (wide >> UInt64(size * 8)) & 1 != 0 ? F.cf : 0
        let of: UInt32 = (a ^ r) & (b ^ r) & signOf(size) != 0 ? F.of : 0
        putFlags(F.arith, cf | of | ((a ^ b ^ r) & F.af) | szp(r, size))
        return r
    }

    @inline(__always) func sub(_ a: UInt32, _ b: UInt32, _ borrow: UInt32, _ size: Int) -> UInt32 {
        let wide = UInt64(a) &- UInt64(b) &- UInt64(borrow)
        let r = UInt32(truncatingIfNeeded: wide) & maskOf(size)
        let cf: UInt32 = (wide >> UInt64(size * 8)) & 1 != 0 ? F.cf : 0
        let of: UInt32 = (a ^ b) & (a ^ r) & signOf(size) != 0 ? F.of : 0
        putFlags(F.arith, cf | of | ((a ^ b ^ r) & F.af) | szp(r, size))
        return r
    }

    /// The eight classic ALU operations selected by bits 3-5 of the opcode or ModRM.reg.
    @inline(__always) func alu(_ op: Int, _ a: UInt32, _ b: UInt32, _ size: Int) -> UInt32 {
        switch op {
        case 0: return add(a, b, 0, size)
        case 1: return logicResult(a | b, size)
        case 2: return add(a, b, flags & F.cf, size)
        case 3: return sub(a, b, flags & F.cf, size)
        case 4: return logicResult(a & b, size)
        case 5, 7: return sub(a, b, 0, size)
        default: return logicResult(a ^ b, size)
        }
    }

    /// Opcodes 00-3F with low bits 0-5: r/m,reg / reg,r/m / AL|eAX,imm.
    func aluOpcode(_ opcode: UInt8) {
        let op = Int(opcode >> 3) & 7
        let form = opcode & 7
        let size = form & 1 == 0 ? 1 : opSize
        switch form {
        case 0, 1:
            decodeModRM()
            let r = alu(op, readRM(size), getReg(modrmReg, size), size)
            if op != 7 { writeRM(size, r) }
        case 2, 3:
            decodeModRM()
            let r = alu(op, getReg(modrmReg, size), readRM(size), size)
            if op != 7 { setReg(modrmReg, size, r) }
        default:
            let imm = fetchImm(size)
            let r = alu(op, getReg(Reg.ax, size), imm, size)
            if op != 7 { setReg(Reg.ax, size, r) }
        }
    }

    /// Group 1 (80-83): ALU op with an immediate on r/m.
    func aluImmediate(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        decodeModRM()
        let a = readRM(size)
        let imm = opcode == 0x83 ? fetchSimm8(size) : fetchImm(size)
        let r = alu(modrmReg, a, imm, size)
        if modrmReg != 7 { writeRM(size, r) }
    }

    /// INC/DEC leave CF alone.
    @inline(__always) func incdec(_ v: UInt32, _ dec: Bool, _ size: Int) -> UInt32 {
        let cf = flags & F.cf
        let r = dec ? sub(v, 1, 0, size) : add(v, 1, 0, size)
        flags = (flags & ~F.cf) | cf
        return r
    }

    func neg(_ v: UInt32, _ size: Int) -> UInt32 {
        sub(0, v, 0, size)
    }
}
