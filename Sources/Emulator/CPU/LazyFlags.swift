/// Lazy arithmetic flags. ADD/ADC/SUB/SBB/CMP/INC/DEC/NEG and the logic operations record
/// their operands and the wide result instead of computing CF, PF, AF, ZF, SF and OF; a
/// conditional jump then computes only the flags it tests, and anything else that reads
/// FLAGS folds the record into `flagBits` first (`materializeFlags`), with the same
/// formulas the eager code used. A logic result r is recorded as r + 0: CF, OF, AF clear.
///
/// `lazyOp`: 0 none, 1 add, 2 subtract. `lazyWide`: the result before masking (a + b + c
/// or a - b - c in 64 bits), so CF is bit `lazyBits`; INC/DEC store their kept CF there.
extension CPU {
    /// Records `a` op `b` = `wide` of `size` bytes; `subtract` selects the OF formula.
    @inline(always) func recordFlags(_ a: UInt32, _ b: UInt32, _ wide: UInt64, _ size: Int, subtract: Bool) {
        lazyOp = subtract ? 2 : 1
        lazyBits = UInt8(truncatingIfNeeded: size &<< 3)
        lazyA = a
        lazyB = b
        lazyWide = wide
    }

    /// Records a result whose CF and OF are given and AF is clear (shifts), as an addition
    /// with operands chosen to give exactly those flags: a ^ r is the sign bit when OF is
    /// set, b ^ r differs from it only in bit 4, and a ^ b ^ r has bit 4 clear.
    @inline(always) func recordResult(_ r: UInt32, cf: Bool, of: Bool, _ size: Int) {
        let o: UInt32 = of ? signOf(size) : 0
        recordFlags(r ^ o, r ^ o ^ (r & F.af), UInt64(r) | (cf ? 1 &<< UInt64(truncatingIfNeeded: size &<< 3) : 0), size, subtract: false)
    }

    /// The masked result of the pending operation.
    @inline(always) private var lazyResult: UInt32 {
        UInt32(truncatingIfNeeded: lazyWide & ((1 &<< UInt64(lazyBits)) &- 1))
    }

    @inline(always) private var lazyCF: Bool { (lazyWide &>> UInt64(lazyBits)) & 1 != 0 }
    @inline(always) private var lazyZF: Bool { lazyResult == 0 }
    @inline(always) private var lazySF: Bool { (lazyWide &>> UInt64(lazyBits &- 1)) & 1 != 0 }

    @inline(always) private var lazyOF: Bool {
        let r = lazyResult, a = lazyA, b = lazyB
        let x = lazyOp == 1 ? (a ^ r) & (b ^ r) : (a ^ b) & (a ^ r)
        return (x &>> UInt32(truncatingIfNeeded: lazyBits &- 1)) & 1 != 0
    }

    /// CF without folding the other flags (ADC, SBB, INC, DEC, rotates).
    @inline(always) var carryFlag: UInt32 {
        lazyOp != 0 ? UInt32(truncatingIfNeeded: (lazyWide &>> UInt64(lazyBits)) & 1) : flagBits & F.cf
    }

    /// Sets or clears CF, keeping the other flags pending: CF is the bit above the result.
    @inline(always) func setCarry(_ on: Bool) {
        if lazyOp != 0 {
            let bit: UInt64 = 1 &<< UInt64(lazyBits)
            lazyWide = on ? lazyWide | bit : lazyWide & ~bit
        } else {
            flagBits = on ? flagBits | F.cf : flagBits & ~F.cf
        }
    }

    /// A condition code evaluated on the pending operation (see `condition`).
    @inline(always) func lazyCondition(_ cc: Int) -> Bool {
        conditionHolds(cc, of: { lazyOF }, cf: { lazyCF }, zf: { lazyZF }, sf: { lazySF },
                       pf: { parityFlag(lazyResult) != 0 })
    }

    /// Folds the pending operation's flags into `flagBits`.
    @inline(never) func materializeFlags() {
        let r = lazyResult, a = lazyA, b = lazyB
        let top = UInt32(truncatingIfNeeded: lazyBits &- 1)
        let cf = UInt32(truncatingIfNeeded: (lazyWide &>> UInt64(lazyBits)) & 1)
        let x = lazyOp == 1 ? (a ^ r) & (b ^ r) : (a ^ b) & (a ^ r)
        let of = (x &>> top) & 1
        let sf = (r &>> top) & 1
        let zf: UInt32 = r == 0 ? F.zf : 0
        flagBits = (flagBits & ~F.arith) | cf | of &<< 11 | ((a ^ b ^ r) & F.af) | zf | sf &<< 7 | parityFlag(r)
        lazyOp = 0
    }
}
