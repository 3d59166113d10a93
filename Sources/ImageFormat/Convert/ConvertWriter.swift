/// The one thread that touches the target: applies processed chunks in guest order, so
/// host offsets (and so the output's bytes) are the same whatever the number of workers.
/// Under -W (ConvertSettings.outOfOrder) chunks arrive as they are ready; each chunk covers
/// whole clusters, so nothing here depends on the order, only the host layout does.
final class ConvertWriter {
    let target: BlockDevice
    /// The target's backing file (overlay targets): zero ranges are only written where it
    /// does not already read as zero.
    let backing: BlockDevice?
    let settings: ConvertSettings
    /// Source size: bytes past it are never written.
    let total: UInt64

    /// Runs the data writes of raw targets and of freshly allocated qcow2 clusters.
    let writeBehind: WriteBehind
    /// Takes a chunk's buffer back once nothing reads it any more.
    let release: (ChunkBytes) -> Void
    /// Bytes the write-behind thread is done with, waiting for `releaseWritten`.
    private let written = Locked<[ChunkBytes]>([])

    init(target: BlockDevice, backing: BlockDevice?, settings: ConvertSettings, total: UInt64,
         writeBehind: WriteBehind, release: @escaping (ChunkBytes) -> Void) {
        self.target = target
        self.backing = backing
        self.settings = settings
        self.total = total
        self.writeBehind = writeBehind
        self.release = release
    }

    /// A data write whose target place is fixed: chunk bytes [from, from+count) go to
    /// `place` (a guest offset for raw targets, a reserved host offset for qcow2).
    private struct Deferred {
        var from: Int, count: Int, place: UInt64
    }

    /// Applies one chunk; its data writes may still be running on return.
    func apply(_ chunk: ConvertChunk) throws {
        var deferred: [Deferred] = []
        do {
            try applyActions(chunk, &deferred)
        } catch {
            release(chunk.bytes)
            throw error
        }
        releaseWritten()
        let bytes = chunk.bytes
        guard !deferred.isEmpty else { release(bytes); return }
        let target = self.target, written = self.written
        try writeBehind.submit {
            defer { written.withLock { $0.append(bytes) } }
            let buf = bytes.view
            do {
                for d in deferred {
                    let data = UnsafeRawBufferPointer(rebasing: buf[d.from..<(d.from + d.count)])
                    if let q = target as? Qcow2Image { try q.writeReserved(data, at: d.place) }
                    else { try target.write(data, at: d.place) }
                }
            } catch {
                throw bytes.explain(error)
            }
        }
    }

    /// Waits for every data write; the target may be flushed afterwards.
    func finish() throws {
        try writeBehind.drain()
        releaseWritten()
    }

    /// Releases the bytes the write-behind thread has written. Done here rather than there:
    /// dropping a mapped window's page-table entries would cost the data-writing thread,
    /// the conversion's bottleneck, about 6% of its time.
    private func releaseWritten() {
        for bytes in written.withLock({ list in defer { list.removeAll(keepingCapacity: true) }; return list }) {
            release(bytes)
        }
    }

    private func applyActions(_ chunk: ConvertChunk, _ deferred: inout [Deferred]) throws {
        guard !chunk.actions.isEmpty else {
            try zeroRange(chunk.start, chunk.length)
            return
        }
        let unit = UInt64(chunk.unitSize)
        var i = 0
        while i < chunk.actions.count {
            let offset = chunk.start + UInt64(i) * unit
            switch chunk.actions[i] {
            case .skip:
                i += 1
            case .compressed(let bytes):
                guard let q = target as? Qcow2Image else {
                    throw ImageError.invalidArgument("'\(target.filename)': compression needs a qcow2 target")
                }
                try q.writePrecompressed(bytes, at: offset)
                i += 1
            case .zero, .data:
                // Merge the run of units with the same action into one request.
                let action = chunk.actions[i]
                var j = i + 1
                while j < chunk.actions.count && chunk.actions[j] == action { j += 1 }
                let end = min(chunk.start + UInt64(j) * unit, chunk.start + chunk.length)
                if action == .zero {
                    try target.writeZeroes(at: offset, length: end - offset, mayUnmap: true)
                } else {
                    try writeData(chunk, from: offset, to: end, &deferred)
                }
                i = j
            }
        }
    }

    /// Guest bytes [start, end) of the chunk: raw targets and new qcow2 clusters are
    /// written later by the write-behind threads; the rest goes through the normal path.
    private func writeData(_ chunk: ConvertChunk, from start: UInt64, to end: UInt64, _ deferred: inout [Deferred]) throws {
        let base = chunk.start
        if target is RawImage {
            deferred.append(Deferred(from: Int(start - base), count: Int(end - start), place: start))
            return
        }
        let q = target as? Qcow2Image
        let clusterSize = UInt64(q?.clusterSize ?? 1)
        var pos = start
        while pos < end {
            if let q, let run = try q.reserveFreshClusters(at: pos, limit: Int((end - pos) / clusterSize)) {
                let n = UInt64(run.count) * clusterSize
                deferred.append(Deferred(from: Int(pos - base), count: Int(n), place: run.host))
                pos += n
                continue
            }
            // In place, copy-on-write or a partial cluster: at most one cluster at a time.
            let n = q == nil ? end - pos : min(end - pos, clusterSize - pos % clusterSize)
            let from = Int(pos - base)
            do {
                try target.write(UnsafeRawBufferPointer(rebasing: chunk.bytes.view[from..<(from + Int(n))]), at: pos)
            } catch {
                throw chunk.bytes.explain(error)
            }
            pos += n
        }
    }

    /// A range the source reads as zero throughout.
    private func zeroRange(_ start: UInt64, _ length: UInt64) throws {
        if let backing {
            // Only where the backing file has something else than zeros.
            guard start < backing.virtualSize else { return }
            let n = min(length, backing.virtualSize - start)
            for e in try backing.blockStatus(at: start, length: n) where !(e.zero && !e.data) {
                try target.writeZeroes(at: e.start, length: e.length, mayUnmap: true)
            }
            return
        }
        if settings.targetReadsZero { return }
        try target.writeZeroes(at: start, length: length, mayUnmap: true)
    }
}
