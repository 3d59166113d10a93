#if canImport(Glibc)
import Glibc
#endif

/// Check messages go to stderr like QEMU's, but through one buffer: a damaged image can
/// produce millions of lines, and one write(2) per line would dominate the check's time.
package final class BufferedLog: @unchecked Sendable {
    private var buffer: [UInt8] = []
    private let fd: Int32

    package init(fd: Int32 = 2) {
        self.fd = fd
        buffer.reserveCapacity(1 << 16)
    }

    deinit { flush() }

    package func line(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        buffer.append(10)
        if buffer.count >= 1 << 16 { flush() }
    }

    package func flush() {
        var done = 0
        buffer.withUnsafeBytes { b in
            while done < b.count {
                let n = write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; break }
                done += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
