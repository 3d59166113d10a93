/// Stack pushes and pops (SS:SP or SS:ESP by SS.B) and the stack instructions.
extension CPU {
    @inline(always) func push(_ v: UInt32, _ size: Int) {
        if stackBig {
            regs[Reg.sp] = regs[Reg.sp] &- UInt32(truncatingIfNeeded: size)
            writeStack(regs[Reg.sp], size, v)
        } else {
            let sp = (regs[Reg.sp] &- UInt32(truncatingIfNeeded: size)) & 0xFFFF
            regs[Reg.sp] = (regs[Reg.sp] & 0xFFFF_0000) | sp
            writeStack(sp, size, v)
        }
    }

    @inline(always) func pop(_ size: Int) -> UInt32 {
        if stackBig {
            let v = readStack(regs[Reg.sp], size)
            regs[Reg.sp] = regs[Reg.sp] &+ UInt32(truncatingIfNeeded: size)
            return v
        }
        let sp = regs[Reg.sp] & 0xFFFF
        let v = readStack(sp, size)
        regs[Reg.sp] = (regs[Reg.sp] & 0xFFFF_0000) | ((sp &+ UInt32(truncatingIfNeeded: size)) & 0xFFFF)
        return v
    }

    /// Stack accesses wrap at 64 KiB when SS is a 16-bit segment, whatever the address size.
    @inline(always) func readStack(_ off: UInt32, _ size: Int) -> UInt32 {
        read(Seg.ss, off, size, wide: stackBig)
    }

    @inline(always) func writeStack(_ off: UInt32, _ size: Int, _ v: UInt32) {
        write(Seg.ss, off, size, v, wide: stackBig)
    }

    var stackPointer: UInt32 { stackBig ? regs[Reg.sp] : regs[Reg.sp] & 0xFFFF }

    @inline(always) func pushReg(_ r: Int) {
        // The 8086 pushes SP after decrementing it; the 286 and later push the old value.
        if r == Reg.sp && model == .i8086 {
            let v = (regs[Reg.sp] &- 2) & 0xFFFF
            push(v, 2)
        } else {
            push(getReg(r, opSize), opSize)
        }
    }

    @inline(always) func popReg(_ r: Int) {
        let v = pop(opSize)
        setReg(r, opSize, v)
    }

    func pushAll() {
        let sp = getReg(Reg.sp, opSize)
        for r in 0..<8 { push(r == Reg.sp ? sp : getReg(r, opSize), opSize) }
    }

    func popAll() {
        for r in (0..<8).reversed() {
            let v = pop(opSize)
            if r != Reg.sp { setReg(r, opSize, v) }
        }
    }

    /// POP r/m (8F /0). The address is computed after SP is incremented.
    func popRM() {
        let v = pop(opSize)
        let savedSP = regs[Reg.sp]
        decodeModRM()
        regs[Reg.sp] = savedSP
        writeRM(opSize, v)
    }

    func enter() {
        let frame = UInt32(fetch16())
        let level = Int(fetch8() & 31)
        let sz = opSize
        push(getReg(Reg.bp, sz), sz)
        let frameTemp = stackPointer
        if level > 0 {
            var bp = stackBig ? regs[Reg.bp] : regs[Reg.bp] & 0xFFFF
            for _ in 1..<level {
                bp = stackBig ? bp &- UInt32(sz) : (bp &- UInt32(sz)) & 0xFFFF
                push(readStack(bp, sz), sz)
            }
            push(frameTemp, sz)
        }
        setReg(Reg.bp, sz, frameTemp)
        if stackBig { regs[Reg.sp] = regs[Reg.sp] &- frame } else { setReg(Reg.sp, 2, (regs[Reg.sp] &- frame) & 0xFFFF) }
    }

    func leave() {
        if stackBig { regs[Reg.sp] = regs[Reg.bp] } else { setReg(Reg.sp, 2, regs[Reg.bp]) }
        setReg(Reg.bp, opSize, pop(opSize))
    }

    func pushSeg(_ s: Int) { push(UInt32(segSel[s]), opSize) }

    func popSeg(_ s: Int) {
        let v = UInt16(truncatingIfNeeded: pop(opSize))
        loadSegment(s, v)
        if s == Seg.ss { interruptShadow = true }
    }
}
