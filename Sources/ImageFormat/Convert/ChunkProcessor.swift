#if canImport(Glibc)
import Glibc
#endif

/// The work one pipeline worker does for a data job, on its own read handles (images are
/// not thread-safe, so every worker opens the source, and the new backing file, itself):
/// read, find zeros, compare with the target's backing file, compress.
final class ChunkProcessor {
    let source: BlockDevice
    /// The target's backing file when the target is an overlay (-B): units that read the
    /// same there are skipped.
    let backing: BlockDevice?
    let settings: ConvertSettings
    let unitSize: Int
    let compressor: ClusterCompressor?
    /// Compression unit (the target's cluster size) when compressing.
    let clusterSize: Int
    /// Chunk buffers, shared with the writer that gives them back.
    let pool: BufferPool
    /// The source file mapped (raw sources), read in place instead of into a buffer.
    let mapped: MappedFile?

    init(source: BlockDevice, backing: BlockDevice?, settings: ConvertSettings, unitSize: Int,
         compression: Qcow2Feature.CompressionType?, clusterSize: Int, pool: BufferPool, mapped: MappedFile?) {
        self.source = source
        self.backing = backing
        self.settings = settings
        self.unitSize = unitSize
        self.compressor = compression.map { ClusterCompressor(type: $0) }
        self.clusterSize = clusterSize
        self.pool = pool
        self.mapped = mapped
    }

    func process(_ job: ConvertJob) throws -> ConvertChunk {
        switch job {
        case let .zero(start, length):
            return ConvertChunk(start: start, length: length)
        case let .data(start, length, extents):
            return try processData(start: start, length: length, extents: extents)
        }
    }

    private func processData(start: UInt64, length: Int, extents: [Extent]) throws -> ConvertChunk {
        let unit = compressor != nil ? clusterSize : unitSize
        let padded = (length + unit - 1) / unit * unit
        var chunk = ConvertChunk(start: start, length: UInt64(length))
        chunk.unitSize = unit
        let sectors = (length + ZeroDetection.sector - 1) / ZeroDetection.sector
        var known = [Bool](repeating: false, count: sectors)
        if let mapped, let window = mappedWindow(start: start, length: length, padded: padded, extents: extents) {
            chunk.bytes = .mapped(mapped, window)
        } else {
            let buffer = pool.take(count: padded)
            chunk.bytes = .pooled(buffer)
            chunk.warnings = try fill(buffer.bytes, start: start, length: length, extents: extents, known: &known)
        }
        let bytes = chunk.bytes.view
        let zeroSectors = ZeroDetection.zeroSectors(UnsafeRawBufferPointer(rebasing: bytes[0..<length]), known: known,
                                                    minRun: settings.sparseSize)
        if case .mapped(let file, _) = chunk.bytes { try file.checkReadable() }
        var backingBytes: [UInt8] = []
        if let backing {
            backingBytes = [UInt8](repeating: 0, count: padded)
            try readBacking(backing, into: &backingBytes, at: start, length: length)
        }
        let units = padded / unit
        var actions: [UnitAction] = []
        actions.reserveCapacity(units)
        for u in 0..<units {
            let lo = u * unit, hi = min(lo + unit, length)
            let unitBytes = UnsafeRawBufferPointer(rebasing: bytes[lo..<(lo + unit)])
            let zero = unitIsZero(zeroSectors, lo, hi, unitBytes)
            if !backingBytes.isEmpty {
                let same = backingBytes.withUnsafeBytes { b in
                    zero ? ZeroDetection.isZero(UnsafeRawBufferPointer(rebasing: b[lo..<hi]))
                         : memcmp(b.baseAddress! + lo, unitBytes.baseAddress!, hi - lo) == 0
                }
                if same { actions.append(.skip); continue }
                if zero { actions.append(.zero); continue }
            } else if zero {
                actions.append(settings.targetReadsZero ? .skip : .zero)
                continue
            }
            actions.append(compressIfAsked(unitBytes))
        }
        chunk.actions = actions
        return chunk
    }

    /// The chunk as a window of the mapped source: only when it is one run of data in whole
    /// units (hole pages are never touched, since reading one through a mapping of a tmpfs
    /// file would allocate it).
    private func mappedWindow(start: UInt64, length: Int, padded: Int, extents: [Extent]) -> UnsafeRawBufferPointer? {
        guard let mapped, padded == length, extents.count == 1, let e = extents.first,
              e.data, !e.zero, e.start == start, e.length == UInt64(length) else { return nil }
        return mapped.bytes(at: start, count: length)
    }

    /// Reads the chunk's extents into `buffer` (holes as zeros, marked known) and clears the
    /// padding; returns the --salvage warnings.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, start: UInt64, length: Int, extents: [Extent],
                      known: inout [Bool]) throws -> [String] {
        // A pooled buffer holds old data: every byte not read is cleared.
        UnsafeMutableRawBufferPointer(rebasing: buffer[length...]).initializeMemory(as: UInt8.self, repeating: 0)
        var warnings: [String] = []
        for e in extents {
            let from = Int(e.start - start), to = from + Int(e.length)
            let dst = UnsafeMutableRawBufferPointer(rebasing: buffer[from..<to])
            if e.zero && !e.data {
                markKnown(&known, from, to, length: length)
                dst.initializeMemory(as: UInt8.self, repeating: 0)
                continue
            }
            warnings += try readSalvaging(source, into: dst, at: e.start)
        }
        return warnings
    }

    /// Marks the sectors wholly inside [from, to) (a short last sector at the chunk end
    /// counts when the range reaches that end).
    private func markKnown(_ known: inout [Bool], _ from: Int, _ to: Int, length: Int) {
        let s = ZeroDetection.sector
        var i = (from + s - 1) / s
        while i < known.count && min((i + 1) * s, length) <= to { known[i] = true; i += 1 }
    }

    /// Whether unit [lo, hi) reads zero in the output. Compressed output skips any all-zero
    /// cluster (as qemu-img does); otherwise sectors decide, with -S's minimum run length.
    private func unitIsZero(_ zeroSectors: [Bool], _ lo: Int, _ hi: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard settings.sparseSize > 0 else { return false }
        if compressor != nil { return ZeroDetection.isZero(bytes) }
        let first = lo / ZeroDetection.sector, last = (hi + ZeroDetection.sector - 1) / ZeroDetection.sector
        for i in first..<last where !zeroSectors[i] { return false }
        return true
    }

    private func compressIfAsked(_ cluster: UnsafeRawBufferPointer) -> UnitAction {
        guard let compressor else { return .data }
        // Stored uncompressed when compression does not make it shorter than a cluster.
        guard let out = compressor.compress(cluster, limit: clusterSize - 1) else {
            return .data
        }
        return .compressed(out)
    }

    /// The backing file's bytes for the chunk; past its end it reads as zero.
    private func readBacking(_ backing: BlockDevice, into bytes: inout [UInt8], at start: UInt64, length: Int) throws {
        guard start < backing.virtualSize else { return }
        let n = Int(min(UInt64(length), backing.virtualSize - start))
        let status = try backing.blockStatus(at: start, length: UInt64(n))
        try bytes.withUnsafeMutableBytes { buf in
            for e in status where !(e.zero && !e.data) {
                let from = Int(e.start - start)
                try backing.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[from..<(from + Int(e.length))]), at: e.start)
            }
        }
    }

    /// Reads the range; with --salvage a failing range is retried sector by sector and
    /// the sectors that still fail read as zero. Returns warnings naming those ranges.
    func readSalvaging(_ device: BlockDevice, into dst: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> [String] {
        do {
            try device.read(into: dst, at: offset)
            return []
        } catch {
            guard settings.salvage else { throw error }
        }
        var warnings: [String] = []
        var bad: (start: UInt64, length: UInt64, error: String)?
        func report() {
            if let b = bad {
                warnings.append("error while reading offset \(b.start) (\(b.length) bytes): \(b.error); written as zeros")
            }
            bad = nil
        }
        var done = 0
        while done < dst.count {
            let n = min(ZeroDetection.sector - Int((offset + UInt64(done)) % UInt64(ZeroDetection.sector)), dst.count - done)
            let piece = UnsafeMutableRawBufferPointer(rebasing: dst[done..<(done + n)])
            let at = offset + UInt64(done)
            do {
                try device.read(into: piece, at: at)
                report()
            } catch {
                piece.initializeMemory(as: UInt8.self, repeating: 0)
                if let b = bad, b.start + b.length == at { bad!.length += UInt64(n) }
                else { report(); bad = (at, UInt64(n), "\(error)") }
            }
            done += n
        }
        report()
        return warnings
    }
}
