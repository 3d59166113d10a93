/// MUL, IMUL (one-, two- and three-operand forms), DIV, IDIV and the rest of group 3.
extension CPU {
    /// Group 3 (F6/F7): TEST, NOT, NEG, MUL, IMUL, DIV, IDIV.
    func group3(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        decodeModRM()
        let v = readRM(size)
        switch modrmReg {
        case 0, 1: _ = logicResult(v & fetchImm(size), size)
        case 2: writeRM(size, ~v & maskOf(size))
        case 3: writeRM(size, neg(v, size))
        case 4: multiply(v, size, signed: false)
        case 5: multiply(v, size, signed: true)
        case 6: divide(v, size, signed: false)
        default: divide(v, size, signed: true)
        }
    }

    @inline(__always) func signExtend(_ v: UInt32, _ size: Int) -> Int64 {
        size == 1 ? Int64(Int8(truncatingIfNeeded: v)) : size == 2 ? Int64(Int16(truncatingIfNeeded: v)) : Int64(Int32(bitPattern: v))
    }

    /// Accumulator times `v`: AX = AL*v, DX:AX = AX*v or EDX:EAX = EAX*v.
    func multiply(_ v: UInt32, _ size: Int, signed: Bool) {
        multiplyInline(v, size, signed: signed)
    }

    /// The body of `multiply`, inlined where the size and signedness are constants.
    @inline(always) func multiplyInline(_ v: UInt32, _ size: Int, signed: Bool) {
        let a = getReg(Reg.ax, size)
        let bits = UInt64(truncatingIfNeeded: size &<< 3)
        let product: UInt64
        let overflow: Bool
        if signed {
            let p = signExtend(a, size) * signExtend(v, size)
            product = UInt64(bitPattern: p)
            overflow = p != signExtend(UInt32(truncatingIfNeeded: p) & maskOf(size), size)
        } else {
            product = UInt64(a) * UInt64(v)
            overflow = product >> bits != 0
        }
        let lo = UInt32(truncatingIfNeeded: product) & maskOf(size)
        let hi = UInt32(truncatingIfNeeded: product >> bits) & maskOf(size)
        if size == 1 {
            setReg(Reg.ax, 2, UInt32(truncatingIfNeeded: product) & 0xFFFF)
        } else {
            setReg(Reg.ax, size, lo)
            setReg(Reg.dx, size, hi)
        }
        // SF, ZF, AF and PF are undefined; they are set from the low half here (AF clear).
        recordResult(lo, cf: overflow, of: overflow, size)
    }

    /// Accumulator (AX, DX:AX, EDX:EAX) divided by `v`; #DE on zero or quotient overflow.
    func divide(_ v: UInt32, _ size: Int, signed: Bool) {
        let bits = UInt64(size * 8)
        let mask = UInt64(maskOf(size))
        let dividend: UInt64 = size == 1 ? UInt64(getReg(Reg.ax, 2))
            : (UInt64(getReg(Reg.dx, size)) << bits) | UInt64(getReg(Reg.ax, size))
        var q: UInt64, r: UInt64
        if model == .i8086 { preDivideFlags8086(dividend, v, size, signed: signed) }
        if v == 0 { divideError(); return }
        if signed {
            let n: Int64 = size == 4 ? Int64(bitPattern: dividend)
                : size == 2 ? Int64(Int32(bitPattern: UInt32(truncatingIfNeeded: dividend))) : Int64(Int16(truncatingIfNeeded: dividend))
            let d = signExtend(v, size)
            if n == Int64.min && d == -1 { divideError(); return }
            let sq = n / d, sr = n % d
            let limit = Int64(1) << (bits - 1)
            // The 8086 also rejects the most negative quotient.
            let minQ = model == .i8086 ? -limit + 1 : -limit
            if sq >= limit || sq < minQ { divideError(); return }
            q = UInt64(bitPattern: sq) & mask
            r = UInt64(bitPattern: sr) & mask
        } else {
            q = dividend / UInt64(v)
            r = dividend % UInt64(v)
            if q > mask { divideError(); return }
        }
        if size == 1 {
            setReg(Reg.ax, 2, UInt32(q) | UInt32(r) << 8)
        } else {
            setReg(Reg.ax, size, UInt32(q))
            setReg(Reg.dx, size, UInt32(r))
        }
    }

    /// The 8086 microcode starts a division by subtracting the divisor from the high half of
    /// the (absolute) dividend; when that overflows it traps with those flags, which is what
    /// the exception pushes.
    private func preDivideFlags8086(_ dividend: UInt64, _ v: UInt32, _ size: Int, signed: Bool) {
        let bits = UInt64(size * 8)
        let mask = UInt64(maskOf(size))
        var n = dividend, d = UInt64(v)
        if signed {
            if (n >> (2 * bits - 1)) & 1 != 0 { n = (0 &- n) & ((mask << bits) | mask) }
            if d & UInt64(signOf(size)) != 0 { d = (0 &- d) & mask }
        }
        _ = sub(UInt32(truncatingIfNeeded: n >> bits), UInt32(truncatingIfNeeded: d), 0, size)
    }

    func divideError() {
        // The 8086 pushes the address after DIV; the 286 and later the DIV itself.
        if model == .i8086 { interrupt(0, software: false) } else { fault(0) }
    }

    /// IMUL reg, r/m[, imm] (0F AF, 69, 6B): truncated signed product, CF=OF on overflow.
    func imulReg(immSize: Int) {
        let size = opSize
        decodeModRM()
        let a = readRM(size)
        let b: UInt32 = immSize == 0 ? getReg(modrmReg, size) : immSize == 1 ? fetchSimm8(size) : fetchImm(size)
        let p = signExtend(a, size) * signExtend(b, size)
        let lo = UInt32(truncatingIfNeeded: p) & maskOf(size)
        let overflow = p != signExtend(lo, size)
        putFlags(F.arith, (overflow ? F.cf | F.of : 0) | szp(lo, size))
        setReg(modrmReg, size, lo)
    }
}
