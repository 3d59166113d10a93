/// Flag instructions: CLC/STC/CMC/CLI/STI/CLD/STD, LAHF/SAHF, PUSHF/POPF, SALC.
extension CPU {
    /// IOPL-sensitive in protected mode: CLI/STI need CPL <= IOPL.
    private var ioPrivileged: Bool {
        !protectedMode || cpl <= Int((flags & F.iopl) >> 12)
    }

    func flagOp(_ opcode: UInt8) {
        switch opcode {
        case 0xF5: flags ^= F.cf
        case 0xF8: flags &= ~F.cf
        case 0xF9: flags |= F.cf
        case 0xFA:
            guard ioPrivileged else { fault(13, errorCode: 0); return }
            flags &= ~F.if
        case 0xFB:
            guard ioPrivileged else { fault(13, errorCode: 0); return }
            if !flag(F.if) { interruptShadow = true }
            flags |= F.if
        case 0xFC: flags &= ~F.df
        default: flags |= F.df
        }
    }

    func lahf() { setReg(4, 1, flags & 0xD7 | 2) }

    func sahf() { putFlags(0xD5, getReg(4, 1) & 0xD5) }

    func pushFlags() {
        // VM and RF are never pushed.
        push(flags & (opSize32 ? 0x00FC_FFFF : 0xFFFF), opSize)
    }

    func popFlags() {
        let v = pop(opSize)
        let wasIF = flag(F.if)
        loadFlags(v, size: opSize)
        if !wasIF && flag(F.if) { interruptShadow = true }
    }

    /// SALC (D6, undocumented): AL = CF ? FF : 00.
    func salc() { setReg(Reg.ax, 1, flag(F.cf) ? 0xFF : 0) }
}
