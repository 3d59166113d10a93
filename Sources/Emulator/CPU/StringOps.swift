/// MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS with REP/REPE/REPNE. A repeated instruction
/// runs to completion in one step.
extension CPU {
    @inline(__always) private var indexMask: UInt32 { adSize32 ? 0xFFFF_FFFF : 0xFFFF }

    @inline(__always) private func index(_ r: Int) -> UInt32 { regs[r] & indexMask }

    @inline(__always) private func advance(_ r: Int, _ delta: UInt32) {
        if adSize32 { regs[r] = regs[r] &+ delta } else { setReg(r, 2, (regs[r] &+ delta) & 0xFFFF) }
    }

    /// One element inline; a repeated instruction out of line.
    @inline(always) func stringOp(_ opcode: UInt8) {
        if repPrefix != 0 { return repeatedStringOp(opcode) }
        let size = opcode & 1 == 0 ? 1 : opSize
        stringStep(opcode, size, flag(F.df) ? UInt32(bitPattern: Int32(-size)) : UInt32(size))
    }

    func repeatedStringOp(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        let delta = flag(F.df) ? UInt32(bitPattern: Int32(-size)) : UInt32(size)
        let compares = opcode == 0xA6 || opcode == 0xA7 || opcode == 0xAE || opcode == 0xAF
        if opcode & 0xFE == 0xA4 || opcode & 0xFE == 0xAA, repeatedMoveOrStoreInBulk(opcode, size) { return }
        while regs[Reg.cx] & indexMask != 0 {
            stringStep(opcode, size, delta)
            if adSize32 { regs[Reg.cx] &-= 1 } else { setReg(Reg.cx, 2, (regs[Reg.cx] &- 1) & 0xFFFF) }
            // condition(4): ZF, read from a pending CMPS/SCAS without folding the rest.
            if compares && condition(4) != (repPrefix == 0xF3) { break }
            if stop != nil { break }
        }
    }

    @inline(__always) private func stringStep(_ opcode: UInt8, _ size: Int, _ delta: UInt32) {
        switch opcode {
        case 0xA4, 0xA5: // MOVS
            write(Seg.es, index(Reg.di), size, read(dataSeg, index(Reg.si), size))
            advance(Reg.si, delta); advance(Reg.di, delta)
        case 0xA6, 0xA7: // CMPS
            _ = sub(read(dataSeg, index(Reg.si), size), read(Seg.es, index(Reg.di), size), 0, size)
            advance(Reg.si, delta); advance(Reg.di, delta)
        case 0xAA, 0xAB: // STOS
            write(Seg.es, index(Reg.di), size, getReg(Reg.ax, size))
            advance(Reg.di, delta)
        case 0xAC, 0xAD: // LODS
            setReg(Reg.ax, size, read(dataSeg, index(Reg.si), size))
            advance(Reg.si, delta)
        case 0xAE, 0xAF: // SCAS
            _ = sub(getReg(Reg.ax, size), read(Seg.es, index(Reg.di), size), 0, size)
            advance(Reg.di, delta)
        case 0x6C, 0x6D: // INS
            let v = io.read(UInt16(truncatingIfNeeded: regs[Reg.dx]), size: size)
            write(Seg.es, index(Reg.di), size, v)
            advance(Reg.di, delta)
        default: // OUTS
            io.write(UInt16(truncatingIfNeeded: regs[Reg.dx]), size: size, value: read(dataSeg, index(Reg.si), size))
            advance(Reg.si, delta)
        }
    }
}
