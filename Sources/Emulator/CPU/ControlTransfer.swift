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
    func loop(_ opcode: UInt8) {
        let d = UInt32(bitPattern: Int32(Int8(bitPattern: fetch8())))
        let mask: UInt32 = adSize32 ? 0xFFFF_FFFF : 0xFFFF
        var count = regs[Reg.cx] & mask
        let take: Bool
        if opcode == 0xE3 {
            take = count == 0
        } else {
            count = (count &- 1) & mask
            regs[Reg.cx] = (regs[Reg.cx] & ~mask) | count
            switch opcode {
            case 0xE0: take = count != 0 && !flag(F.zf)
            case 0xE1: take = count != 0 && flag(F.zf)
            default: take = count != 0
            }
        }
        if take { jumpRelative(d) }
    }

    func callRelative() {
        let d = opSize32 ? fetch32() : UInt32(fetch16())
        push(eip, opSize)
        jumpRelative(d)
    }

    func jumpNearRelative() {
        let d = opSize32 ? fetch32() : UInt32(fetch16())
        jumpRelative(d)
    }

    func returnNear(popBytes: UInt32) {
        let target = pop(opSize)
        eip = target
        if stackBig { regs[Reg.sp] &+= popBytes } else { setReg(Reg.sp, 2, (regs[Reg.sp] &+ popBytes) & 0xFFFF) }
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
        if protectedMode && Int(sel & 3) > cpl {
            // Return to an outer ring: the caller's SS:ESP follows the parameters.
            let oldCPLStackAdjust = popBytes
            if stackBig { regs[Reg.sp] &+= oldCPLStackAdjust } else { setReg(Reg.sp, 2, (regs[Reg.sp] &+ oldCPLStackAdjust) & 0xFFFF) }
            let newESP = pop(size), newSS = UInt16(truncatingIfNeeded: pop(size))
            guard loadCodeSegment(sel) else { return }
            guard loadSegment(Seg.ss, newSS) else { return }
            setReg(Reg.sp, stackBig ? 4 : 2, newESP)
            eip = offset
            return
        }
        if protectedMode { guard loadCodeSegment(sel) else { return } } else { setSegmentReal(Seg.cs, sel) }
        eip = size == 4 ? offset : offset & 0xFFFF
        if stackBig { regs[Reg.sp] &+= popBytes } else { setReg(Reg.sp, 2, (regs[Reg.sp] &+ popBytes) & 0xFFFF) }
    }

    func iret() {
        let size = opSize
        if protectedMode {
            if flags & F.nt != 0 { halt(.unsupported("IRET with NT set (task return) at \(locationDescription)")); return }
            let offset = pop(size)
            let sel = UInt16(truncatingIfNeeded: pop(size))
            let fl = pop(size)
            if fl & F.vm != 0 && size == 4 { halt(.unsupported("IRET to virtual-8086 mode at \(locationDescription)")); return }
            let outer = Int(sel & 3) > cpl
            var newESP: UInt32 = 0, newSS: UInt16 = 0
            if outer { newESP = pop(size); newSS = UInt16(truncatingIfNeeded: pop(size)) }
            let oldCPL = cpl
            guard loadCodeSegment(sel) else { return }
            eip = size == 4 ? offset : offset & 0xFFFF
            // Privileged bits follow the rules of the ring we return from.
            let keepCPL = sel & 3
            segSel[Seg.cs] = (segSel[Seg.cs] & ~3) | UInt16(oldCPL)
            loadFlags(fl, size: size)
            segSel[Seg.cs] = (segSel[Seg.cs] & ~3) | keepCPL
            if outer {
                guard loadSegment(Seg.ss, newSS) else { return }
                setReg(Reg.sp, stackBig ? 4 : 2, newESP)
            }
            return
        }
        let offset = pop(size)
        let sel = UInt16(truncatingIfNeeded: pop(size))
        let fl = pop(size)
        setSegmentReal(Seg.cs, sel)
        eip = size == 4 ? offset : offset & 0xFFFF
        loadFlags(fl, size: size)
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
