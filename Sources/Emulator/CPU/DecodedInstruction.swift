/// One instruction decoded up to its immediate: prefixes, opcode bytes, ModRM and the
/// effective-address form. Immediates are not kept: handlers fetch them from memory when
/// they run, so a store into an immediate needs no invalidation.
struct DecodedInstruction {
    /// Linear address, code-size and CPU-model bits and a valid bit (see `tag`); 0 when empty.
    var tag: UInt64 = 0
    /// Displacement of the effective address (disp8 already sign-extended), or the
    /// sign-extended rel8 of OpcodeFamily.jccShort/jumpShort.
    var displacement: UInt32 = 0
    /// Immediate (or shift count) of OpcodeFamily.aluImmediateDecoded/shiftDecoded.
    var immediate: UInt32 = 0
    var opcode: UInt8 = 0
    /// The byte after 0F (386 two-byte opcodes).
    var opcode2: UInt8 = 0
    var family: OpcodeFamily = .invalid
    /// Bytes from the first prefix to the end of the displacement, where immediates start.
    var length: UInt8 = 0
    /// The prefix state the instruction runs with, code-size defaults included.
    var prefixes = PrefixState()
    /// ModRM fields; `mod` is 3 for instructions without ModRM. The register-to-register
    /// forms (OpcodeFamily.aluRegisters, movRM) hold the destination in `reg`, the source in `rm`.
    var mod: UInt8 = 3, reg: UInt8 = 0, rm: UInt8 = 0
    /// Effective address = regs[base] + regs[index] << scale + displacement (register 8
    /// always reads 0), masked to the address size; `segment` has the override applied.
    var base: UInt8 = 8, index: UInt8 = 8, scale: UInt8 = 0
    var segment: UInt8 = UInt8(Seg.ds)
    /// Operand size in bytes of the specialized families (FastPaths.swift).
    var size: UInt8 = 0
    /// Bit n: segment n may be accessed. FS and GS are reachable only through a prefix,
    /// so a limited (often null) FS or GS costs no rollback snapshot until named.
    var reachableSegments: UInt8 = 0
    /// Offsets from the start of the block holding this copy (Blocks/BlockCache.swift): of
    /// the instruction, of its immediate (where EIP stands when it runs) and of the next
    /// instruction. Unused in the decode cache's own slots.
    var blockStart: UInt8 = 0, blockImmediate: UInt8 = 0, blockEnd: UInt8 = 0
    /// FFFF or FFFFFFFF by the address size: effective addresses are masked with it.
    var addressMask: UInt32 = 0xFFFF

    /// The decode depends on the bytes at `linear`, the code segment's default size and
    /// the CPU model (which bytes are prefixes, which opcodes take ModRM).
    /// Bit 32 stays clear (see `CPU.codeKey`).
    static func tag(_ linear: UInt32, codeBig: Bool, model: CPUModel) -> UInt64 {
        UInt64(linear) | (codeBig ? 1 << 33 : 0) | 1 << 34 | (model == .i8086 ? 1 << 35 : 0)
    }
}
