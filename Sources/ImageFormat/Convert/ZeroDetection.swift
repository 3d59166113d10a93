/// Finding zero bytes in data the source calls allocated, the way qemu-img convert does
/// for sparse output: the buffer is looked at in 512-byte sectors, and a run of zero
/// sectors only counts when it is at least the sparse size (-S) long.
enum ZeroDetection {
    static let sector = 512

    /// True when every byte is zero. Word-sized loads; stops at the first non-zero word.
    static func isZero(_ buf: UnsafeRawBufferPointer) -> Bool {
        guard let base = buf.baseAddress else { return true }
        let n = buf.count
        var i = 0
        if Int(bitPattern: base) & 7 == 0 {
            while i + 32 <= n {
                let a = base.load(fromByteOffset: i, as: UInt64.self) | base.load(fromByteOffset: i + 8, as: UInt64.self)
                    | base.load(fromByteOffset: i + 16, as: UInt64.self) | base.load(fromByteOffset: i + 24, as: UInt64.self)
                if a != 0 { return false }
                i += 32
            }
        }
        while i < n {
            if base.load(fromByteOffset: i, as: UInt8.self) != 0 { return false }
            i += 1
        }
        return true
    }

    /// Per-sector zero flags for `buf`: `known[i]` marks sectors the source reported as
    /// zero (always zero in the output); other sectors count as zero only inside a run of
    /// zero sectors of at least `minRun` bytes. `minRun == 0` disables detection.
    static func zeroSectors(_ buf: UnsafeRawBufferPointer, known: [Bool], minRun: Int) -> [Bool] {
        let count = known.count
        var zero = known
        guard minRun > 0 else { return [Bool](repeating: false, count: count) }
        var i = 0
        while i < count {
            if known[i] { i += 1; continue }
            // A run of detected-zero sectors between known-zero or data sectors.
            var j = i
            while j < count && !known[j] && isZero(sectorBytes(buf, j)) { j += 1 }
            if j > i {
                let runBytes = min(j * sector, buf.count) - i * sector
                if runBytes >= minRun { for k in i..<j { zero[k] = true } }
                i = j
            } else {
                i += 1
            }
        }
        return zero
    }

    static func sectorBytes(_ buf: UnsafeRawBufferPointer, _ i: Int) -> UnsafeRawBufferPointer {
        let start = i * sector
        return UnsafeRawBufferPointer(rebasing: buf[start..<min(start + sector, buf.count)])
    }
}
