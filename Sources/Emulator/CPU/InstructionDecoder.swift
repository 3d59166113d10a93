/// The decoder: reads one instruction's prefixes, opcode bytes, ModRM, SIB and
/// displacement at CS:EIP into a `DecodedInstruction`, and the lookup that reuses a kept
/// decode. Execution never parses these bytes again; it reads the record (see Operands.swift).
extension CPU {
    /// Points `decoded` at the decode of the instruction at CS:EIP and moves EIP to its
    /// immediate (or the next instruction), with the prefix state set from the decode.
    @inline(__always) func decodeCurrent() {
        let key = codeKey &+ UInt64(eip)
        let slot = decodeSlots + Int(truncatingIfNeeded: key & UInt64(DecodeCache.slotCount - 1))
        let d: UnsafeMutablePointer<DecodedInstruction>
        if _fastPath(slot.pointee.tag == key) {
            d = slot
            eip = (eip &+ UInt32(d.pointee.length)) & ipMask
        } else {
            let linear = segBase[Seg.cs] &+ eip
            d = decodeAndKeep(linear, UInt64(linear) | codeTagBits)
        }
        decoded = d
        prefixes = d.pointee.prefixes
    }

    /// Decodes from memory; keeps the result when its bytes lie in cacheable memory and
    /// the instruction pointer did not wrap inside it.
    @inline(never) private func decodeAndKeep(_ linear: UInt32, _ tag: UInt64) -> UnsafeMutablePointer<DecodedInstruction> {
        let start = eip
        decodeInstruction(into: uncachedDecode)
        let length = (eip &- start) & ipMask
        uncachedDecode.pointee.length = UInt8(truncatingIfNeeded: length)
        guard length <= 15, start &+ length == eip, mem.isCacheableCode(linear, count: Int(length)) else {
            uncachedDecode.pointee.tag = 0
            return uncachedDecode
        }
        uncachedDecode.pointee.tag = tag
        decodeCache.keep(uncachedDecode.pointee, at: linear)
        return decodeCache.slot(linear)
    }

    /// Parses the instruction at CS:EIP, advancing EIP as far as the immediate.
    func decodeInstruction(into d: UnsafeMutablePointer<DecodedInstruction>) {
        prefixes = .defaults(codeBig: codeBig)
        var op = fetch8()
        var family = opcodeFamilies[Int(op)]
        if family == .prefix {
            op = decodePrefixes(op)
            family = opcodeFamilies[Int(op)]
        }
        d.pointee.opcode = op
        d.pointee.family = family
        d.pointee.prefixes = prefixes
        d.pointee.addressMask = adSize32 ? 0xFFFF_FFFF : 0xFFFF
        var hasModRM = OpcodeMap.hasModRM(op, family, model)
        if family == .twoByte && model != .i8086 {
            let op2 = fetch8()
            d.pointee.opcode2 = op2
            hasModRM = OpcodeMap.twoByteHasModRM(op2)
        }
        if hasModRM { decodeModRMByte(into: d) } else { d.pointee.mod = 3; d.pointee.reg = 0; d.pointee.rm = 0 }
        d.pointee.reachableSegments = CPU.implicitSegments | (segOverride >= 0 ? 1 << UInt8(segOverride) : 0)
        specialize(d)
    }

    /// Picks a specialized family for the commonest forms (FastPaths.swift), reading a
    /// jump's displacement here so it becomes part of the kept decode.
    private func specialize(_ d: UnsafeMutablePointer<DecodedInstruction>) {
        let op = d.pointee.opcode
        let size = UInt8(op & 1 == 0 ? 1 : opSize)
        switch d.pointee.family {
        case .alu where op & 7 < 4:
            d.pointee.family = d.pointee.mod == 3 ? .aluRegisters : .aluMemory
            if d.pointee.mod == 3 { orderRegisterOperands(d) }
        case .aluImmediate where op != 0x82:
            d.pointee.family = .aluImmediateDecoded
            d.pointee.immediate = op == 0x83 ? fetchSimm8(Int(size)) : fetchImm(Int(size))
        case .shiftImm where model != .i8086:
            d.pointee.family = .shiftDecoded
            d.pointee.immediate = UInt32(fetch8())
        case .testRM:
            break
        case .pushReg, .popReg, .callRelative, .returnNear:
            // 32-bit operand size only (never on the 8086, whose PUSH SP differs).
            guard opSize == 4 else { return }
            switch d.pointee.family {
            case .pushReg: d.pointee.family = .pushReg32
            case .popReg: d.pointee.family = .popReg32
            case .callRelative: d.pointee.family = .call32
            default: d.pointee.family = .return32
            }
            return
        case .twoByte where model != .i8086:
            switch d.pointee.opcode2 {
            case 0xB6, 0xB7, 0xBE, 0xBF:
                d.pointee.family = .moveExtendDecoded
            case 0xA4, 0xAC:
                d.pointee.family = .doubleShiftDecoded
                d.pointee.immediate = UInt32(fetch8())
            case 0x80...0x8F:
                d.pointee.family = .jccNearDecoded
                d.pointee.displacement = opSize32 ? fetch32() : UInt32(bitPattern: Int32(Int16(bitPattern: fetch16())))
            default:
                return
            }
        case .shift where op <= 0xD1:
            d.pointee.family = .shiftDecoded
            d.pointee.immediate = 1
        case .movRM:
            if d.pointee.mod == 3 { orderRegisterOperands(d) } else { d.pointee.family = op & 2 != 0 ? .movLoad : .movStore }
        case .lea where d.pointee.mod != 3:
            d.pointee.family = .leaDecoded
        case .group3 where d.pointee.reg == 4:
            d.pointee.family = .mulDecoded
        case .movRMImm:
            d.pointee.family = .movRMImmDecoded
            d.pointee.immediate = fetchImm(Int(size))
        case .group4 where d.pointee.reg < 2, .group5 where group5Specializes(d):
            d.pointee.family = .group5Decoded
        case .jccShort, .jumpShort:
            d.pointee.displacement = UInt32(bitPattern: Int32(Int8(bitPattern: fetch8())))
        default:
            return
        }
        d.pointee.size = size
        if size == 4 { d.pointee.family = OpcodeMap.dwordForm(d.pointee.family) }
    }

    /// FF /0 /1 /2 /4 /6 run as `group5Decoded`, except the 8086's PUSH SP quirk.
    private func group5Specializes(_ d: UnsafeMutablePointer<DecodedInstruction>) -> Bool {
        switch d.pointee.reg {
        case 0, 1, 2, 4: return true
        case 6: return !(model == .i8086 && d.pointee.mod == 3 && d.pointee.rm == UInt8(Reg.sp))
        default: return false
        }
    }

    /// Applies the prefixes starting with `first` and returns the opcode byte after them.
    /// Bytes that are prefixes only on the 386 (64-67) or only on the 8086 (F1) end the
    /// prefix run on the other model and are executed as opcodes.
    private func decodePrefixes(_ first: UInt8) -> UInt8 {
        var op = first
        while true {
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
            default: return op
            }
            op = fetch8()
        }
    }

    /// Register-to-register forms keep the destination in `reg` and the source in `rm`.
    private func orderRegisterOperands(_ d: UnsafeMutablePointer<DecodedInstruction>) {
        if d.pointee.opcode & 2 == 0 { swap(&d.pointee.reg, &d.pointee.rm) }
    }

    /// ModRM, then for memory forms SIB and displacement, as an address form.
    private func decodeModRMByte(into d: UnsafeMutablePointer<DecodedInstruction>) {
        let b = fetch8()
        let mod = b >> 6, rm = b & 7
        d.pointee.mod = mod
        d.pointee.reg = (b >> 3) & 7
        d.pointee.rm = rm
        guard mod != 3 else { return }
        var base = 8, index = 8, scale: UInt8 = 0, seg = Seg.ds
        var disp: UInt32 = 0
        if !adSize32 {
            switch rm {
            case 0: base = Reg.bx; index = Reg.si
            case 1: base = Reg.bx; index = Reg.di
            case 2: base = Reg.bp; index = Reg.si; seg = Seg.ss
            case 3: base = Reg.bp; index = Reg.di; seg = Seg.ss
            case 4: base = Reg.si
            case 5: base = Reg.di
            case 6: if mod == 0 { disp = UInt32(fetch16()) } else { base = Reg.bp; seg = Seg.ss }
            default: base = Reg.bx
            }
            if mod == 2 { disp = UInt32(fetch16()) }
        } else if rm == 4 {
            let sib = fetch8()
            scale = sib >> 6
            let sibIndex = Int(sib >> 3) & 7, sibBase = Int(sib & 7)
            if sibBase == 5 && mod == 0 {
                disp = fetch32()
            } else {
                base = sibBase
                if sibBase == Reg.sp || sibBase == Reg.bp { seg = Seg.ss }
            }
            if sibIndex != 4 { index = sibIndex }
        } else if rm == 5 && mod == 0 {
            disp = fetch32()
        } else {
            base = Int(rm)
            if base == Reg.bp { seg = Seg.ss }
        }
        if mod == 1 {
            disp = UInt32(bitPattern: Int32(Int8(bitPattern: fetch8())))
        } else if mod == 2 && adSize32 {
            disp = fetch32()
        }
        d.pointee.base = UInt8(base)
        d.pointee.index = UInt8(index)
        d.pointee.scale = scale
        d.pointee.displacement = disp
        d.pointee.segment = UInt8(segOverride >= 0 ? segOverride : seg)
    }
}
