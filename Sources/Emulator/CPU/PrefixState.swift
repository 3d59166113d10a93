/// Operand size, address size, segment override and REP of the instruction being run,
/// packed in one word so the run loop sets all four with a single copy from the decode
/// (which holds them with the code segment's defaults already applied).
/// Bits 0/1: 32-bit operand/address size; byte 1: segment override (-1 none); byte 2: REP.
struct PrefixState {
    var word: UInt32 = 0xFF00

    static func defaults(codeBig: Bool) -> PrefixState {
        PrefixState(word: (codeBig ? 3 : 0) | 0xFF00)
    }
}

extension CPU {
    @inline(always) var opSize32: Bool {
        get { prefixes.word & 1 != 0 }
        set { prefixes.word = newValue ? prefixes.word | 1 : prefixes.word & ~1 }
    }

    @inline(always) var adSize32: Bool {
        get { prefixes.word & 2 != 0 }
        set { prefixes.word = newValue ? prefixes.word | 2 : prefixes.word & ~2 }
    }

    /// The segment named by a prefix, or -1.
    @inline(always) var segOverride: Int {
        get { Int(Int8(truncatingIfNeeded: prefixes.word >> 8)) }
        set { prefixes.word = prefixes.word & ~0xFF00 | UInt32(UInt8(truncatingIfNeeded: newValue)) << 8 }
    }

    /// F2 or F3, or 0.
    @inline(always) var repPrefix: UInt8 {
        get { UInt8(truncatingIfNeeded: prefixes.word >> 16) }
        set { prefixes.word = prefixes.word & ~0xFF_0000 | UInt32(newValue) << 16 }
    }
}
