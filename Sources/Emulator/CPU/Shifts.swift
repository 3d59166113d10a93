/// Group 2 shifts and rotates (C0/C1, D0-D3), plus SHLD/SHRD for the 386.
extension CPU {
    /// Shift or rotate `v` by `count` using ModRM.reg as the operation.
    @inline(always) func shiftRotate(_ op: Int, _ v: UInt32, _ rawCount: UInt32, _ size: Int) -> UInt32 {
        // The 186 and later use only the low five bits of the count; the 8086 uses all eight.
        let count = model == .i8086 ? rawCount & 0xFF : rawCount & 31
        if count == 0 { return v }
        let bits = UInt32(truncatingIfNeeded: size &<< 3)
        let mask = maskOf(size), sign = signOf(size)
        var r = v & mask
        var cf = carryFlag != 0
        // From the 186 on, /6 is an alias of SHL; on the 8086 it is SETMO.
        let operation = op == 6 && model != .i8086 ? 4 : op
        switch operation {
        case 0: // ROL
            for _ in 0..<count { cf = r & sign != 0; r = ((r << 1) | (cf ? 1 : 0)) & mask }
            putFlags(F.cf | F.of, (cf ? F.cf : 0) | (((r & sign != 0) != cf) ? F.of : 0))
        case 1: // ROR
            for _ in 0..<count { cf = r & 1 != 0; r = (r >> 1) | (cf ? sign : 0) }
            let of = (r & sign != 0) != (r & (sign >> 1) != 0)
            putFlags(F.cf | F.of, (cf ? F.cf : 0) | (of ? F.of : 0))
        case 2: // RCL
            for _ in 0..<count {
                let out = r & sign != 0
                r = ((r << 1) | (cf ? 1 : 0)) & mask
                cf = out
            }
            putFlags(F.cf | F.of, (cf ? F.cf : 0) | (((r & sign != 0) != cf) ? F.of : 0))
        case 3: // RCR
            var of = false
            for _ in 0..<count {
                of = (r & sign != 0) != cf
                let out = r & 1 != 0
                r = (r >> 1) | (cf ? sign : 0)
                cf = out
            }
            putFlags(F.cf | F.of, (cf ? F.cf : 0) | (of ? F.of : 0))
        case 4: // SHL/SAL
            let wide = count <= bits ? UInt64(r) << UInt64(count) : 0
            r = UInt32(truncatingIfNeeded: wide) & mask
            cf = count <= bits && (wide >> UInt64(bits)) & 1 != 0
            let of = (r & sign != 0) != cf
            recordResult(r, cf: cf, of: of, size)
        case 5: // SHR
            let before = count <= bits ? UInt64(r) >> UInt64(count - 1) : 0
            r = UInt32(truncatingIfNeeded: before >> 1)
            cf = before & 1 != 0
            let of = UInt32(truncatingIfNeeded: before) & sign != 0
            recordResult(r, cf: cf, of: of, size)
        case 6: // SETMO on the 8086: result all ones
            r = mask
            putFlags(F.arith, szp(r, size))
        default: // SAR
            let sv = Int64(r & sign != 0 ? Int64(r) - Int64(mask) - 1 : Int64(r))
            let c = Int64(min(count, bits))
            let before = sv >> (c - 1)
            r = UInt32(truncatingIfNeeded: before >> 1) & mask
            cf = before & 1 != 0
            recordResult(r, cf: cf, of: false, size)
        }
        return r
    }

    /// C0/C1 (imm8 count), D0/D1 (count 1), D2/D3 (count CL).
    func shiftGroup(_ opcode: UInt8) {
        // One inlined copy per width, so the width tests of the helpers fold away.
        switch opcode & 1 == 0 ? 1 : opSize {
        case 1: shiftGroup(opcode, size: 1)
        case 2: shiftGroup(opcode, size: 2)
        default: shiftGroup(opcode, size: 4)
        }
    }

    @inline(always) private func shiftGroup(_ opcode: UInt8, size: Int) {
        decodeModRM()
        let v = readRM(size)
        let count: UInt32
        switch opcode {
        case 0xC0, 0xC1: count = UInt32(fetch8())
        case 0xD0, 0xD1: count = 1
        default: count = regs[Reg.cx] & 0xFF
        }
        writeRM(size, shiftRotate(modrmReg, v, count, size))
    }

    /// SHLD/SHRD r/m, reg, imm8|CL (0F A4/A5/AC/AD).
    @inline(always) func doubleShift(left: Bool, byCL: Bool) {
        decodeModRM()
        doubleShift(left: left, count: byCL ? regs[Reg.cx] : UInt32(fetch8()))
    }

    /// SHLD/SHRD with the ModRM operands set and the count known.
    @inline(always) func doubleShift(left: Bool, count: UInt32) {
        if opSize32 { doubleShift(left: left, count: count, size: 4) } else { doubleShift(left: left, count: count, size: 2) }
    }

    @inline(always) private func doubleShift(left: Bool, count rawCount: UInt32, size: Int) {
        if let r = doubleShifted(left: left, readRM(size), getReg(modrmReg, size), count: rawCount, size) {
            writeRM(size, r)
        }
    }

    /// `dst` shifted by `rawCount` with the bits of `src` coming in, the flags recorded;
    /// nil when the count is 0 (nothing changes, not even the flags).
    @inline(always) func doubleShifted(left: Bool, _ dst: UInt32, _ src: UInt32, count rawCount: UInt32, _ size: Int) -> UInt32? {
        let count = rawCount & 31
        if count == 0 { return nil }
        let bits = UInt64(truncatingIfNeeded: size &<< 3)
        let mask = UInt64(maskOf(size))
        var r: UInt32, cf: Bool
        if left {
            let wide = (UInt64(dst) << bits) | UInt64(src)
            let shifted = wide << UInt64(count)
            r = UInt32(truncatingIfNeeded: (shifted >> bits) & mask)
            cf = (wide >> (2 * bits - UInt64(count))) & 1 != 0
        } else {
            let wide = (UInt64(src) << bits) | UInt64(dst)
            r = UInt32(truncatingIfNeeded: (wide >> UInt64(count)) & mask)
            cf = (wide >> UInt64(count - 1)) & 1 != 0
        }
        let of = (r ^ dst) & signOf(size) != 0
        recordResult(r, cf: cf, of: of, size)
        return r
    }
}
