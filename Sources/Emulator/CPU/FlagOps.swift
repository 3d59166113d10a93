/// Flag instructions: CLC/STC/CMC/CLI/STI/CLD/STD, LAHF/SAHF, PUSHF/POPF, SALC.
extension CPU {
    /// IOPL-sensitive in protected mode: CLI/STI need CPL <= IOPL.
    private var ioPrivileged: Bool {
        cr0 & 1 == 0 || privilegeLevel <= Int((flagBits & F.iopl) >> 12)
    }

    @inline(always) func flagOp(_ opcode: UInt8) {
        switch opcode {
        // CF alone goes into a pending lazy record; IF and DF are never pending.
        case 0xF5: setCarry(carryFlag == 0)
        case 0xF8: setCarry(false)
        case 0xF9: setCarry(true)
        case 0xFA:
            guard ioPrivileged else { fault(13, errorCode: 0); return }
            flagBits &= ~F.if
        case 0xFB:
            guard ioPrivileged else { fault(13, errorCode: 0); return }
            if !flag(F.if) { interruptShadow = true }
            flagBits |= F.if
        case 0xFC: flagBits &= ~F.df
        default: flagBits |= F.df
        }
    }

    func lahf() { setReg(4, 1, flags & 0xD7 | 2) }

    func sahf() { putFlags(0xD5, getReg(4, 1) & 0xD5) }

    @inline(always) func pushFlags() { pushFlags(size: opSize) }

    @inline(always) func pushFlags(size: Int) {
        // VM and RF are never pushed.
        push(flags & (size == 4 ? 0x00FC_FFFF : 0xFFFF), size)
    }

    @inline(always) func popFlags() { popFlags(size: opSize) }

    @inline(always) func popFlags(size: Int) {
        let v = pop(size)
        let wasIF = flag(F.if)
        loadFlags(v, size: size)
        if !wasIF && flag(F.if) { interruptShadow = true }
    }

    /// SALC (D6, undocumented): AL = CF ? FF : 00.
    func salc() { setReg(Reg.ax, 1, flag(F.cf) ? 0xFF : 0) }
}
