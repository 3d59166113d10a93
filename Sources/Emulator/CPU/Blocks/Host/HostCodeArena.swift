#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Executable memory for host-code blocks, filled from the start and emptied with the
/// block cache. Only on x86-64 Linux; elsewhere, or when the system refuses executable
/// mappings, there is none and every block runs as micro-ops.
final class HostCodeArena {
    static let capacity = 4 << 20
    /// Block entries below this are run counts (see HostCodeWarmUp.swift); `none` marks a
    /// block without host code; offsets start at 16.
    static let compileAfter: UInt32 = 4
    static let none: UInt32 = 8

    let base: UnsafeMutableRawPointer
    /// Offsets below 16 are never handed out (they are counts or `none`).
    private var used = 16

    init?() {
        #if arch(x86_64) && os(Linux)
        let p = mmap(nil, HostCodeArena.capacity, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else { return nil }
        base = p
        #else
        return nil
        #endif
    }

    deinit { munmap(base, HostCodeArena.capacity) }

    /// Copies `code` in; its offset (16 or more), or nil when the arena is full.
    func add(_ code: [UInt8]) -> UInt32? {
        let start = (used + 15) & ~15
        guard start + code.count <= HostCodeArena.capacity else { return nil }
        code.withUnsafeBytes { (base + start).copyMemory(from: $0.baseAddress!, byteCount: code.count) }
        used = start + code.count
        return UInt32(start)
    }

    func function(at offset: UInt32) -> HostBlockFunction {
        unsafeBitCast(base + Int(offset), to: HostBlockFunction.self)
    }

    func flush() { used = 16 }
}
