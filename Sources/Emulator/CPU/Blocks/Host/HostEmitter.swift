/// x86-64 machine code for the host-code blocks (HostBlockCompiler.swift): the few
/// instruction forms they use, appended to a byte buffer. Memory operands are always
/// [base + index + disp32] or [base + disp32] with 64-bit registers, so every form has one
/// encoding path (ModRM mod 10, with a SIB byte when there is an index or the base is
/// RSP/R12).
struct HostEmitter {
    enum R: UInt8 { case rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15 }

    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }
    var offset: Int { bytes.count }

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func dword(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    mutating func patch32(at position: Int, _ v: Int32) {
        let u = UInt32(bitPattern: v)
        for i in 0..<4 { bytes[position + i] = UInt8(truncatingIfNeeded: u >> (8 * UInt32(i))) }
    }

    /// REX prefix when needed: W for 64-bit operands, R/X/B for registers 8-15.
    private mutating func rex(w: Bool, reg: UInt8, index: UInt8 = 0, base: UInt8, force: Bool = false) {
        let v: UInt8 = 0x40 | (w ? 8 : 0) | (reg & 8) >> 1 | (index & 8) >> 2 | (base & 8) >> 3
        if v != 0x40 || force { byte(v) }
    }

    /// ModRM (and SIB) for [base + index + disp32], `reg` in the reg field.
    private mutating func memoryOperand(reg: UInt8, base: R, index: R?, disp: Int32) {
        let b = base.rawValue & 7
        if index != nil || b == 4 {
            byte(0x80 | (reg & 7) << 3 | 4)
            byte(((index?.rawValue ?? 4) & 7) << 3 | b)
        } else {
            byte(0x80 | (reg & 7) << 3 | b)
        }
        dword(UInt32(bitPattern: disp))
    }

    /// One opcode byte, or 0F and the second for a two-byte opcode (written 0x0Fxx).
    private mutating func opcode(_ opcode: UInt16) {
        if opcode > 0xFF { byte(0x0F) }
        byte(UInt8(truncatingIfNeeded: opcode))
    }

    /// `opcode` (see above) with a register and a memory operand.
    private mutating func memoryForm(_ opcode: UInt16, w: Bool, reg: UInt8, base: R, index: R? = nil, disp: Int32,
                                     forceREX: Bool = false) {
        rex(w: w, reg: reg, index: index?.rawValue ?? 0, base: base.rawValue, force: forceREX)
        self.opcode(opcode)
        memoryOperand(reg: reg, base: base, index: index, disp: disp)
    }

    /// `opcode` with two registers (ModRM mod 11: `reg` field, `rm` field).
    private mutating func registerForm(_ opcode: UInt16, w: Bool, reg: UInt8, rm: R) {
        rex(w: w, reg: reg, base: rm.rawValue)
        self.opcode(opcode)
        byte(0xC0 | (reg & 7) << 3 | rm.rawValue & 7)
    }

    // MARK: moves

    /// mov r32/r64, [base + index + disp]
    mutating func load(_ r: R, _ base: R, index: R? = nil, _ disp: Int32, wide: Bool = false) {
        memoryForm(0x8B, w: wide, reg: r.rawValue, base: base, index: index, disp: disp)
    }

    /// mov [base + index + disp], r32/r64
    mutating func store(_ r: R, _ base: R, index: R? = nil, _ disp: Int32, wide: Bool = false) {
        memoryForm(0x89, w: wide, reg: r.rawValue, base: base, index: index, disp: disp)
    }

    /// movzx r32, byte [base + disp]
    mutating func loadByte(_ r: R, _ base: R, _ disp: Int32) {
        memoryForm(0x0FB6, w: false, reg: r.rawValue, base: base, disp: disp)
    }

    /// movzx/movsx r32, byte/word [base + index + disp]: `opcode2` B6, B7, BE or BF.
    mutating func loadExtended(_ opcode2: UInt8, _ r: R, _ base: R, index: R? = nil, _ disp: Int32) {
        memoryForm(0x0F00 | UInt16(opcode2), w: false, reg: r.rawValue, base: base, index: index, disp: disp)
    }

    /// mov byte [base + index + disp], r8 (AL, CL, DL or BL)
    mutating func storeByte(_ r: R, _ base: R, index: R? = nil, _ disp: Int32) {
        memoryForm(0x88, w: false, reg: r.rawValue, base: base, index: index, disp: disp)
    }

    /// 8-bit ALU operation with a memory source: op r8, byte [base + disp] (AL..BL).
    mutating func aluByte(_ operation: UInt8, _ dst: R, _ base: R, _ disp: Int32) {
        memoryForm(UInt16(operation << 3 | 2), w: false, reg: dst.rawValue, base: base, disp: disp)
    }

    /// test r8, r8 (AL..BL)
    mutating func testByte(_ a: R, _ b: R) {
        registerForm(0x84, w: false, reg: b.rawValue, rm: a)
    }

    /// imul r64, r64 (the low 64 bits of the product)
    mutating func multiply(_ dst: R, _ src: R) {
        registerForm(0x0FAF, w: true, reg: dst.rawValue, rm: src)
    }

    /// BTS (5), BTR (6) or BTC (7) of bit `bit` of the dword at [base + disp].
    mutating func bitOperation(_ operation: UInt8, _ base: R, _ disp: Int32, bit: UInt8) {
        memoryForm(0x0FBA, w: false, reg: operation, base: base, disp: disp)
        byte(bit)
    }

    /// BTS (5), BTR (6) or BTC (7) of bit `bit` of r64.
    mutating func bitOperation(_ operation: UInt8, _ r: R, bit: R) {
        registerForm(0x0F00 | UInt16(0xAB + (operation - 5) * 8), w: true, reg: bit.rawValue, rm: r)
    }

    /// mov byte [base + disp], imm8
    mutating func storeByte(_ v: UInt8, _ base: R, _ disp: Int32) {
        memoryForm(0xC6, w: false, reg: 0, base: base, disp: disp)
        byte(v)
    }

    /// mov dword [base + index + disp], imm32
    mutating func storeImmediate(_ v: UInt32, _ base: R, index: R? = nil, _ disp: Int32) {
        memoryForm(0xC7, w: false, reg: 0, base: base, index: index, disp: disp)
        dword(v)
    }

    /// mov r32, imm32 (zero-extends into the 64-bit register)
    mutating func move(_ r: R, _ v: UInt32) {
        rex(w: false, reg: 0, base: r.rawValue)
        byte(0xB8 + r.rawValue & 7)
        dword(v)
    }

    /// mov r64, imm64
    mutating func move64(_ r: R, _ v: UInt64) {
        rex(w: true, reg: 0, base: r.rawValue)
        byte(0xB8 + r.rawValue & 7)
        dword(UInt32(truncatingIfNeeded: v))
        dword(UInt32(truncatingIfNeeded: v >> 32))
    }

    /// mov dst, src (32-bit: zero-extends; 64-bit with `wide`)
    mutating func move(_ dst: R, _ src: R, wide: Bool = false) {
        registerForm(0x89, w: wide, reg: src.rawValue, rm: dst)
    }

    /// lea r32, [base + index * 2^scale + disp] (the address computed in 64 bits, kept to 32).
    mutating func loadAddress(_ r: R, base: R, index: R, scale: UInt8, _ disp: Int32) {
        rex(w: false, reg: r.rawValue, index: index.rawValue, base: base.rawValue)
        byte(0x8D)
        byte(0x80 | (r.rawValue & 7) << 3 | 4)
        byte((scale & 3) << 6 | (index.rawValue & 7) << 3 | base.rawValue & 7)
        dword(UInt32(bitPattern: disp))
    }

    // MARK: arithmetic

    /// The eight ALU operations in x86 order (add, or, adc, sbb, and, sub, xor, cmp).
    mutating func alu(_ operation: UInt8, _ dst: R, _ src: R, wide: Bool = false) {
        registerForm(UInt16(operation << 3 | 1), w: wide, reg: src.rawValue, rm: dst)
    }

    /// ALU operation with a 32-bit immediate (sign-extended for 64-bit operands).
    mutating func alu(_ operation: UInt8, _ dst: R, immediate v: UInt32, wide: Bool = false) {
        registerForm(0x81, w: wide, reg: operation, rm: dst)
        dword(v)
    }

    /// ALU operation with a memory source: op r32, [base + disp].
    mutating func alu(_ operation: UInt8, _ dst: R, _ base: R, _ disp: Int32) {
        memoryForm(UInt16(operation << 3 | 3), w: false, reg: dst.rawValue, base: base, disp: disp)
    }

    /// test r32, r32
    mutating func test(_ a: R, _ b: R) {
        registerForm(0x85, w: false, reg: b.rawValue, rm: a)
    }

    /// neg r32
    mutating func negate(_ r: R) {
        registerForm(0xF7, w: false, reg: 3, rm: r)
    }

    /// bt r64, r64 (CF = bit `bit` of r)
    mutating func bitTest(_ r: R, bit: R) {
        registerForm(0x0FA3, w: true, reg: bit.rawValue, rm: r)
    }

    /// ALU operation on the dword at [base + disp] with a 32-bit immediate.
    mutating func alu(_ operation: UInt8, _ base: R, _ disp: Int32, immediate v: UInt32) {
        memoryForm(0x81, w: false, reg: operation, base: base, disp: disp)
        dword(v)
    }

    /// cmp byte [base + index + disp], 0
    mutating func compareByteZero(_ base: R, index: R, _ disp: Int32) {
        memoryForm(0x80, w: false, reg: 7, base: base, index: index, disp: disp)
        byte(0)
    }

    /// Shift by an immediate: 4 SHL, 5 SHR, 7 SAR.
    mutating func shift(_ operation: UInt8, _ r: R, _ count: UInt8, wide: Bool = false) {
        registerForm(0xC1, w: wide, reg: operation, rm: r)
        byte(count)
    }

    /// movsxd r64, r32
    mutating func signExtend(_ dst: R, _ src: R) {
        registerForm(0x63, w: true, reg: dst.rawValue, rm: src)
    }

    /// bt r32, imm8 (CF = bit `bit` of r)
    mutating func bitTest(_ r: R, _ bit: UInt8) {
        registerForm(0x0FBA, w: false, reg: 4, rm: r)
        byte(bit)
    }

    // MARK: control

    /// jcc rel32 to be patched: returns the position of the displacement.
    mutating func jump(if cc: UInt8) -> Int {
        byte(0x0F); byte(0x80 | cc & 15)
        dword(0)
        return offset - 4
    }

    /// jmp rel32 to be patched: returns the position of the displacement.
    mutating func jump() -> Int {
        byte(0xE9)
        dword(0)
        return offset - 4
    }

    /// Points the rel32 at `position` to `target`.
    mutating func bind(_ position: Int, to target: Int) {
        patch32(at: position, Int32(target - (position + 4)))
    }

    mutating func push(_ r: R) {
        rex(w: false, reg: 0, base: r.rawValue)
        byte(0x50 + r.rawValue & 7)
    }

    mutating func pop(_ r: R) {
        rex(w: false, reg: 0, base: r.rawValue)
        byte(0x58 + r.rawValue & 7)
    }

    mutating func ret() { byte(0xC3) }
}
