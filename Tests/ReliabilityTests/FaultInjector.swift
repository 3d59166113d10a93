import ImageFormat
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which host operation a fault hits.
enum FaultKind: String, CaseIterable {
    case write, sync, read
}

/// Fail the `n`th operation of `kind` (1-based) with `errno`; a persistent fault also fails
/// every later one (a full disk stays full), a transient one fails only the `n`th.
struct FaultPlan: CustomStringConvertible {
    var kind: FaultKind
    var n: Int
    var errno: Int32
    var persistent: Bool

    var description: String {
        "\(persistent ? "every" : "only the") \(kind) from #\(n) fails with \(errno == ENOSPC ? "ENOSPC" : "EIO")"
    }
}

/// The same seam as the recorder, used to count operations (no plan) or to fail one.
final class FaultInjector: HostFileObserver {
    let plan: FaultPlan?
    private(set) var counts: [FaultKind: Int] = [:]
    private(set) var fired = 0
    /// The file the injected fault hit (the image or one of its backing files).
    private(set) var failedPath: String?
    var paused = false

    init(plan: FaultPlan?) { self.plan = plan }

    private func hit(_ kind: FaultKind, _ file: HostFile, _ what: String) throws {
        guard !paused else { return }
        let n = (counts[kind] ?? 0) + 1
        counts[kind] = n
        guard let plan, plan.kind == kind, n == plan.n || (plan.persistent && n > plan.n) else { return }
        fired += 1
        if ProcessInfo.processInfo.environment["IMG_FAULT_TRACE"] != nil {
            // Which code issued the failing operation (addresses: resolve with addr2line).
            print("fault: \(kind) #\(n): \(what) \(file.path)")
            for frame in Thread.callStackSymbols.prefix(16) { print("  " + frame) }
        }
        failedPath = file.path
        throw ImageError.io(path: file.path, operation: what, errno: plan.errno)
    }

    func willWrite(_ file: HostFile, offset: UInt64, bytes: UnsafeRawBufferPointer) throws {
        try hit(.write, file, "write at offset \(offset) of")
    }
    func willSync(_ file: HostFile) throws { try hit(.sync, file, "flush") }
    func willTruncate(_ file: HostFile, to length: UInt64) throws { try hit(.write, file, "truncate") }
    func willRead(_ file: HostFile, offset: UInt64, count: Int) throws {
        try hit(.read, file, "read at offset \(offset) of")
    }
    func willDeallocate(_ file: HostFile, offset: UInt64, length: UInt64) throws {
        try hit(.write, file, "discard at offset \(offset) of")
    }
}
