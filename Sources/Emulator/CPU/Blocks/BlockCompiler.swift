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
