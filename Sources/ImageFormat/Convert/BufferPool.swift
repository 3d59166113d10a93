
/// A chunk buffer: page-aligned memory with a stable address, so a chunk's bytes can be
/// handed between threads as a pointer whichever way they were produced.
final class ChunkBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(count: Int) {
        bytes = .allocate(byteCount: count, alignment: 4096)
    }

    deinit { bytes.deallocate() }
}

/// Chunk buffers handed back by the writer for workers to reuse. Allocating a fresh
/// 2 MiB buffer per chunk costs a fresh mapping and a page fault per page (and the
/// faults of several threads contend for the same lock), more than the copy itself.
final class BufferPool: @unchecked Sendable {
    private let lock = Mutex()
    private var free: [ChunkBuffer] = []
    /// Buffers kept at most; the pipeline window bounds how many are in use anyway.
    private let limit = 64

    /// A buffer of exactly `count` bytes with unspecified contents.
    func take(count: Int) -> ChunkBuffer {
        lock.lock()
        let i = free.lastIndex { $0.bytes.count == count }
        let buffer = i.map { free.remove(at: $0) }
        lock.unlock()
        return buffer ?? ChunkBuffer(count: count)
    }

    func give(_ buffer: ChunkBuffer) {
        lock.lock()
        if free.count < limit { free.append(buffer) }
        lock.unlock()
    }
}
