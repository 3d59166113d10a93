/// EFLAGS bits and the helpers that compute result flags. Flags are kept eagerly in
/// `flags`; each ALU helper computes exactly the bits the instruction defines.
enum F {
    static let cf: UInt32 = 0x0001, pf: UInt32 = 0x0004, af: UInt32 = 0x0010, zf: UInt32 = 0x0040
    static let sf: UInt32 = 0x0080, tf: UInt32 = 0x0100, `if`: UInt32 = 0x0200, df: UInt32 = 0x0400
    static let of: UInt32 = 0x0800, iopl: UInt32 = 0x3000, nt: UInt32 = 0x4000
    static let rf: UInt32 = 0x1_0000, vm: UInt32 = 0x2_0000, ac: UInt32 = 0x4_0000, id: UInt32 = 0x20_0000
    static let arith: UInt32 = cf | pf | af | zf | sf | of
}

/// Operand width in bytes (1, 2 or 4) with its mask and sign bit.
@inline(always) func maskOf(_ size: Int) -> UInt32 { size == 1 ? 0xFF : size == 2 ? 0xFFFF : 0xFFFF_FFFF }
@inline(always) func signOf(_ size: Int) -> UInt32 { size == 1 ? 0x80 : size == 2 ? 0x8000 : 0x8000_0000 }

/// Condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc) over the flags it tests, each
/// read only if needed: from FLAGS, or from a pending lazy result (LazyFlags.swift).
@inline(always) func conditionHolds(_ cc: Int, of: () -> Bool, cf: () -> Bool, zf: () -> Bool,
                                    sf: () -> Bool, pf: () -> Bool) -> Bool {
    let r: Bool
    switch cc >> 1 {
    case 0: r = of()
    case 1: r = cf()
    case 2: r = zf()
    case 3: r = cf() || zf()
    case 4: r = sf()
    case 5: r = pf()
    case 6: r = sf() != of()
    default: r = zf() || (sf() != of())
    }
    return cc & 1 == 0 ? r : !r
}

/// Even parity of the low byte, as PF reports it.
@inline(always) func parityFlag(_ v: UInt32) -> UInt32 {
    let x = (v ^ (v >> 4)) & 0xF
    return ((0x9669 >> x) & 1) << 2
}

extension CPU {
    /// Whether flag `f` is set; a flag outside the arithmetic ones needs no folding.
    @inline(always) func flag(_ f: UInt32) -> Bool {
        f & F.arith == 0 ? flagBits & f != 0 : flags & f != 0
    }

    @inline(always) func setFlag(_ f: UInt32, _ on: Bool) {
        if on { flags |= f } else { flags &= ~f }
    }

    /// SF, ZF and PF of a result of width `size`.
    @inline(always) func szp(_ r: UInt32, _ size: Int) -> UInt32 {
        let top = UInt32(truncatingIfNeeded: size &<< 3 &- 1)
        let sf = (r &>> top & 1) &<< 7
        return (r & maskOf(size) == 0 ? F.zf : 0) | sf | parityFlag(r)
    }

    /// Replaces the bits in `mask` with `value`.
    @inline(always) func putFlags(_ mask: UInt32, _ value: UInt32) {
        if mask & F.arith == F.arith {
            // Every arithmetic flag is replaced: nothing pending needs folding first.
            flagBits = (flagBits & ~mask) | value
            lazyOp = 0
        } else {
            flags = (flags & ~mask) | value
        }
    }

    /// Condition code test for Jcc/SETcc/CMOVcc (low nibble of the opcode).
    @inline(always) func condition(_ cc: Int) -> Bool {
        if lazyOp != 0 { return lazyCondition(cc) }
        let f = flagBits
        return conditionHolds(cc, of: { f & F.of != 0 }, cf: { f & F.cf != 0 }, zf: { f & F.zf != 0 },
                              sf: { f & F.sf != 0 }, pf: { f & F.pf != 0 })
    }

    /// Writes FLAGS from POPF/IRET-like sources, honouring the fixed and protected bits as
    /// seen from privilege level `privilege` (the current one unless IRET says otherwise).
    @inline(always) func loadFlags(_ v: UInt32, size: Int, privilege: Int? = nil) {
        let level = privilege ?? privilegeLevel
        var writable: UInt32 = F.arith | F.tf | F.df | F.of | F.if | F.nt | F.iopl
        if model == .i8086 { writable &= 0x0FFF }
        if size == 4 { writable |= F.ac | F.id | F.rf }
        if protectedMode {
            if level > 0 { writable &= ~F.iopl }
            if level > Int((flagBits & F.iopl) >> 12) { writable &= ~F.if }
        }
        if size == 2 { writable &= 0xFFFF }
        // Every arithmetic flag is writable, so pending ones need no folding first.
        flags = (flagBits & ~writable) | (v & writable) | 2
        if model == .i8086 { flags |= 0xF000 }
    }
}
