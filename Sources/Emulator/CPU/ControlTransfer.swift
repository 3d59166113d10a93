/// Jumps, calls, returns, loops, INT/INTO/IRET and exception delivery.
extension CPU {
    @inline(__always) func jumpRelative(_ disp: UInt32) {
        eip = (eip &+ disp) & (opSize32 ? 0xFFFF_FFFF : 0xFFFF)
    }

    /// Jcc rel8 (70-7F, and 60-6F on the 8086).
    @inline(__always) func jccShort(_ cc: Int) {
        let d = UInt32(bitPattern: Int32(Int8(bitPattern: fetch8())))
        if condition(cc) { jumpRelative(d) }
    }

    /// Jcc rel16/32 (0F 80-8F).
    func jccNear(_ cc: Int) {
        let d = opSize32 ? fetch32() : UInt32(bitPattern: Int32(Int16(bitPattern: fetch16())))
        if condition(cc) { jumpRelative(d) }
    }

    /// LOOPNE, LOOPE, LOOP, JCXZ (E0-E3). The counter is CX or ECX by address size.
    @inline(always) func loop(_ opcode: UInt8) {
        let d = UInt32(bitPattern: Int32(Int8(bitPattern: fetch8())))
        if loopTaken(opcode, countMask: adSize32 ? 0xFFFF_FFFF : 0xFFFF) { jumpRelative(d) }
    }

    /// LOOPNE/LOOPE/LOOP (E0-E2) count CX or ECX (`countMask`) down; whether the branch
    /// of those or of JCXZ/JECXZ (E3) is taken.
    @inline(always) func loopTaken(_ opcode: UInt8, countMask mask: UInt32) -> Bool {
        var count = regs[Reg.cx] & mask
        if opcode == 0xE3 { return count == 0 }
        count = (count &- 1) & mask
        regs[Reg.cx] = (regs[Reg.cx] & ~mask) | count
        switch opcode {
        case 0xE0: return count != 0 && !flag(F.zf)
        case 0xE1: return count != 0 && flag(F.zf)
        default: return count != 0
        }
    }

    @inline(always) func callRelative() {
        let d = opSize32 ? fetch32() : UInt32(fetch16())
        push(eip, opSize)
        jumpRelative(d)
    }

    func jumpNearRelative() {
        let d = opSize32 ? fetch32() : UInt32(fetch16())
        jumpRelative(d)
    }

    @inline(always) func returnNear(popBytes: UInt32) {
        eip = pop(opSize)
        releaseStack(popBytes)
    }

    /// Drops `bytes` of parameters from the stack (RET n).
    @inline(__always) func releaseStack(_ bytes: UInt32) {
        if stackBig { regs[Reg.sp] &+= bytes } else { setReg(Reg.sp, 2, (regs[Reg.sp] &+ bytes) & 0xFFFF) }
    }

    /// JMP/CALL far to selector:offset, real or protected mode.
    func farTransfer(selector: UInt16, offset: UInt32, call: Bool) {
        let oldCS = UInt32(segSel[Seg.cs]), oldEIP = eip
        if protectedMode {
            guard loadCodeSegment(selector) else { return }
        } else {
            setSegmentReal(Seg.cs, selector)
        }
        if call {
            push(oldCS, opSize)
            push(oldEIP, opSize)
        }
        eip = opSize32 ? offset : offset & 0xFFFF
    }

    func returnFar(popBytes: UInt32) {
        let size = opSize
        let offset = pop(size)
        let sel = UInt16(truncatingIfNeeded: pop(size))
        guard protectedMode else {
            setSegmentReal(Seg.cs, sel)
            eip = offset & (size == 4 ? 0xFFFF_FFFF : 0xFFFF)
            releaseStack(popBytes)
            return
        }
        let outer = Int(sel & 3) > cpl
        releaseStack(popBytes)
        // Returning to an outer ring: the caller's SS:ESP follows the parameters.
        let newESP = outer ? pop(size) : 0
        let newSS = outer ? UInt16(truncatingIfNeeded: pop(size)) : 0
        guard loadCodeSegment(sel) else { return }
        if outer {
            guard loadSegment(Seg.ss, newSS) else { return }
            setReg(Reg.sp, stackBig ? 4 : 2, newESP)
        }
        eip = offset & (size == 4 ? 0xFFFF_FFFF : 0xFFFF)
    }

    func iret() {
        let size = opSize
        let offset = pop(size)
        let sel = UInt16(truncatingIfNeeded: pop(size))
        let image = pop(size)
        guard protectedMode else {
            setSegmentReal(Seg.cs, sel)
            eip = offset & (size == 4 ? 0xFFFF_FFFF : 0xFFFF)
            loadFlags(image, size: size)
            return
        }
        if flags & F.nt != 0 { halt(.unsupported("IRET with NT set (task return) at \(locationDescription)")); return }
        if image & F.vm != 0 && size == 4 { halt(.unsupported("IRET to virtual-8086 mode at \(locationDescription)")); return }
        let outer = Int(sel & 3) > cpl
        let newESP = outer ? pop(size) : 0
        let newSS = outer ? UInt16(truncatingIfNeeded: pop(size)) : 0
        // Which flags IRET may change depends on the privilege it returns from.
        let fromCPL = cpl
        guard loadCodeSegment(sel) else { return }
        eip = offset & (size == 4 ? 0xFFFF_FFFF : 0xFFFF)
        loadFlags(image, size: size, privilege: fromCPL)
        if outer {
            guard loadSegment(Seg.ss, newSS) else { return }
            setReg(Reg.sp, stackBig ? 4 : 2, newESP)
        }
    }

    /// Delivers interrupt `vector`. Software interrupts and traps return to `eip`;
    /// faults have already rewound `eip` to the faulting instruction.
    func interrupt(_ vector: Int, software: Bool, errorCode: UInt32? = nil) {
        halted = false
        if !protectedMode {
            let table = idtBase &+ UInt32(vector * 4)
            if UInt32(vector * 4 + 3) > idtLimit { escalate(vector); return }
            let newIP = mem.read16(table), newCS = mem.read16(table &+ 2)
            push(flags & 0xFFFF, 2)
            push(UInt32(segSel[Seg.cs]), 2)
            push(eip & 0xFFFF, 2)
            flags &= ~(F.if | F.tf | F.ac)
            setSegmentReal(Seg.cs, newCS)
            eip = UInt32(newIP)
            return
        }
        protectedModeInterrupt(vector, software: software, errorCode: errorCode)
    }

    /// Raises a fault: the saved EIP points at the faulting instruction.
    func fault(_ vector: Int, errorCode: UInt32? = nil) {
        eip = startEIP
        deliverException(vector, errorCode: errorCode)
    }

    private func deliverException(_ vector: Int, errorCode: UInt32?) {
        faultDepth += 1
        if faultDepth >= 3 {
            halt(.tripleFault("triple fault (exception \(vector)) at \(locationDescription)"))
            return
        }
        interrupt(vector, software: false, errorCode: errorCode)
    }

    /// Delivery of `vector` failed: that becomes a double fault, then a triple fault.
    func escalate(_ vector: Int) {
        if faultDepth >= 2 {
            halt(.tripleFault("triple fault (cannot deliver exception \(vector)) at \(locationDescription)"))
        } else {
            deliverException(8, errorCode: 0)
        }
    }

    /// INT n, INT3, INTO.
    func softwareInterrupt(_ vector: Int) {
        interrupt(vector, software: true)
    }
}
