/// Building blocks (BlockCache.swift): the decodes of consecutive instructions from CS:EIP,
/// through not-taken conditional branches, up to an instruction after which the next one
/// is unknown or not worth decoding ahead (jumps, calls, returns, interrupts, mode and
/// descriptor-table instructions, anything unusual), each compiled to a micro-op.
extension CPU {
    /// Fills `header` with the block at CS:EIP (whose tag is `key`); false when the first
    /// instruction cannot be kept (outside cacheable RAM). Only 32-bit code on the 386
    /// gets blocks: the immediate sizes below follow the 386 map. EIP is left unchanged.
    @inline(never) func buildBlock(_ key: UInt64, _ header: UnsafeMutablePointer<BlockHeader>) -> Bool {
        guard key >> 32 & 1 == 0 else { return false }
        let blocks = decodeCache.blocks.unsafelyUnwrapped
        let startIP = eip
        let startLinear = UInt32(truncatingIfNeeded: key)
        // The block's bytes, immediates included, stay below the end of the line after the start's.
        let lineLimit = (UInt64(startLinear) >> UInt64(DecodeCache.lineShift) + 2) << UInt64(DecodeCache.lineShift)
        let first = blocks.reserve()
        let ops = blocks.ops + first, decodes = blocks.decodes + first
        var count = 0
        var offset: UInt32 = 0
        var reachable: UInt8 = 0
        while count < BlockCache.maxInstructions {
            eip = startIP &+ offset
            guard let d = keptDecode() else { break }
            let immediateOffset = offset + UInt32(d.pointee.length)
            guard let immediate = immediateBytes(d),
                  UInt64(startLinear) + UInt64(immediateOffset + immediate) <= lineLimit else {
                // The last instruction: it runs through `execute`, which fetches what it needs.
                if UInt64(startLinear) + UInt64(immediateOffset) > lineLimit { break }
                append(d, offset, immediateOffset, end: immediateOffset, ops + count, decodes + count)
                reachable |= d.pointee.reachableSegments
                count += 1
                break
            }
            let end = immediateOffset + immediate
            append(d, offset, immediateOffset, end: end, ops + count, decodes + count)
            compile(decodes + count, into: ops + count, immediateAt: startLinear &+ immediateOffset)
            reachable |= d.pointee.reachableSegments
            count += 1
            if endsBlock(ops[count - 1].kind, d) || UInt64(startLinear) + UInt64(end) >= lineLimit { break }
            offset = end
        }
        eip = startIP
        guard count > 0 else { return false }
        linkBranchesWithin(ops, decodes, count: count)
        // Immediates read into micro-ops are not covered by the decodes' marks: mark every byte.
        decodeCache.mark(startLinear, count: Int(decodes[count - 1].blockEnd))
        ops[count] = MicroOp(kind: .blockEnd, end: decodes[count - 1].blockEnd)
        blocks.hostCode[first] = hostArena == nil ? HostCodeArena.none : 0
        blocks.commit(count: count + 1)
        header.pointee = BlockHeader(tag: key, first: UInt32(first), count: UInt8(count), reachableSegments: reachable)
        return true
    }

    /// Turns the branches whose target is the start of one of the block's own instructions
    /// into their `Within` kinds, so that a loop or a forward skip stays in the block.
    private func linkBranchesWithin(_ ops: UnsafeMutablePointer<MicroOp>,
                                    _ decodes: UnsafeMutablePointer<DecodedInstruction>, count: Int) {
        for i in 0..<count {
            let within: MicroKind
            switch ops[i].kind {
            case .jcc: within = .jccWithin
            case .loop: within = .loopWithin
            case .jump: within = .jumpWithin
            default: continue
            }
            // Offsets from the block's start; 32-bit code, so EIP wraps at 2^32.
            let target = UInt32(ops[i].end) &+ ops[i].immediate
            guard let k = (0..<count).first(where: { UInt32(decodes[$0].blockStart) == target }) else { continue }
            ops[i].kind = within
            ops[i].b = UInt8(k)
        }
    }

    private func append(_ d: UnsafeMutablePointer<DecodedInstruction>, _ start: UInt32, _ immediate: UInt32,
                        end: UInt32, _ op: UnsafeMutablePointer<MicroOp>, _ copy: UnsafeMutablePointer<DecodedInstruction>) {
        copy.pointee = d.pointee
        copy.pointee.blockStart = UInt8(start)
        copy.pointee.blockImmediate = UInt8(immediate)
        copy.pointee.blockEnd = UInt8(end)
        op.pointee = MicroOp(end: UInt8(end))
    }

    /// The kept decode of the instruction at CS:EIP (the interpreter's lookup, which decodes
    /// and keeps it if needed); nil when the cache may not keep it.
    private func keptDecode() -> UnsafeMutablePointer<DecodedInstruction>? {
        decodeCurrent()
        return decoded.pointee.tag == 0 ? nil : decoded
    }

    /// Whether nothing after `d` should be decoded into its block: an unconditional
    /// transfer, or an instruction `execute` runs that may move EIP or change the mode.
    private func endsBlock(_ kind: MicroKind, _ d: UnsafeMutablePointer<DecodedInstruction>) -> Bool {
        switch kind {
        case .jump, .call, .returnNear: return true
        case .generic:
            switch d.pointee.family {
            case .jumpShort, .jumpRelative, .callRelative, .call32, .return32: return true
            case .group5Decoded: return d.pointee.opcode == 0xFF && (d.pointee.reg == 2 || d.pointee.reg == 4)
            default: return false
            }
        default: return false
        }
    }

    /// Bytes of immediate data after the decoded part of `d` (386 opcode map), or nil when
    /// the block should end with `d`.
    private func immediateBytes(_ d: UnsafeMutablePointer<DecodedInstruction>) -> UInt32? {
        let op = d.pointee.opcode
        let operand: UInt32 = d.pointee.prefixes.word & 1 != 0 ? 4 : 2
        switch d.pointee.family {
        case .aluRegisters, .aluMemory, .aluImmediateDecoded, .shiftDecoded, .moveExtendDecoded,
             .doubleShiftDecoded, .movLoad, .movStore, .leaDecoded, .mulDecoded, .movRMImmDecoded,
             .jccNearDecoded, .aluRegisters32, .aluMemory32, .aluImmediate32, .shift32,
             .movRegisters32, .movLoad32, .movStore32, .test32, .pushReg32, .popReg32, .group5Decoded, .return32,
             .jccShort, .pushSeg, .popSeg, .daa, .das, .aaa, .aas, .incDecReg, .pushReg, .popReg,
             .testRM, .xchgRM, .movRM, .movFromSeg, .lea, .movToSeg, .popRM, .nop, .xchgAX,
             .convert, .wait, .pushFlags, .popFlags, .sahf, .lahf, .string, .les, .lds, .leave,
             .shift, .salc, .xlat, .esc, .flagOp, .group4, .jumpShort:
            return 0
        case .alu: // 04/05 forms: AL or eAX with an immediate
            return op & 1 == 0 ? 1 : operand
        case .aluImmediate, .movRegImm8, .aam, .aad, .loop: return 1
        case .movRegImm, .jumpRelative, .callRelative, .call32: return operand
        case .testAccImm: return op == 0xA8 ? 1 : operand
        case .movMoffs: return d.pointee.prefixes.word & 2 != 0 ? 4 : 2
        case .enter: return 3
        case .io: return op < 0xE8 ? 1 : 0
        case .group3: return d.pointee.reg < 2 ? (op == 0xF6 ? 1 : operand) : 0
        case .ops186:
            switch op {
            case 0x60, 0x61, 0x62, 0x6C...0x6F: return 0
            case 0x68, 0x69: return operand
            case 0x6A, 0x6B: return 1
            default: return nil
            }
        case .twoByte:
            switch d.pointee.opcode2 {
            case 0x1F, 0x31, 0x40...0x4F, 0x90...0x9F, 0xA0...0xA3, 0xA5, 0xA8, 0xA9, 0xAB, 0xAD, 0xAF,
                 0xB0...0xB5, 0xBB...0xBD, 0xC0, 0xC1, 0xC8...0xCF:
                return 0
            case 0xBA: return 1
            default: return nil
            }
        default:
            // Far transfers, returns, interrupts, HLT, prefixes alone, undefined opcodes.
            return nil
        }
    }
}
