// Shared by the libFuzzer targets (built by scripts/fuzz.sh into one module with the
// ImageFormat sources) and by FuzzRegressionTests (which import ImageFormat).
#if canImport(ImageFormat)
import ImageFormat
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What each fuzz target does with one input, written to a scratch file first.
enum FuzzBodies {
    /// Guest bytes one input may make the read-all target read (bounds time and memory).
    static let readBudget: UInt64 = 32 << 20

    /// Writes the input to a per-process scratch file and runs `body` on its path.
    static func withFile(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: (String) -> Void) {
        let path = "/tmp/img-fuzz-\(getpid()).img"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        var done = 0
        while done < size, let data {
            let n = write(fd, data + done, size - done)
            if n <= 0 { break }
            done += n
        }
        close(fd)
        body(path)
    }

    static func openDevice(_ path: String) -> BlockDevice? {
        var options = ImageOpenOptions()
        // The backing file an input names could be anything on this host (a FIFO would hang).
        options.qcow2.openBacking = false
        return try? openImage(path: path, format: nil, options: options)
    }

    /// open + info: the fields `img info` prints, and the map of the whole disk.
    static func openInfo(path: String) {
        guard let image = openDevice(path) else { return }
        defer { try? image.close() }
        var sink = image.virtualSize
        if let q = image as? Qcow2Image {
            sink &+= UInt64(q.snapshots.count) &+ UInt64(q.featureNames.count) &+ UInt64(q.clusterSize)
            sink &+= UInt64(q.backingFileName?.count ?? 0) &+ UInt64(q.backingFormat?.count ?? 0)
            sink &+= q.isDirty ? 1 : 0
        }
        if let extents = try? image.blockStatus(at: 0, length: image.virtualSize) { sink &+= UInt64(extents.count) }
        blackHole(sink)
    }

    /// open + read of every cluster that holds data, up to `readBudget` bytes.
    static func openReadAll(path: String) {
        guard let image = openDevice(path) else { return }
        defer { try? image.close() }
        guard let extents = try? image.blockStatus(at: 0, length: image.virtualSize) else { return }
        var budget = readBudget
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for e in extents where e.present && !e.zero {
            var pos = e.start
            let end = e.start + min(e.length, budget)
            while pos < end {
                let n = Int(min(UInt64(buffer.count), end - pos))
                let ok = buffer.withUnsafeMutableBytes { buf in
                    (try? image.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<n]), at: pos)) != nil
                }
                if !ok { break }
                pos += UInt64(n)
            }
            budget -= min(e.length, budget)
            if budget == 0 { break }
        }
        blackHole(UInt64(buffer[0]))
    }

    @inline(never)
    static func blackHole(_ value: UInt64) {
        if value == 0x1234_5678_9ABC_DEF0 { print("") }
    }
}
