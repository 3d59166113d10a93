/// What host code (HostBlockCompiler.swift) reads and writes besides the guest registers
/// and memory: the lazy flag record (LazyFlags.swift), FLAGS as stored, and the budget
/// before the block's first micro-op (see `runCompiled`). The runner copies these in
/// before a call and back after it, so the CPU's own fields stay where Swift keeps them.
struct HostFrame {
    var lazyWide: UInt64 = 0
    var lazyA: UInt32 = 0
    var lazyB: UInt32 = 0
    var lazyOp: UInt8 = 0
    var lazyBits: UInt8 = 0
    var flagBits: UInt32 = 0
    var startRemaining: UInt64 = 0

    /// Field offsets for the generated code.
    static let wide = Int32(MemoryLayout<HostFrame>.offset(of: \.lazyWide)!)
    static let a = Int32(MemoryLayout<HostFrame>.offset(of: \.lazyA)!)
    static let b = Int32(MemoryLayout<HostFrame>.offset(of: \.lazyB)!)
    static let op = Int32(MemoryLayout<HostFrame>.offset(of: \.lazyOp)!)
    static let bits = Int32(MemoryLayout<HostFrame>.offset(of: \.lazyBits)!)
    static let flags = Int32(MemoryLayout<HostFrame>.offset(of: \.flagBits)!)
    static let remaining = Int32(MemoryLayout<HostFrame>.offset(of: \.startRemaining)!)
}

/// A compiled block's host code: called with the frame, returns the index of the micro-op
/// the runner goes on with (the guest state is exact before it).
typealias HostBlockFunction = @convention(c) (UnsafeMutableRawPointer) -> Int
