/// Compiling one decoded instruction of a block to a micro-op (MicroOp.swift). Only the
/// commonest forms of 32-bit code are specialized, each with the exact effect of the
/// interpreter's handler for that form (FastPaths.swift, ControlTransfer.swift); every
/// other instruction stays `generic` and runs through `execute`.
extension CPU {
    /// `immediateAt`: linear address of the bytes after the decoded part, for the forms
    /// whose immediate the decode does not hold (the block builder marks those bytes).
    func compile(_ d: UnsafeMutablePointer<DecodedInstruction>, into op: UnsafeMutablePointer<MicroOp>,
                 immediateAt linear: UInt32) {
        let prefixes = d.pointee.prefixes.word
        // 32-bit operand and address size and no REP prefix (segment overrides are in the decode).
        guard prefixes & 3 == 3, (prefixes >> 16) & 0xFF == 0 else { return }
        var m = op.pointee
        m.base = d.pointee.base
        m.indexScale = d.pointee.index | d.pointee.scale << 4
        m.segment = d.pointee.segment
        m.displacement = d.pointee.displacement
        let memory = d.pointee.mod != 3, reg = d.pointee.reg, rm = d.pointee.rm
        let opcode = d.pointee.opcode
        switch d.pointee.family {
        case .movRegisters32: m.kind = .moveRegisters; m.a = reg; m.b = rm
        case .movLoad32: m.kind = .load; m.a = reg
        case .movStore32: m.kind = .store; m.a = reg
        case .movLoad where d.pointee.size == 1: m.kind = .loadByte; m.a = reg
        case .movStore where d.pointee.size == 1: m.kind = .storeByte; m.a = reg
        case .movRegImm:
            m.kind = .moveImmediateToRegister; m.a = opcode & 7; m.immediate = mem.read32(linear)
        case .movRMImmDecoded where d.pointee.size == 4:
            m.kind = memory ? .moveImmediateToMemory : .moveImmediateToRegister
            m.a = rm
            m.immediate = d.pointee.immediate
        case .aluRegisters32: m.kind = .aluRegisters; m.a = reg; m.b = rm; m.operation = (opcode >> 3) & 7
        case .aluMemory32:
            m.kind = opcode & 2 != 0 ? .aluLoad : .aluStore
            m.a = reg
            m.operation = (opcode >> 3) & 7
        case .aluImmediate32:
            m.kind = memory ? .aluImmediateMemory : .aluImmediateRegister
            m.a = rm
            m.operation = reg
            m.immediate = d.pointee.immediate
        case .test32: m.kind = memory ? .testMemory : .testRegisters; m.a = reg; m.b = rm
        case .shift32 where !memory:
            m.kind = .shiftRegister; m.a = rm; m.operation = reg; m.immediate = d.pointee.immediate
        case .leaDecoded: m.kind = .loadAddress; m.a = reg
        case .moveExtendDecoded:
            m.kind = memory ? .extendMemory : .extendRegister
            m.a = reg; m.b = rm; m.operation = d.pointee.opcode2
        case .pushReg32: m.kind = .push; m.a = opcode & 7
        case .popReg32: m.kind = .pop; m.a = opcode & 7
        case .incDecReg: m.kind = opcode < 0x48 ? .increment : .decrement; m.a = opcode & 7
        case .group5Decoded where opcode == 0xFF && memory && reg < 2:
            m.kind = reg == 0 ? .incrementMemory : .decrementMemory
        case .doubleShiftDecoded:
            m.kind = memory ? .doubleShiftMemory : .doubleShiftRegister
            m.a = reg; m.b = rm
            m.operation = d.pointee.opcode2 == 0xA4 ? 1 : 0
            m.immediate = d.pointee.immediate
        case .shift32: m.kind = .shiftMemory; m.operation = reg; m.immediate = d.pointee.immediate
        case .mulDecoded where d.pointee.size == 4: m.kind = memory ? .multiplyMemory : .multiplyRegister; m.a = rm
        case .flagOp where opcode != 0xFA && opcode != 0xFB: m.kind = .flagOperation; m.operation = opcode
        case .pushFlags: m.kind = .pushFlags
        case .popFlags: m.kind = .popFlags
        case .alu: // 04/05 forms: AL or EAX with an immediate
            m.kind = opcode & 1 == 0 ? .aluImmediateByteRegister : .aluImmediateRegister
            m.a = UInt8(Reg.ax)
            m.operation = (opcode >> 3) & 7
            m.immediate = opcode & 1 == 0 ? UInt32(mem.read8(linear)) : mem.read32(linear)
        case .aluImmediateDecoded where d.pointee.size == 1:
            m.kind = memory ? .aluImmediateByteMemory : .aluImmediateByteRegister
            m.a = rm
            m.operation = reg
            m.immediate = d.pointee.immediate
        case .testAccImm:
            m.kind = opcode == 0xA8 ? .testImmediateByte : .testImmediate
            m.a = UInt8(Reg.ax)
            m.immediate = opcode == 0xA8 ? UInt32(mem.read8(linear)) : mem.read32(linear)
        case .testRM where d.pointee.size == 1: m.kind = memory ? .testMemoryByte : .testRegistersByte; m.a = reg; m.b = rm
        case .movRegImm8: m.kind = .moveImmediateByte; m.a = opcode & 7; m.immediate = UInt32(mem.read8(linear))
        case .loop:
            m.kind = .loop
            m.operation = opcode
            m.immediate = UInt32(bitPattern: Int32(Int8(bitPattern: mem.read8(linear))))
        case .jccShort: m.kind = .jcc; m.operation = opcode & 0xF; m.immediate = d.pointee.displacement
        case .jccNearDecoded:
            m.kind = .jcc; m.operation = d.pointee.opcode2 & 0xF; m.immediate = d.pointee.displacement
        case .jumpShort: m.kind = .jump; m.immediate = d.pointee.displacement
        case .jumpRelative: m.kind = .jump; m.immediate = mem.read32(linear)
        case .call32: m.kind = .call; m.immediate = mem.read32(linear)
        case .return32: m.kind = .returnNear
        default: return
        }
        op.pointee = m
    }
}
