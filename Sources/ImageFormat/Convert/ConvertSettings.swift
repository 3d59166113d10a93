/// What a conversion does with zero data, compression and the target's backing file.
public struct ConvertSettings: Sendable {
    /// Write clusters compressed with the target's compression type.
    public var compress = false
    /// Zero runs at least this long in allocated source data are not written (qemu-img -S);
    /// 0 writes every byte, allocating the whole target.
    public var sparseSize = 4096
    /// Worker threads reading, detecting zeros and compressing (qemu-img -m).
    public var workers = 8
    /// The target reads as zero everywhere (freshly created, or --target-is-zero), so
    /// zero ranges are skipped rather than written.
    public var targetReadsZero = true
    /// Turn source read errors into zeros with a warning (--salvage).
    public var salvage = false
    /// Write chunks as soon as they are ready rather than in guest order (qemu-img -W): a
    /// slow chunk does not stall the others, but a qcow2 target's layout then depends on
    /// timing (its guest contents do not).
    public var outOfOrder = false
    /// Guest bytes per pipeline job; a multiple of every allocation unit (cluster <= 2 MiB).
    public var chunkSize = 2 << 20

    public init() {}
}

/// What the writer does with one allocation unit of a chunk.
enum UnitAction: Equatable {
    /// Nothing: the target already reads right there.
    case skip
    /// Make it read as zero.
    case zero
    /// Write the chunk's bytes.
    case data
    /// Store these compressed bytes.
    case compressed([UInt8])
}

/// One piece of work, in guest order.
enum ConvertJob {
    /// A range the source reports as zero throughout (any length).
    case zero(start: UInt64, length: UInt64)
    /// One chunk with the source's extents for it.
    case data(start: UInt64, length: Int, extents: [Extent])
}

/// Where a data chunk's bytes live: a pooled buffer a worker read them into, or a window
/// of the mapped source file (no copy at all).
enum ChunkBytes {
    case none
    case pooled(ChunkBuffer)
    case mapped(MappedFile, UnsafeRawBufferPointer)

    var view: UnsafeRawBufferPointer {
        switch self {
        case .none: return UnsafeRawBufferPointer(start: nil, count: 0)
        case .pooled(let buffer): return UnsafeRawBufferPointer(buffer.bytes)
        case .mapped(_, let window): return window
        }
    }

    /// Gives the bytes back once nothing reads them any more.
    func release(to pool: BufferPool) {
        switch self {
        case .none: break
        case .pooled(let buffer): pool.give(buffer)
        case .mapped(let file, let window): file.done(with: window)
        }
    }

    /// The error to report for a failed copy out of these bytes: the source's, when a mapped
    /// source lost the pages (it shrank while being read), else `error` itself.
    func explain(_ error: Error) -> Error {
        if case .mapped(let file, let window) = self, let lost = file.lostError(window) { return lost }
        return error
    }
}

/// A processed job, ready for the writer.
struct ConvertChunk {
    var start: UInt64
    var length: UInt64
    /// The guest bytes (data jobs only), padded with zeros to whole units.
    var bytes = ChunkBytes.none
    var unitSize = 0
    var actions: [UnitAction] = []
    /// Read errors turned into zeros (--salvage), for the user.
    var warnings: [String] = []
}
