/// Immediate fetch, the ModRM operands of the decoded instruction and operand access.
/// Execution code only sees "the r/m operand" and "the reg operand" through these helpers.
extension CPU {
    // MARK: fetch

    @inline(always) func fetch8() -> UInt8 {
        let v = mem.load8(segBase[Seg.cs] &+ eip)
        eip = (eip &+ 1) & ipMask
        return v
    }

    @inline(always) func fetch16() -> UInt16 {
        if eip & 0xFFFF == 0xFFFF && !codeBig {
            return UInt16(fetch8()) | UInt16(fetch8()) << 8
        }
        let v = mem.load16(segBase[Seg.cs] &+ eip)
        eip = (eip &+ 2) & ipMask
        return v
    }

    @inline(always) func fetch32() -> UInt32 {
        if eip <= ipMask &- 3 { // the common case: no wrap of the offset inside the immediate
            let v = mem.load32(segBase[Seg.cs] &+ eip)
            eip = (eip &+ 4) & ipMask
            return v
        }
        let lo = UInt32(fetch16())
        return lo | UInt32(fetch16()) << 16
    }

    /// Immediate of the operand size (8, 16 or 32 bits), zero-extended.
    @inline(always) func fetchImm(_ size: Int) -> UInt32 {
        size == 1 ? UInt32(fetch8()) : size == 2 ? UInt32(fetch16()) : fetch32()
    }

    /// Sign-extended 8-bit immediate truncated to `size`.
    @inline(always) func fetchSimm8(_ size: Int) -> UInt32 {
        UInt32(bitPattern: Int32(Int8(bitPattern: fetch8()))) & maskOf(size)
    }

    @inline(always) var opSize: Int { opSize32 ? 4 : 2 }

    // MARK: ModRM

    /// Sets the ModRM fields and, for memory forms, eaSeg:eaOff from the decoded address
    /// form and the current registers (POP r/m computes it after incrementing SP).
    @inline(always) func decodeModRM() {
        let d = decoded
        modrmMod = Int(d.pointee.mod)
        modrmReg = Int(d.pointee.reg)
        modrmRM = Int(d.pointee.rm)
        if modrmMod != 3 {
            eaOff = effectiveOffset(d)
            eaSeg = Int(d.pointee.segment)
        }
    }

    /// Offset of a decoded memory operand from the current registers.
    @inline(always) func effectiveOffset(_ d: UnsafeMutablePointer<DecodedInstruction>) -> UInt32 {
        let off = regs[Int(d.pointee.base)] &+ (regs[Int(d.pointee.index)] &<< UInt32(d.pointee.scale)) &+ d.pointee.displacement
        return off & d.pointee.addressMask
    }

    // MARK: registers by width

    @inline(always) func getReg(_ i: Int, _ size: Int) -> UInt32 {
        if size == 1 { return regs[i & 3] &>> (UInt32(truncatingIfNeeded: i &>> 2) &<< 3) & 0xFF }
        return size == 2 ? regs[i] & 0xFFFF : regs[i]
    }

    @inline(always) func setReg(_ i: Int, _ size: Int, _ v: UInt32) {
        if size == 1 {
            let sh = UInt32(truncatingIfNeeded: i &>> 2) &<< 3
            regs[i & 3] = (regs[i & 3] & ~(0xFF &<< sh)) | ((v & 0xFF) &<< sh)
        } else if size == 2 {
            regs[i] = (regs[i] & 0xFFFF_0000) | (v & 0xFFFF)
        } else {
            regs[i] = v
        }
    }

    // MARK: memory through segments

    /// Offset of the next byte: 16-bit addressing wraps within the segment.
    @inline(always) func nextOff(_ off: UInt32, _ n: UInt32) -> UInt32 {
        adSize32 ? off &+ n : (off &+ n) & 0xFFFF
    }

    @inline(always) func read(_ seg: Int, _ off: UInt32, _ size: Int) -> UInt32 {
        read(seg, off, size, wide: adSize32)
    }

    /// `wide`: 32-bit offsets; otherwise an access that runs past offset FFFF wraps to 0
    /// (the address size, or for stack accesses the stack segment's B bit).
    @inline(always) func read(_ seg: Int, _ off: UInt32, _ size: Int, wide: Bool) -> UInt32 {
        if limitCheckMask & (1 << UInt8(seg)) != 0 && !withinLimit(seg, off, size) { limitViolation(seg); return 0 }
        let base = segBase[seg]
        switch size {
        case 1: return UInt32(mem.load8(base &+ off))
        case 2:
            if !wide && off & 0xFFFF == 0xFFFF { return readWrapping(seg, off, size) }
            return UInt32(mem.load16(base &+ off))
        default:
            if !wide && off & 0xFFFF > 0xFFFC { return readWrapping(seg, off, size) }
            return mem.load32(base &+ off)
        }
    }

    /// A 16-bit-addressed access that runs past offset FFFF continues at offset 0.
    @inline(never) func readWrapping(_ seg: Int, _ off: UInt32, _ size: Int) -> UInt32 {
        let base = segBase[seg]
        var v: UInt32 = 0
        for i in 0..<UInt32(size) { v |= UInt32(mem.load8(base &+ ((off &+ i) & 0xFFFF))) << (8 * i) }
        return v
    }

    @inline(always) func write(_ seg: Int, _ off: UInt32, _ size: Int, _ v: UInt32) {
        write(seg, off, size, v, wide: adSize32)
    }

    @inline(always) func write(_ seg: Int, _ off: UInt32, _ size: Int, _ v: UInt32, wide: Bool) {
        if limitCheckMask != 0 && (limitFaultVector >= 0 || (limitCheckMask & (1 << UInt8(seg)) != 0 && !withinLimit(seg, off, size))) {
            limitViolation(seg); return
        }
        let base = segBase[seg]
        switch size {
        case 1: mem.store8(base &+ off, UInt8(truncatingIfNeeded: v))
        case 2:
            if !wide && off & 0xFFFF == 0xFFFF { writeWrapping(seg, off, size, v); return }
            mem.store16(base &+ off, UInt16(truncatingIfNeeded: v))
        default:
            if !wide && off & 0xFFFF > 0xFFFC { writeWrapping(seg, off, size, v); return }
            mem.store32(base &+ off, v)
        }
    }

    @inline(never) func writeWrapping(_ seg: Int, _ off: UInt32, _ size: Int, _ v: UInt32) {
        let base = segBase[seg]
        for i in 0..<UInt32(size) { mem.store8(base &+ ((off &+ i) & 0xFFFF), UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }

    // MARK: the r/m operand

    @inline(always) func readRM(_ size: Int) -> UInt32 {
        modrmMod == 3 ? getReg(modrmRM, size) : read(eaSeg, eaOff, size)
    }

    @inline(always) func writeRM(_ size: Int, _ v: UInt32) {
        if modrmMod == 3 { setReg(modrmRM, size, v) } else { write(eaSeg, eaOff, size, v) }
    }

    /// Default segment for data accesses without ModRM (MOV moffs, XLAT, string source).
    @inline(always) var dataSeg: Int { segOverride >= 0 ? segOverride : Seg.ds }
}
