/// The interpreter loop body: prefixes, then one switch over the primary opcode that hands
/// each instruction to its family's extension.
extension CPU {
    /// Executes one instruction (a REP string instruction runs to completion).
    @inline(__always)
    public func step() {
        startEIP = eip
        opSize32 = codeBig
        adSize32 = codeBig
        segOverride = -1
        repPrefix = 0
        faultDepth = 0
        var op = fetch8()
        // Most instructions have no prefix: test the three prefix groups with plain compares
        // (26/2E/36/3E, 64-67, F0-F3) so the common path takes no extra indirect jump.
        if op & 0xE7 == 0x26 || op & 0xFC == 0x64 || op & 0xFC == 0xF0 {
            prefixes: while true {
                switch op {
                case 0x26: segOverride = Seg.es
                case 0x2E: segOverride = Seg.cs
                case 0x36: segOverride = Seg.ss
                case 0x3E: segOverride = Seg.ds
                case 0x64 where model == .i386: segOverride = Seg.fs
                case 0x65 where model == .i386: segOverride = Seg.gs
                case 0x66 where model == .i386: opSize32 = !codeBig
                case 0x67 where model == .i386: adSize32 = !codeBig
                case 0xF0: break
                case 0xF1 where model == .i8086: break
                case 0xF2, 0xF3: repPrefix = op
                default: break prefixes
                }
                op = fetch8()
            }
        }
        if limitCheckMask != 0 { saveForRollback() }
        execute(op)
        if limitFaultVector >= 0 { rollBackAndFault() }
        instructionCount &+= 1
    }

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

    @inline(__always)
    func execute(_ op: UInt8) {
        switch op {
        case 0x00...0x05, 0x08...0x0D, 0x10...0x15, 0x18...0x1D,
             0x20...0x25, 0x28...0x2D, 0x30...0x35, 0x38...0x3D:
            aluOpcode(op)
        case 0x06, 0x0E, 0x16, 0x1E: pushSeg(Int(op >> 3))
        case 0x07, 0x17, 0x1F: popSeg(Int(op >> 3))
        case 0x0F:
            if model == .i8086 { setSegmentReal(Seg.cs, UInt16(truncatingIfNeeded: pop(2))) } else { twoByte() }
        case 0x27: daa()
        case 0x2F: das()
        case 0x37: asciiAdjust(subtract: false)
        case 0x3F: asciiAdjust(subtract: true)
        case 0x40...0x4F:
            let r = Int(op & 7)
            setReg(r, opSize, incdec(getReg(r, opSize), op >= 0x48, opSize))
        case 0x50...0x57: pushReg(Int(op & 7))
        case 0x58...0x5F: popReg(Int(op & 7))
        case 0x60...0x6F:
            // 186 additions; the 8086 decodes these as aliases of Jcc 70-7F.
            if model == .i8086 { jccShort(Int(op & 0xF)) } else { opcodes186(op) }
        case 0x70...0x7F: jccShort(Int(op & 0xF))
        case 0x80...0x83: aluImmediate(op == 0x82 ? 0x80 : op)
        case 0x84, 0x85: testRMReg(op)
        case 0x86, 0x87: xchgRM(op)
        case 0x88...0x8B: movRM(op)
        case 0x8C: movFromSeg()
        case 0x8D: lea()
        case 0x8E: movToSeg()
        case 0x8F: popRM()
        case 0x90:
            if repPrefix == 0xF3 { halted = false } // PAUSE
        case 0x91...0x97: xchgAX(Int(op & 7))
        case 0x98, 0x99: convert(op)
        case 0x9A:
            let off = fetchImm(opSize)
            let sel = fetch16()
            farTransfer(selector: sel, offset: off, call: true)
        case 0x9B: break // WAIT: no coprocessor to wait for
        case 0x9C: pushFlags()
        case 0x9D: popFlags()
        case 0x9E: sahf()
        case 0x9F: lahf()
        case 0xA0...0xA3: movMoffs(op)
        case 0xA4...0xA7, 0xAA...0xAF: stringOp(op)
        case 0xA8, 0xA9: testAccImm(op)
        case 0xB0...0xB7: setReg(Int(op & 7), 1, UInt32(fetch8()))
        case 0xB8...0xBF: setReg(Int(op & 7), opSize, fetchImm(opSize))
        case 0xC0, 0xC1:
            if model == .i8086 { returnNear(popBytes: op == 0xC0 ? UInt32(fetch16()) : 0) } else { shiftGroup(op) }
        case 0xC2: returnNear(popBytes: UInt32(fetch16()))
        case 0xC3: returnNear(popBytes: 0)
        case 0xC4: loadFarPointer(Seg.es)
        case 0xC5: loadFarPointer(Seg.ds)
        case 0xC6, 0xC7: movRMImm(op)
        case 0xC8:
            if model == .i8086 { returnFar(popBytes: UInt32(fetch16())) } else { enter() }
        case 0xC9:
            if model == .i8086 { returnFar(popBytes: 0) } else { leave() }
        case 0xCA: returnFar(popBytes: UInt32(fetch16()))
        case 0xCB: returnFar(popBytes: 0)
        case 0xCC: softwareInterrupt(3)
        case 0xCD: softwareInterrupt(Int(fetch8()))
        case 0xCE: if flag(F.of) { softwareInterrupt(4) }
        case 0xCF: iret()
        case 0xD0...0xD3: shiftGroup(op)
        case 0xD4: aam()
        case 0xD5: aad()
        case 0xD6: salc()
        case 0xD7: xlat()
        case 0xD8...0xDF:
            // ESC: no coprocessor. The address is decoded and nothing else happens, which is
            // what FPU-presence probes expect on a machine without one.
            decodeModRM()
        case 0xE0...0xE3: loop(op)
        case 0xE4...0xE7, 0xEC...0xEF: ioInstruction(op)
        case 0xE8: callRelative()
        case 0xE9: jumpNearRelative()
        case 0xEA:
            let off = fetchImm(opSize)
            let sel = fetch16()
            farTransfer(selector: sel, offset: off, call: false)
        case 0xEB: jccShortAlways()
        case 0xF4:
            if protectedMode && cpl != 0 { fault(13, errorCode: 0) } else { halted = true }
        case 0xF5, 0xF8...0xFD: flagOp(op)
        case 0xF6, 0xF7: group3(op)
        case 0xFE: group4()
        case 0xFF: group5()
        default:
            invalidOpcode(hex8(op))
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

    @inline(__always) func jccShortAlways() {
        let d = UInt32(bitPattern: Int32(Int8(bitPattern: fetch8())))
        jumpRelative(d)
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
