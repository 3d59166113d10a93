/// Running compiled blocks (32-bit code): the micro-ops of a block run back to back with
/// no per-instruction decode lookup, EIP or budget update. That is exact because a
/// specialized micro-op cannot fault (the block only runs when none of the segments it
/// reaches has a limit to check; see `runCompiled`'s caller), reads neither EIP nor the
/// instruction count, and touches no device. `generic` micro-ops run through `execute`
/// with EIP, the instruction count and the decode state set as the interpreter loop
/// sets them.
extension CPU {
    /// Runs the block of `header` (tag `key`, starting at EIP) until it ends, a branch is
    /// taken, an instruction needs attention or moved EIP anywhere but the next one, or a
    /// store wrote over the block. The caller checked that the budget covers the block.
    @inline(never) func runCompiled(_ firstHeader: UnsafeMutablePointer<BlockHeader>, _ firstKey: UInt64) {
        var header = firstHeader, key = firstKey
        var base = eip
        var ops = blockOps.unsafelyUnwrapped + Int(header.pointee.first)
        // The budget left before the block's first micro-op: the budget before micro-op i
        // is startRemaining - i (a branch within the block moves it, see `branchWithin`).
        var startRemaining = runRemaining
        var m = ops
        blocks: while true {
        // A block with host code starts there; the runner goes on where it returns.
        if m == ops {
            let code = blockHostCode.unsafelyUnwrapped[Int(header.pointee.first)]
            if code > HostCodeArena.none {
                m = ops + runHostCode(code, &startRemaining)
            } else if code < HostCodeArena.compileAfter {
                warmUpHostCode(header)
            }
        }
        ops: while true {
            // Fields are read where used: copying the whole micro-op first cost ten loads.
            let a = Int(m.pointee.a)
            switch m.pointee.kind {
            case .generic:
                let i = ops.distance(to: m)
                runRemaining = startRemaining &- UInt64(i)
                if !runGeneric(blockDecodes.unsafelyUnwrapped + Int(header.pointee.first) + i, base, header, key) { return }
            case .moveRegisters: regs[a] = regs[Int(m.pointee.b)]
            case .load: regs[a] = read(Int(m.pointee.segment), address(m), 4, wide: true)
            case .store:
                write(Int(m.pointee.segment), address(m), 4, regs[a], wide: true)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .loadByte: setReg(a, 1, read(Int(m.pointee.segment), address(m), 1, wide: true))
            case .storeByte:
                write(Int(m.pointee.segment), address(m), 1, getReg(a, 1), wide: true)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .moveImmediateToRegister: regs[a] = m.pointee.immediate
            case .moveImmediateToMemory:
                write(Int(m.pointee.segment), address(m), 4, m.pointee.immediate, wide: true)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .aluRegisters:
                let operation = Int(m.pointee.operation)
                let r = alu(operation, regs[a], regs[Int(m.pointee.b)], 4)
                if operation != 7 { regs[a] = r }
            case .aluLoad:
                let operation = Int(m.pointee.operation)
                let r = alu(operation, regs[a], read(Int(m.pointee.segment), address(m), 4, wide: true), 4)
                if operation != 7 { regs[a] = r }
            case .aluStore:
                let operation = Int(m.pointee.operation), seg = Int(m.pointee.segment), off = address(m)
                let r = alu(operation, read(seg, off, 4, wide: true), regs[a], 4)
                if operation != 7 {
                    write(seg, off, 4, r, wide: true)
                    if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
                }
            case .aluImmediateRegister:
                let operation = Int(m.pointee.operation)
                let r = alu(operation, regs[a], m.pointee.immediate, 4)
                if operation != 7 { regs[a] = r }
            case .aluImmediateMemory:
                let operation = Int(m.pointee.operation), seg = Int(m.pointee.segment), off = address(m)
                let r = alu(operation, read(seg, off, 4, wide: true), m.pointee.immediate, 4)
                if operation != 7 {
                    write(seg, off, 4, r, wide: true)
                    if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
                }
            case .testRegisters: _ = logicResult(regs[Int(m.pointee.b)] & regs[a], 4)
            case .testMemory: _ = logicResult(read(Int(m.pointee.segment), address(m), 4, wide: true) & regs[a], 4)
            case .shiftRegister: regs[a] = shiftRotate(Int(m.pointee.operation), regs[a], m.pointee.immediate, 4)
            case .loadAddress: regs[a] = address(m)
            case .extendRegister: regs[a] = extend(getReg(Int(m.pointee.b), m.pointee.operation & 1 == 0 ? 1 : 2), m.pointee.operation)
            case .extendMemory:
                let size = m.pointee.operation & 1 == 0 ? 1 : 2
                regs[a] = extend(read(Int(m.pointee.segment), address(m), size, wide: true), m.pointee.operation)
            case .push:
                push(regs[a], 4)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .pop: regs[a] = pop(4)
            case .increment: regs[a] = incdec(regs[a], false, 4)
            case .decrement: regs[a] = incdec(regs[a], true, 4)
            case .incrementMemory, .decrementMemory:
                let seg = Int(m.pointee.segment), off = address(m)
                write(seg, off, 4, incdec(read(seg, off, 4, wide: true), m.pointee.kind == .decrementMemory, 4), wide: true)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .doubleShiftRegister:
                let b = Int(m.pointee.b)
                if let r = doubleShifted(left: m.pointee.operation != 0, regs[b], regs[a], count: m.pointee.immediate, 4) {
                    regs[b] = r
                }
            case .doubleShiftMemory:
                let seg = Int(m.pointee.segment), off = address(m)
                if let r = doubleShifted(left: m.pointee.operation != 0, read(seg, off, 4, wide: true), regs[a],
                                         count: m.pointee.immediate, 4) {
                    write(seg, off, 4, r, wide: true)
                    if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
                }
            case .shiftMemory:
                let seg = Int(m.pointee.segment), off = address(m)
                write(seg, off, 4, shiftRotate(Int(m.pointee.operation), read(seg, off, 4, wide: true), m.pointee.immediate, 4), wide: true)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .multiplyRegister: multiplyInline(regs[a], 4, signed: false)
            case .multiplyMemory: multiplyInline(read(Int(m.pointee.segment), address(m), 4, wide: true), 4, signed: false)
            case .flagOperation: flagOp(m.pointee.operation)
            case .pushFlags:
                pushFlags(size: 4)
                if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
            case .popFlags: popFlags(size: 4)
            case .aluImmediateByteRegister:
                let operation = Int(m.pointee.operation)
                let r = alu(operation, getReg(a, 1), m.pointee.immediate, 1)
                if operation != 7 { setReg(a, 1, r) }
            case .aluImmediateByteMemory:
                let operation = Int(m.pointee.operation), seg = Int(m.pointee.segment), off = address(m)
                let r = alu(operation, read(seg, off, 1, wide: true), m.pointee.immediate, 1)
                if operation != 7 {
                    write(seg, off, 1, r, wide: true)
                    if header.pointee.tag != key { return leave(after: m, ops, base, startRemaining) }
                }
            case .testImmediate: _ = logicResult(regs[a] & m.pointee.immediate, 4)
            case .testImmediateByte: _ = logicResult(getReg(a, 1) & m.pointee.immediate, 1)
            case .testRegistersByte: _ = logicResult(getReg(Int(m.pointee.b), 1) & getReg(a, 1), 1)
            case .testMemoryByte: _ = logicResult(read(Int(m.pointee.segment), address(m), 1, wide: true) & getReg(a, 1), 1)
            case .moveImmediateByte: setReg(a, 1, m.pointee.immediate)
            case .loop:
                if loopTaken(m.pointee.operation, countMask: 0xFFFF_FFFF) {
                    runRemaining = remaining(after: m, ops, startRemaining)
                    eip = base &+ UInt32(m.pointee.end) &+ m.pointee.immediate
                    break ops
                }
            case .jcc:
                if condition(Int(m.pointee.operation)) {
                    runRemaining = remaining(after: m, ops, startRemaining)
                    eip = base &+ UInt32(m.pointee.end) &+ m.pointee.immediate
                    break ops
                }
            case .loopWithin:
                if loopTaken(m.pointee.operation, countMask: 0xFFFF_FFFF) {
                    if let target = branchWithin(m, ops, header, &startRemaining) { m = target; continue blocks }
                    runRemaining = remaining(after: m, ops, startRemaining)
                    eip = base &+ UInt32(m.pointee.end) &+ m.pointee.immediate
                    break ops
                }
            case .jccWithin:
                if condition(Int(m.pointee.operation)) {
                    if let target = branchWithin(m, ops, header, &startRemaining) { m = target; continue blocks }
                    runRemaining = remaining(after: m, ops, startRemaining)
                    eip = base &+ UInt32(m.pointee.end) &+ m.pointee.immediate
                    break ops
                }
            case .jumpWithin:
                if let target = branchWithin(m, ops, header, &startRemaining) { m = target; continue blocks }
                runRemaining = remaining(after: m, ops, startRemaining)
                eip = base &+ UInt32(m.pointee.end) &+ m.pointee.immediate
                break ops
            case .jump:
                runRemaining = remaining(after: m, ops, startRemaining)
                eip = base &+ UInt32(m.pointee.end) &+ m.pointee.immediate
                break ops
            case .call:
                runRemaining = remaining(after: m, ops, startRemaining)
                let next = base &+ UInt32(m.pointee.end)
                push(next, 4)
                eip = next &+ m.pointee.immediate
                break ops
            case .returnNear:
                runRemaining = remaining(after: m, ops, startRemaining)
                eip = pop(4)
                break ops
            case .blockEnd:
                runRemaining = startRemaining &- UInt64(ops.distance(to: m))
                eip = base &+ UInt32(m.pointee.end)
                break ops
            }
            m += 1
        }
        // The block ended at its last instruction or a branch: go on with the block at the
        // new EIP when it is compiled already and fits the budget, without returning to
        // the run loop's lookup.
        let nextKey = codeKey &+ UInt64(eip)
        let next = blockHeader(nextKey)
        guard next.pointee.tag == nextKey, canRun(next) else { return }
        header = next
        key = nextKey
        base = eip
        ops = blockOps.unsafelyUnwrapped + Int(header.pointee.first)
        startRemaining = runRemaining
        m = ops
        }
    }

    /// Runs a block's host code from its start with the lazy flag record, FLAGS and the
    /// budget passed through the frame; the index of the micro-op to go on with.
    @inline(never) private func runHostCode(_ offset: UInt32, _ startRemaining: inout UInt64) -> Int {
        let f = hostFrame
        f.pointee.lazyWide = lazyWide
        f.pointee.lazyA = lazyA
        f.pointee.lazyB = lazyB
        f.pointee.lazyOp = lazyOp
        f.pointee.lazyBits = lazyBits
        f.pointee.flagBits = flagBits
        f.pointee.startRemaining = startRemaining
        let index = hostArena.unsafelyUnwrapped.function(at: offset)(UnsafeMutableRawPointer(f))
        lazyWide = f.pointee.lazyWide
        lazyA = f.pointee.lazyA
        lazyB = f.pointee.lazyB
        lazyOp = f.pointee.lazyOp
        lazyBits = f.pointee.lazyBits
        flagBits = f.pointee.flagBits
        startRemaining = f.pointee.startRemaining
        return index
    }

    /// Where the header of the block whose first instruction has tag `key` would be.
    @inline(__always) func blockHeader(_ key: UInt64) -> UnsafeMutablePointer<BlockHeader> {
        blockHeaders.unsafelyUnwrapped + Int(truncatingIfNeeded: key & UInt64(BlockCache.headerCount - 1))
    }

    /// Whether the block may run now: the budget covers it and none of the segments it
    /// reaches has a limit to check.
    @inline(__always) func canRun(_ header: UnsafeMutablePointer<BlockHeader>) -> Bool {
        UInt64(header.pointee.count) <= runRemaining && limitCheckMask & header.pointee.reachableSegments == 0
    }

    /// The micro-op a taken branch at `m` goes to within its block, with `startRemaining`
    /// moved so the budget stays exact; nil (leave the block) when the budget left does not
    /// cover the rest of the block from there.
    @inline(__always) private func branchWithin(_ m: UnsafeMutablePointer<MicroOp>, _ ops: UnsafeMutablePointer<MicroOp>,
                                                _ header: UnsafeMutablePointer<BlockHeader>,
                                                _ startRemaining: inout UInt64) -> UnsafeMutablePointer<MicroOp>? {
        let left = remaining(after: m, ops, startRemaining), target = Int(m.pointee.b)
        guard left >= UInt64(Int(header.pointee.count) &- target) else { return nil }
        startRemaining = left &+ UInt64(target)
        return ops + target
    }

    /// The budget left after the micro-op at `m` of the block whose first micro-op is `ops`.
    @inline(__always) private func remaining(after m: UnsafeMutablePointer<MicroOp>, _ ops: UnsafeMutablePointer<MicroOp>,
                                             _ startRemaining: UInt64) -> UInt64 {
        startRemaining &- UInt64(ops.distance(to: m) &+ 1)
    }

    /// Leaves the block after the micro-op at `m`, with EIP at the next instruction.
    @inline(__always) private func leave(after m: UnsafeMutablePointer<MicroOp>, _ ops: UnsafeMutablePointer<MicroOp>,
                                         _ base: UInt32, _ startRemaining: UInt64) {
        runRemaining = remaining(after: m, ops, startRemaining)
        eip = base &+ UInt32(m.pointee.end)
    }

    /// base + index << scale + displacement (32-bit addressing).
    @inline(__always) private func address(_ m: UnsafeMutablePointer<MicroOp>) -> UInt32 {
        let indexScale = m.pointee.indexScale
        return regs[Int(m.pointee.base)] &+ (regs[Int(indexScale & 15)] &<< UInt32(indexScale &>> 4)) &+ m.pointee.displacement
    }

    /// MOVZX (0F B6/B7) or MOVSX (0F BE/BF) of `v` to 32 bits.
    @inline(__always) private func extend(_ v: UInt32, _ opcode2: UInt8) -> UInt32 {
        if opcode2 < 0xBE { return v }
        return UInt32(bitPattern: Int32(truncatingIfNeeded: signExtend(v, opcode2 & 1 == 0 ? 1 : 2)))
    }

    /// One instruction of a block through `execute`, as the interpreter loop runs it; the
    /// caller set `runRemaining` for it. True when the block may go on with the next one.
    @inline(never) private func runGeneric(_ d: UnsafeMutablePointer<DecodedInstruction>, _ base: UInt32,
                                           _ header: UnsafeMutablePointer<BlockHeader>, _ key: UInt64) -> Bool {
        startEIP = base &+ UInt32(d.pointee.blockStart)
        eip = base &+ UInt32(d.pointee.blockImmediate)
        decoded = d
        prefixes = d.pointee.prefixes
        if limitCheckMask & d.pointee.reachableSegments != 0 { saveForRollback() }
        execute(d.pointee.opcode, d.pointee.family)
        runRemaining &-= 1
        if attention { return false }
        // Anything that moved EIP elsewhere, changed CS or its size, wrote over the block or
        // gave one of its segments a limit to check ends the block.
        return eip == base &+ UInt32(d.pointee.blockEnd) && codeKey &+ UInt64(base) == key
            && header.pointee.tag == key && limitCheckMask & header.pointee.reachableSegments == 0
    }
}
