/// ADD, ADC, SUB, SBB, CMP, INC, DEC, NEG and the 00-3F ALU opcode pattern.
extension CPU {
    // The flags are recorded, not computed (LazyFlags.swift): CF is bit `bits` of the
    // 64-bit sum or difference; OF, SF come from bit `bits - 1`.

    @inline(always) func add(_ a: UInt32, _ b: UInt32, _ carry: UInt32, _ size: Int) -> UInt32 {
        let wide = UInt64(a) &+ UInt64(b) &+ UInt64(carry)
        let r = UInt32(truncatingIfNeeded: wide) & maskOf(size)
        recordFlags(a, b, wide, size, subtract: false)
        return r
    }

    @inline(always) func sub(_ a: UInt32, _ b: UInt32, _ borrow: UInt32, _ size: Int) -> UInt32 {
        let wide = UInt64(a) &- UInt64(b) &- UInt64(borrow)
        let r = UInt32(truncatingIfNeeded: wide) & maskOf(size)
        recordFlags(a, b, wide, size, subtract: true)
        return r
    }

    /// The eight classic ALU operations selected by bits 3-5 of the opcode or ModRM.reg.
    @inline(always) func alu(_ op: Int, _ a: UInt32, _ b: UInt32, _ size: Int) -> UInt32 {
        switch op {
        case 0: return add(a, b, 0, size)
        case 1: return logicResult(a | b, size)
        case 2: return add(a, b, carryFlag, size)
        case 3: return sub(a, b, carryFlag, size)
        case 4: return logicResult(a & b, size)
        case 5, 7: return sub(a, b, 0, size)
        default: return logicResult(a ^ b, size)
        }
    }

    /// Opcodes 00-3D with low bits 4-5: AL|eAX, imm. The ModRM forms (low bits 0-3) run
    /// as the decoder's specialized families (FastPaths.swift) and never come here.
    @inline(always) func aluOpcode(_ opcode: UInt8) {
        // One inlined copy per width, so the width tests of the helpers fold away.
        switch opcode & 1 == 0 ? 1 : opSize {
        case 1: aluAccumulator(opcode, size: 1)
        case 2: aluAccumulator(opcode, size: 2)
        default: aluAccumulator(opcode, size: 4)
        }
    }

    @inline(always) private func aluAccumulator(_ opcode: UInt8, size: Int) {
        let op = Int(opcode >> 3) & 7
        let r = alu(op, getReg(Reg.ax, size), fetchImm(size), size)
        if op != 7 { setReg(Reg.ax, size, r) }
    }

    /// Group 1 (80-83): ALU op with an immediate on r/m.
    func aluImmediate(_ opcode: UInt8) {
        switch opcode & 1 == 0 ? 1 : opSize {
        case 1: aluImmediate(opcode, size: 1)
        case 2: aluImmediate(opcode, size: 2)
        default: aluImmediate(opcode, size: 4)
        }
    }

    @inline(always) private func aluImmediate(_ opcode: UInt8, size: Int) {
        decodeModRM()
        let a = readRM(size)
        let imm = opcode == 0x83 ? fetchSimm8(size) : fetchImm(size)
        let r = alu(modrmReg, a, imm, size)
        if modrmReg != 7 { writeRM(size, r) }
    }

    /// INC/DEC leave CF alone.
    @inline(always) func incdec(_ v: UInt32, _ dec: Bool, _ size: Int) -> UInt32 {
        let cf = carryFlag
        let r = dec ? sub(v, 1, 0, size) : add(v, 1, 0, size)
        lazyWide = UInt64(r) | UInt64(cf) &<< UInt64(truncatingIfNeeded: size &<< 3)
        return r
    }

    func neg(_ v: UInt32, _ size: Int) -> UInt32 {
        sub(0, v, 0, size)
    }
}
