
/// Chunk buffers handed back by the writer for workers to reuse. Allocating a fresh
/// 2 MiB buffer per chunk costs a fresh mapping and a page fault per page (and the
/// faults of several threads contend for the same lock), more than the copy itself.
final class BufferPool: @unchecked Sendable {
    private let lock = Mutex()
    private var free: [[UInt8]] = []
    /// Buffers kept at most; the pipeline window bounds how many are in use anyway.
    private let limit = 64

    /// A buffer of exactly `count` bytes with unspecified contents.
    func take(count: Int) -> [UInt8] {
        lock.lock()
        let i = free.lastIndex { $0.count == count }
        let buffer = i.map { free.remove(at: $0) }
        lock.unlock()
        return buffer ?? [UInt8](repeating: 0, count: count)
    }

    func give(_ buffer: [UInt8]) {
        guard !buffer.isEmpty else { return }
        lock.lock()
        if free.count < limit { free.append(buffer) }
        lock.unlock()
    }
}
