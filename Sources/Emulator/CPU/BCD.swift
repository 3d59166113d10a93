/// Decimal adjust instructions: DAA, DAS, AAA, AAS, AAM, AAD.
extension CPU {
    func daa() {
        let al = getReg(Reg.ax, 1)
        let oldCF = flag(F.cf)
        var r = al, cf = false, af = false
        if al & 0xF > 9 || flag(F.af) {
            r = (r + 6) & 0xFF
            cf = oldCF || al + 6 > 0xFF
            af = true
        }
        if al > (af && model == .i8086 ? 0x9F : 0x99) || oldCF {
            r = (r + 0x60) & 0xFF
            cf = true
        }
        setReg(Reg.ax, 1, r)
        putFlags(F.arith & ~F.of, (cf ? F.cf : 0) | (af ? F.af : 0) | szp(r, 1))
    }

    func das() {
        let al = getReg(Reg.ax, 1)
        let oldCF = flag(F.cf)
        var r = al, cf = false, af = false
        if al & 0xF > 9 || flag(F.af) {
            r = (r &- 6) & 0xFF
            cf = oldCF || al < 6
            af = true
        }
        if al > (af && model == .i8086 ? 0x9F : 0x99) || oldCF {
            r = (r &- 0x60) & 0xFF
            cf = true
        }
        setReg(Reg.ax, 1, r)
        putFlags(F.arith & ~F.of, (cf ? F.cf : 0) | (af ? F.af : 0) | szp(r, 1))
    }

    /// AAA/AAS: the 8086 adjusts AL alone; the 286 and later adjust AX as a whole.
    func asciiAdjust(subtract: Bool) {
        let al = getReg(Reg.ax, 1), ah = getReg(Reg.ax + 4, 1)
        if al & 0xF > 9 || flag(F.af) {
            if model == .i8086 {
                setReg(Reg.ax, 1, (subtract ? al &- 6 : al &+ 6) & 0x0F)
                setReg(4, 1, (subtract ? ah &- 1 : ah &+ 1) & 0xFF)
            } else {
                let ax = getReg(Reg.ax, 2)
                let n = subtract ? ax &- 6 &- 0x100 : ax &+ 0x106
                setReg(Reg.ax, 2, n & 0xFF0F)
            }
            putFlags(F.cf | F.af, F.cf | F.af)
        } else {
            setReg(Reg.ax, 1, al & 0x0F)
            putFlags(F.cf | F.af, 0)
        }
    }

    func aam() {
        let base = UInt32(fetch8())
        if base == 0 { divideError(); return }
        let al = getReg(Reg.ax, 1)
        let r = al % base
        setReg(Reg.ax, 2, (al / base) << 8 | r)
        putFlags(F.arith, szp(r, 1))
    }

    func aad() {
        let base = UInt32(fetch8())
        let al = getReg(Reg.ax, 1), ah = getReg(4, 1)
        // Flags come from the final addition, as on the 8086.
        let r = add(al, (ah * base) & 0xFF, 0, 1)
        setReg(Reg.ax, 2, r)
    }
}
