#if canImport(Glibc)
import Glibc
#endif

extension HostFile {
    /// Reads at most `buffer.count` bytes at `offset`, stopping at the end of the file, and
    /// returns how many it read (0 past the end). Saves a size query where a caller only
    /// needs to know whether the bytes exist.
    package func readAvailable(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        try observer?.willRead(self, offset: offset, count: buffer.count)
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.io(path: path, operation: "read at offset \(offset + UInt64(done)) of", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}
