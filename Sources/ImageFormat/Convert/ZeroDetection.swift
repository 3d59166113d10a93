#if canImport(Glibc)
import Glibc
#endif

/// Finding zero bytes in data the source calls allocated, the way qemu-img convert does
/// for sparse output: the buffer is looked at in 512-byte sectors, and a run of zero
/// sectors only counts when it is at least the sparse size (-S) long.
enum ZeroDetection {
    static let sector = 512

    /// A page of zeros to compare against: the C library's memcmp is vectorized, which
    /// beats a Swift loop by a wide margin on the gigabytes a conversion scans.
    private static let zeroPage = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 64)
        .initializeMemory(as: UInt8.self, repeating: 0, count: 4096))

    /// True when every byte is zero.
    static func isZero(_ buf: UnsafeRawBufferPointer) -> Bool {
        guard var p = buf.baseAddress else { return true }
        var n = buf.count
        while n > 0 {
            let k = min(n, 4096)
            if memcmp(p, zeroPage, k) != 0 { return false }
            p += k
            n -= k
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
