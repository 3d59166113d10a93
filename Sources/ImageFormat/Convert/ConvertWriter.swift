/// The one thread that touches the target: applies processed chunks in guest order, so
/// host offsets (and so the output's bytes) are the same whatever the number of workers.
final class ConvertWriter {
    let target: BlockDevice
    /// The target's backing file (overlay targets): zero ranges are only written where it
    /// does not already read as zero.
    let backing: BlockDevice?
    let settings: ConvertSettings
    /// Source size: bytes past it are never written.
    let total: UInt64

    init(target: BlockDevice, backing: BlockDevice?, settings: ConvertSettings, total: UInt64) {
        self.target = target
        self.backing = backing
        self.settings = settings
        self.total = total
    }

    func apply(_ chunk: ConvertChunk) throws {
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
                    try chunk.bytes.withUnsafeBytes { buf in
                        let from = Int(offset - chunk.start)
                        try target.write(UnsafeRawBufferPointer(rebasing: buf[from..<(from + Int(end - offset))]), at: offset)
                    }
                }
                i = j
            }
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
