/// Which processor the interpreter imitates. The 8086 model reproduces the quirks the
/// conformance suite checks (aliased opcodes, PUSH SP, unmasked shift counts, FLAGS 12-15 set).
public enum CPUModel: Sendable { case i8086, i386 }

/// Why the CPU stopped running.
public enum StopReason: Equatable, Sendable {
    case tripleFault(String)
    case unsupported(String)
    case debugExit(Int32)
    case requested
}

public enum Reg { public static let ax = 0, cx = 1, dx = 2, bx = 3, sp = 4, bp = 5, si = 6, di = 7 }
public enum Seg { public static let es = 0, cs = 1, ss = 2, ds = 3, fs = 4, gs = 5 }

/// Receives software traps from the BIOS ROM stubs (opcode 0F FF nn).
public protocol TrapHandler: AnyObject {
    func trap(_ cpu: CPU, vector: UInt8)
}

/// Architectural state plus the per-instruction decode state. Instruction families live in
/// extensions, one file each; the dispatch switch is in Execute.swift.
public final class CPU {
    public let model: CPUModel
    public let mem: Memory
    public let io: IOBus
    public weak var trapHandler: TrapHandler?

    // General registers EAX..EDI, indexed by the ModRM encoding, and a ninth that always
    // reads 0 (the absent base or index of a decoded effective address).
    let regs = UnsafeMutablePointer<UInt32>.allocate(capacity: 9)
    // Segment caches, indexed ES CS SS DS FS GS.
    let segSel = UnsafeMutablePointer<UInt16>.allocate(capacity: 6)
    let segBase = UnsafeMutablePointer<UInt32>.allocate(capacity: 6)
    let segLimit = UnsafeMutablePointer<UInt32>.allocate(capacity: 6)
    /// Descriptor access byte (bits 0-7) and flags nibble (bits 12-15: G, D/B, L, AVL).
    let segAttr = UnsafeMutablePointer<UInt16>.allocate(capacity: 6)

    public var eip: UInt32 = 0
    /// FLAGS. The arithmetic bits may be pending in the lazy record (LazyFlags.swift):
    /// reading folds them in, writing drops the record.
    public var flags: UInt32 {
        get { if lazyOp != 0 { materializeFlags() }; return flagBits }
        set { flagBits = newValue; lazyOp = 0 }
    }
    /// FLAGS as stored: exact except for the arithmetic bits while `lazyOp` is nonzero.
    var flagBits: UInt32 = 2
    var lazyOp: UInt8 = 0
    var lazyBits: UInt8 = 8
    var lazyA: UInt32 = 0
    var lazyB: UInt32 = 0
    var lazyWide: UInt64 = 0
    public var cr0: UInt32 = 0
    public var cr2: UInt32 = 0, cr3: UInt32 = 0, cr4: UInt32 = 0
    public var gdtBase: UInt32 = 0, gdtLimit: UInt32 = 0xFFFF
    public var idtBase: UInt32 = 0, idtLimit: UInt32 = 0x3FF
    public var ldtSel: UInt16 = 0, ldtBase: UInt32 = 0, ldtLimit: UInt32 = 0
    public var trSel: UInt16 = 0, trBase: UInt32 = 0, trLimit: UInt32 = 0
    var dr = [UInt32](repeating: 0, count: 8)

    public var halted = false { didSet { updateAttention() } }
    public var stop: StopReason? { didSet { updateAttention() } }
    /// Whether the run loop must look at the end of an instruction: a limit fault to raise
    /// (`limitFaultVector`), a stop or a halt. One test per instruction instead of three.
    private(set) var attention = false
    /// Instructions retired. While `run` executes it is `runEnd - runRemaining`: the loop
    /// then only decrements `runRemaining`, and devices still read the exact count.
    public var instructionCount: UInt64 {
        get { runEnd &- runRemaining }
        set { runEnd = newValue &+ runRemaining }
    }
    var runEnd: UInt64 = 0
    var runRemaining: UInt64 = 0
    /// Budget set aside when an instruction asked for attention (see `updateAttention`).
    var runCut: UInt64 = 0
    /// Set by STI/MOV SS/POP SS: interrupts are not taken after the next instruction.
    var interruptShadow = false

    // Per-instruction decode state.
    var startEIP: UInt32 = 0
    /// Operand/address size, segment override and REP (see PrefixState.swift).
    var prefixes = PrefixState()
    var modrmMod = 0, modrmReg = 0, modrmRM = 0
    var eaSeg = Seg.ds
    var eaOff: UInt32 = 0
    /// Code segment default size (CS.D in protected mode).
    var codeBig = false {
        didSet {
            ipMask = codeBig ? 0xFFFF_FFFF : 0xFFFF
            codeTagBits = DecodedInstruction.tag(0, codeBig: codeBig, model: model)
            codeKey = codeTagBits | UInt64(segBase[Seg.cs])
        }
    }
    /// The decode-cache tag bits of the current code size, kept with `codeBig`.
    private(set) var codeTagBits: UInt64
    /// `codeTagBits` plus the CS base: adding EIP gives the decode-cache tag of CS:EIP in
    /// one step. A carry out of the 32-bit sum sets bit 32, which no kept tag has, so a
    /// wrapped address misses and the lookup takes the slow path.
    private(set) var codeKey: UInt64

    /// Every write of a segment base goes through here (CS also moves `codeKey`).
    func setSegmentBase(_ s: Int, _ base: UInt32) {
        segBase[s] = base
        if s == Seg.cs { codeKey = codeTagBits | UInt64(base) }
    }
    /// The instruction being executed: a slot of the decode cache, or `uncachedDecode`.
    var decoded: UnsafeMutablePointer<DecodedInstruction>
    /// Holds the decode of an instruction the cache may not keep (see `decodeCurrent`).
    let uncachedDecode = UnsafeMutablePointer<DecodedInstruction>.allocate(capacity: 1)
    let decodeCache: DecodeCache
    /// The cache's slots, held here so a lookup is one load from the CPU.
    let decodeSlots: UnsafeMutablePointer<DecodedInstruction>
    /// The block cache's headers and arenas, held here for the same reason; set when the
    /// cache is made, on the first 32-bit instruction (16-bit guests never pay for it).
    private(set) var blockHeaders: UnsafeMutablePointer<BlockHeader>?
    private(set) var blockOps: UnsafeMutablePointer<MicroOp>?
    private(set) var blockDecodes: UnsafeMutablePointer<DecodedInstruction>?
    private(set) var blockHostCode: UnsafeMutablePointer<UInt32>?
    private(set) var hostArena: HostCodeArena?
    /// Whether hot blocks also get host code (where the host can run it); read when the
    /// block cache is made. Off, every block runs as micro-ops (tests compare the two).
    public var useHostCode = true
    /// The state host code works on besides registers and memory (see HostFrame).
    let hostFrame = UnsafeMutablePointer<HostFrame>.allocate(capacity: 1)
    /// Instruction pointer mask of the code segment's size, kept with `codeBig` because
    /// every fetch applies it.
    private(set) var ipMask: UInt32 = 0xFFFF
    /// Exceptions raised so far by the instruction running (2: double fault, 3: triple).
    /// The count belongs to the instruction numbered `faultInstruction`, so the run loop
    /// need not clear it before every instruction.
    var faultDepth: Int {
        get { faultInstruction == instructionCount ? faultCount : 0 }
        set { faultCount = newValue; faultInstruction = instructionCount }
    }
    private var faultCount = 0
    private var faultInstruction = UInt64.max
    /// Bit n set: segment n is a protected-mode segment whose limit must be checked (not a
    /// flat 4 GiB expand-up one). Flat segments, the common case, cost one test per access.
    var limitCheckMask: UInt8 = 0
    /// Set by a memory access that broke a segment limit; the instruction is rolled back
    /// (registers and flags) and the fault raised when it ends.
    var limitFaultVector = -1 { didSet { updateAttention() } }
    let savedRegs = UnsafeMutablePointer<UInt32>.allocate(capacity: 8)
    var savedFlags: UInt32 = 0
    /// Whether an undefined opcode stops the machine (boot) instead of raising #UD.
    public var stopOnInvalidOpcode = false
    /// The opcode map, held here so the hot path skips the global's lazy-init check.
    let opcodeFamilies = OpcodeMap.families

    public init(model: CPUModel, memory: Memory, io: IOBus) {
        self.model = model
        codeTagBits = DecodedInstruction.tag(0, codeBig: false, model: model)
        codeKey = codeTagBits
        mem = memory
        self.io = io
        regs.initialize(repeating: 0, count: 9)
        uncachedDecode.initialize(to: DecodedInstruction())
        hostFrame.initialize(to: HostFrame())
        decoded = uncachedDecode
        decodeCache = memory.decodeCache
        decodeSlots = memory.decodeCache.slots
        segSel.initialize(repeating: 0, count: 6)
        segBase.initialize(repeating: 0, count: 6)
        segLimit.initialize(repeating: 0xFFFF, count: 6)
        segAttr.initialize(repeating: 0x93, count: 6)
        segAttr[Seg.cs] = 0x9B
        if model == .i8086 { flags = 0xF002 }
    }

    deinit {
        regs.deallocate(); savedRegs.deallocate(); segSel.deallocate(); segBase.deallocate()
        segLimit.deallocate(); segAttr.deallocate(); uncachedDecode.deallocate(); hostFrame.deallocate()
    }

    /// Makes the block cache (Blocks/BlockCache.swift).
    @inline(never) func activateBlocks() {
        let blocks = decodeCache.activateBlocks()
        blockHeaders = blocks.headers
        blockOps = blocks.ops
        blockDecodes = blocks.decodes
        blockHostCode = blocks.hostCode
        hostArena = useHostCode ? blocks.hostArena : nil
    }

    @inline(always) private func updateAttention() {
        attention = halted || stop != nil || limitFaultVector >= 0
        // Inside `run`, end its inner loop after this instruction by setting the rest of
        // the budget aside; the count the devices see stays the same.
        if attention && runRemaining > 1 {
            let rest = runRemaining &- 1
            runCut &+= rest
            runEnd &-= rest
            runRemaining = 1
        }
    }

    public var protectedMode: Bool { cr0 & 1 != 0 }
    public var cpl: Int { privilegeLevel }
    /// `cpl` for the interpreter (always inlined).
    @inline(always) var privilegeLevel: Int { cr0 & 1 != 0 ? Int(segSel[Seg.cs] & 3) : 0 }
    @inline(always) var stackBig: Bool { segAttr[Seg.ss] & 0x4000 != 0 }

    // MARK: public register access (BIOS, tests, tracing)

    public func reg32(_ i: Int) -> UInt32 { regs[i] }
    public func setReg32(_ i: Int, _ v: UInt32) { regs[i] = v }
    public func reg16(_ i: Int) -> UInt16 { UInt16(truncatingIfNeeded: regs[i]) }
    public func setReg16(_ i: Int, _ v: UInt16) { regs[i] = (regs[i] & 0xFFFF_0000) | UInt32(v) }
    public func reg8(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: regs[i & 3] >> UInt32((i >> 2) * 8)) }
    public func setReg8(_ i: Int, _ v: UInt8) {
        let sh = UInt32((i >> 2) * 8)
        regs[i & 3] = (regs[i & 3] & ~(0xFF << sh)) | (UInt32(v) << sh)
    }
    public func segment(_ s: Int) -> UInt16 { segSel[s] }
    public func segmentBase(_ s: Int) -> UInt32 { segBase[s] }

    /// Loads a segment the real-mode way (base = selector * 16), as the BIOS and tests do.
    /// The limit stays as it was (which is what "unreal mode" relies on); a cache left
    /// unusable by a null selector becomes a present read/write segment again.
    public func setSegmentReal(_ s: Int, _ v: UInt16) {
        segSel[s] = v
        setSegmentBase(s, UInt32(v) << 4)
        if s == Seg.cs { codeBig = false }
        if segAttr[s] & 0x80 == 0 { segAttr[s] = 0x93; segLimit[s] = 0xFFFF }
        limitCheckMask &= ~(1 << UInt8(s))
    }

    public var ip: UInt16 {
        get { UInt16(truncatingIfNeeded: eip) }
        set { eip = UInt32(newValue) }
    }

    /// Stops the run loop with `reason` (the first reason wins).
    public func halt(_ reason: StopReason) {
        if stop == nil { stop = reason }
    }

    /// "mode CS:IP" text used in fatal error messages.
    public var locationDescription: String {
        let mode = !protectedMode ? "real mode" : (codeBig ? "32-bit protected mode" : "16-bit protected mode")
        return "\(hex16(segSel[Seg.cs])):\(codeBig ? hex32(startEIP) : hex16(UInt16(truncatingIfNeeded: startEIP))) in \(mode)"
    }
}

func hex8(_ v: UInt8) -> String { let s = String(v, radix: 16, uppercase: true); return String(repeating: "0", count: 2 - s.count) + s }
func hex16(_ v: UInt16) -> String { let s = String(v, radix: 16, uppercase: true); return String(repeating: "0", count: 4 - s.count) + s }
func hex32(_ v: UInt32) -> String { let s = String(v, radix: 16, uppercase: true); return String(repeating: "0", count: 8 - s.count) + s }
