/// The interpreter loop body: the decoded instruction (InstructionDecoder.swift), then one
/// switch over its opcode family that hands it to the family's extension.
extension CPU {
    /// Executes one instruction (a REP string instruction runs to completion).
    public func step() { run(1) }

    /// Executes `n` (at least one) instructions, fewer when the CPU stops or halts.
    @inline(__always)
    func run(_ n: UInt64) {
        runEnd = instructionCount &+ n
        runRemaining = n
        runCut = 0
        while true {
            // One test per instruction: an instruction that needs attention (a limit
            // fault to raise, a stop, a halt) cuts the budget so that this loop ends.
            repeat {
                // 32-bit code runs compiled blocks (Blocks/) when the budget covers one and
                // none of the segments it reaches has a limit to check.
                if codeBig && model == .i386 {
                    if blockHeaders == nil { activateBlocks() }
                    let key = codeKey &+ UInt64(eip)
                    let header = blockHeader(key)
                    if (header.pointee.tag == key || buildBlock(key, header)) && canRun(header) {
                        runCompiled(header, key)
                        continue
                    }
                }
                startEIP = eip
                decodeCurrent()
                let d = decoded
                if limitCheckMask & d.pointee.reachableSegments != 0 { saveForRollback() }
                execute(d.pointee.opcode, d.pointee.family)
                runRemaining &-= 1
            } while runRemaining != 0
            if attention {
                if limitFaultVector >= 0 { rollBackAndFault() }
                if stop != nil || halted { break }
            }
            if runCut == 0 { break }
            runEnd &+= runCut
            runRemaining = runCut
            runCut = 0
        }
        runEnd &-= runRemaining
        runRemaining = 0
        runCut = 0
    }

    /// ES, SS and DS: the segments instructions use without a prefix (CS is never checked).
    static let implicitSegments: UInt8 = 1 << 0 | 1 << 2 | 1 << 3

    /// While some segment has a limit to check, registers and flags are saved before each
    /// instruction so a violation can undo it before #GP/#SS is raised.
    func saveForRollback() {
        for i in 0..<8 { savedRegs[i] = regs[i] }
        savedFlags = flags
    }

    func rollBackAndFault() {
        let vector = limitFaultVector
        limitFaultVector = -1
        for i in 0..<8 { regs[i] = savedRegs[i] }
        flags = savedFlags
        fault(vector, errorCode: 0)
        if limitFaultVector >= 0 {
            // The exception frame itself broke a limit: give up as the CPU would.
            limitFaultVector = -1
            halt(.tripleFault("triple fault (stack limit while delivering exception \(vector)) at \(locationDescription)"))
        }
    }

    @inline(always)
    func execute(_ op: UInt8, _ family: OpcodeFamily) {
        switch family {
        case .alu: aluOpcode(op)
        case .pushSeg: pushSeg(Int(op >> 3))
        case .popSeg: popSeg(Int(op >> 3))
        case .twoByte:
            if model == .i8086 { setSegmentReal(Seg.cs, UInt16(truncatingIfNeeded: pop(2))) } else { twoByte() }
        case .daa: daa()
        case .das: das()
        case .aaa: asciiAdjust(subtract: false)
        case .aas: asciiAdjust(subtract: true)
        case .incDecReg:
            let r = Int(op & 7)
            setReg(r, opSize, incdec(getReg(r, opSize), op >= 0x48, opSize))
        case .pushReg: pushReg(Int(op & 7))
        case .popReg: popReg(Int(op & 7))
        case .ops186:
            // 186 additions; the 8086 decodes these as aliases of Jcc 70-7F.
            if model == .i8086 { jccShort(Int(op & 0xF)) } else { opcodes186(op) }
        case .jccShort: if condition(Int(op & 0xF)) { jumpRelative(decoded.pointee.displacement) }
        case .aluImmediate: aluImmediate(op == 0x82 ? 0x80 : op)
        case .testRM: testDecoded()
        case .xchgRM: xchgRM(op)
        case .movRM: moveRegisters()
        case .movFromSeg: movFromSeg()
        case .lea: lea()
        case .movToSeg: movToSeg()
        case .popRM: popRM()
        case .nop:
            if repPrefix == 0xF3 { halted = false } // PAUSE
        case .xchgAX: xchgAX(Int(op & 7))
        case .convert: convert(op)
        case .callFar:
            let off = fetchImm(opSize)
            let sel = fetch16()
            farTransfer(selector: sel, offset: off, call: true)
        case .wait: break // no coprocessor to wait for
        case .pushFlags: pushFlags()
        case .popFlags: popFlags()
        case .sahf: sahf()
        case .lahf: lahf()
        case .movMoffs: movMoffs(op)
        case .string: stringOp(op)
        case .testAccImm: testAccImm(op)
        case .movRegImm8: setReg(Int(op & 7), 1, UInt32(fetch8()))
        case .movRegImm: setReg(Int(op & 7), opSize, fetchImm(opSize))
        case .shiftImm:
            if model == .i8086 { returnNear(popBytes: op == 0xC0 ? UInt32(fetch16()) : 0) } else { shiftGroup(op) }
        case .returnImm: returnNear(popBytes: UInt32(fetch16()))
        case .returnNear: returnNear(popBytes: 0)
        case .les: loadFarPointer(Seg.es)
        case .lds: loadFarPointer(Seg.ds)
        case .movRMImm: movRMImm(op)
        case .enter:
            if model == .i8086 { returnFar(popBytes: UInt32(fetch16())) } else { enter() }
        case .leave:
            if model == .i8086 { returnFar(popBytes: 0) } else { leave() }
        case .returnFarImm: returnFar(popBytes: UInt32(fetch16()))
        case .returnFar: returnFar(popBytes: 0)
        case .int3: softwareInterrupt(3)
        case .intImm: softwareInterrupt(Int(fetch8()))
        case .into: if flag(F.of) { softwareInterrupt(4) }
        case .iret: iret()
        case .shift: shiftGroup(op)
        case .aam: aam()
        case .aad: aad()
        case .salc: salc()
        case .xlat: xlat()
        case .esc:
            // No coprocessor. The address is decoded and nothing else happens, which is
            // what FPU-presence probes expect on a machine without one.
            decodeModRM()
        case .loop: loop(op)
        case .io: ioInstruction(op)
        case .callRelative: callRelative()
        case .jumpRelative: jumpNearRelative()
        case .jumpFar:
            let off = fetchImm(opSize)
            let sel = fetch16()
            farTransfer(selector: sel, offset: off, call: false)
        case .jumpShort: jumpRelative(decoded.pointee.displacement)
        case .hlt:
            if protectedMode && cpl != 0 { fault(13, errorCode: 0) } else { halted = true }
        case .flagOp: flagOp(op)
        case .group3: group3(op)
        case .group4: group4()
        case .group5: group5()
        case .prefix:
            // Only a byte that is no prefix on this model gets here: 64-67 on the 8086
            // (aliases of Jcc 74-77) and F1 on the 386.
            if model == .i8086 && op & 0xF0 == 0x60 { jccShort(Int(op & 0xF)) } else { invalidOpcode(hex8(op)) }
        case .invalid:
            invalidOpcode(hex8(op))
        case .aluRegisters: aluRegisters()
        case .aluMemory: aluMemory()
        case .aluImmediateDecoded: aluImmediateDecoded()
        case .shiftDecoded: shiftDecoded()
        case .moveExtendDecoded: moveExtendDecoded()
        case .doubleShiftDecoded:
            decodeModRM()
            doubleShift(left: decoded.pointee.opcode2 == 0xA4, count: decoded.pointee.immediate)
        case .movLoad: moveLoad()
        case .movStore: moveStore()
        case .aluRegisters32: aluRegisters(known: 4)
        case .aluMemory32: aluMemory(known: 4)
        case .aluImmediate32: aluImmediateDecoded(known: 4)
        case .shift32: shiftDecoded(known: 4)
        case .movRegisters32: moveRegisters(known: 4)
        case .movLoad32: moveLoad(known: 4)
        case .movStore32: moveStore(known: 4)
        case .test32: testDecoded(known: 4)
        case .pushReg32: push(regs[Int(op & 7)], 4)
        case .popReg32: regs[Int(op & 7)] = pop(4)
        case .call32:
            let d = fetch32()
            push(eip, 4)
            jumpRelative(d)
        case .return32: eip = pop(4)
        case .leaDecoded: leaDecoded()
        case .mulDecoded: multiplyDecoded()
        case .movRMImmDecoded: movRMImmDecoded()
        case .group5Decoded: group5Decoded()
        case .jccNearDecoded:
            if condition(Int(decoded.pointee.opcode2 & 0xF)) { jumpRelative(decoded.pointee.displacement) }
        }
    }

    /// 60-6F on the 186 and later: PUSHA, POPA, BOUND, PUSH imm, IMUL imm, INS/OUTS.
    func opcodes186(_ op: UInt8) {
        switch op {
        case 0x60: pushAll()
        case 0x61: popAll()
        case 0x62: bound()
        case 0x68: push(fetchImm(opSize), opSize)
        case 0x69: imulReg(immSize: opSize)
        case 0x6A: push(fetchSimm8(opSize), opSize)
        case 0x6B: imulReg(immSize: 1)
        case 0x6C...0x6F: stringOp(op)
        default: invalidOpcode(hex8(op)) // 63 ARPL and the prefixes 64-67 never get here in real use
        }
    }

    /// FE: INC/DEC r/m8.
    func group4() {
        decodeModRM()
        guard modrmReg < 2 else { invalidOpcode("FE /\(modrmReg)"); return }
        writeRM(1, incdec(readRM(1), modrmReg == 1, 1))
    }

    /// FF: INC, DEC, CALL near, CALL far, JMP near, JMP far, PUSH.
    func group5() {
        decodeModRM()
        let size = opSize
        switch modrmReg {
        case 0, 1: writeRM(size, incdec(readRM(size), modrmReg == 1, size))
        case 2:
            let target = readRM(size)
            push(eip, size)
            eip = target
        case 3, 5:
            if modrmMod == 3 { invalidOpcode("FF /\(modrmReg) with a register operand"); return }
            let off = read(eaSeg, eaOff, size)
            let sel = UInt16(truncatingIfNeeded: read(eaSeg, nextOff(eaOff, UInt32(size)), 2))
            farTransfer(selector: sel, offset: off, call: modrmReg == 3)
        case 4: eip = readRM(size)
        default:
            if modrmReg == 7 && model != .i8086 { invalidOpcode("FF /7"); return }
            // PUSH r/m; PUSH SP through ModRM also shows the 8086 quirk.
            if modrmMod == 3 && modrmRM == Reg.sp && model == .i8086 { pushReg(Reg.sp) } else { push(readRM(size), size) }
        }
    }
}
