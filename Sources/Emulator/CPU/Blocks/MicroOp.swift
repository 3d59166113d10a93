/// What a compiled block runs for one instruction (BlockRunner.swift): a specialized
/// form with its operands resolved, or `generic`, which runs the instruction's decode
/// through `execute` like the interpreter loop.
enum MicroKind: UInt8 {
    case generic
    // Dword forms with 32-bit addresses (the memory operand is base + index << scale + displacement).
    case moveRegisters, load, store, loadByte, storeByte, moveImmediateToRegister, moveImmediateToMemory
    case aluRegisters, aluLoad, aluStore, aluImmediateRegister, aluImmediateMemory
    case testRegisters, testMemory, shiftRegister, loadAddress, extendRegister, extendMemory
    case push, pop, increment, decrement, incrementMemory, decrementMemory
    case doubleShiftRegister, doubleShiftMemory, shiftMemory, multiplyRegister, multiplyMemory
    case flagOperation, pushFlags, popFlags
    // Byte forms and accumulator immediates.
    case aluImmediateByteRegister, aluImmediateByteMemory, testImmediate, testImmediateByte
    case testRegistersByte, testMemoryByte, moveImmediateByte
    // Control transfers: a not-taken Jcc goes on with the next micro-op, the others end the block.
    case jcc, loop, jump, call, returnNear
    /// Jcc, LOOP/JECXZ and JMP whose target is an instruction of their own block (micro-op
    /// index `b`): loops and forward skips go on inside the block.
    case jccWithin, loopWithin, jumpWithin
    /// After a block's last instruction: EIP goes to the instruction after it.
    case blockEnd
}

/// 16 bytes. `a` is the register operand (destination of loads and ALU forms), `b` the
/// source register or a branch's target within its block; `operation` the ALU or shift
/// operation, the condition code or the MOVZX/MOVSX opcode byte.
struct MicroOp {
    var kind: MicroKind = .generic
    var a: UInt8 = 0
    var b: UInt8 = 0
    var operation: UInt8 = 0
    var base: UInt8 = 8
    var indexScale: UInt8 = 8
    var segment: UInt8 = 0
    /// Offset of the next instruction from the block's first.
    var end: UInt8 = 0
    var displacement: UInt32 = 0
    /// Immediate operand, or a jump's relative displacement.
    var immediate: UInt32 = 0
}
