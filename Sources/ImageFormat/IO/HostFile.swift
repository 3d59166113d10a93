import CHost
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A host file opened for image I/O. Thin typed wrappers over the syscalls: every error
/// carries errno and the path, EINTR is retried here and nowhere else, short transfers loop.
// Linux values; Glibc does not export them without _GNU_SOURCE.
private let seekData: Int32 = 3
private let seekHole: Int32 = 4

/// Sees every host write, sync, truncate and read before it happens, and may fail it.
/// The reliability harness records crash points and injects I/O errors through this seam.
public protocol HostFileObserver: AnyObject {
    func willWrite(_ file: HostFile, offset: UInt64, bytes: UnsafeRawBufferPointer) throws
    func willSync(_ file: HostFile) throws
    func willTruncate(_ file: HostFile, to length: UInt64) throws
    func willRead(_ file: HostFile, offset: UInt64, count: Int) throws
    /// A range about to read as zero through hole punching.
    func willDeallocate(_ file: HostFile, offset: UInt64, length: UInt64) throws
}

public final class HostFile {
    public let path: String
    public private(set) var fd: Int32
    public let writable: Bool
    /// Observer of this file's I/O; new files take `HostFile.observerForNewFiles`.
    public var observer: HostFileObserver?
    /// Set by test harnesses before opening images; nil in normal use.
    nonisolated(unsafe) public static var observerForNewFiles: HostFileObserver?

    public enum Mode { case readOnly, readWrite, create }

    public init(path: String, mode: Mode) throws {
        self.path = path
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY | O_CLOEXEC
        case .readWrite: flags = O_RDWR | O_CLOEXEC
        // No O_TRUNC: creators take the image lock first and truncate after, so creating
        // over an image another process is using fails without destroying it.
        case .create: flags = O_RDWR | O_CREAT | O_CLOEXEC
        }
        var fd: Int32
        repeat { fd = open(path, flags, 0o644) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw ImageError.io(path: path, operation: "open", errno: errno) }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw ImageError.io(path: path, operation: "open", errno: EISDIR)
        }
        self.fd = fd
        self.writable = mode != .readOnly
        self.observer = HostFile.observerForNewFiles
    }

    deinit { closeDescriptor() }

    /// Closes the descriptor now, releasing its locks; later I/O fails with EBADF.
    public func closeDescriptor() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    /// Reads exactly `count` bytes at `offset`; bytes past the end of the file read as zero
    /// (a qcow2 file's last cluster may be short, as QEMU allows).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        let done = try readAvailable(into: buffer, at: offset)
        if done < buffer.count { memset(buffer.baseAddress! + done, 0, buffer.count - done) }
    }

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

    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        return bytes
    }

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard writable else { throw ImageError.readOnly(path: path) }
        try observer?.willWrite(self, offset: offset, bytes: buffer)
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw ImageError.io(path: path, operation: "write at offset \(offset + UInt64(done)) of", errno: errno)
            }
            done += n
        }
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    public func sync() throws {
        try observer?.willSync(self)
        var r: Int32
        repeat { r = fsync(fd) } while r < 0 && errno == EINTR
        if r < 0 { throw ImageError.io(path: path, operation: "flush", errno: errno) }
    }

    public func size() throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageError.io(path: path, operation: "stat", errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFBLK {
            let end = lseek(fd, 0, SEEK_END)
            return end < 0 ? 0 : UInt64(end)
        }
        return UInt64(st.st_size)
    }

    /// Bytes the file occupies on the host (st_blocks * 512), qemu-img's "disk size".
    public func allocatedSize() throws -> UInt64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ImageError.io(path: path, operation: "stat", errno: errno) }
        return UInt64(st.st_blocks) * 512
    }

    public func truncate(to length: UInt64) throws {
        guard writable else { throw ImageError.readOnly(path: path) }
        try observer?.willTruncate(self, to: length)
        var r: Int32
        repeat { r = ftruncate(fd, off_t(length)) } while r < 0 && errno == EINTR
        if r < 0 { throw ImageError.io(path: path, operation: "truncate", errno: errno) }
    }

    /// Reserves blocks without writing them; falls back to writing zeroes where the host
    /// file system lacks fallocate.
    public func allocate(offset: UInt64, length: UInt64) throws {
        guard length > 0 else { return }
        var r: Int32
        repeat { r = img_fallocate(fd, 0, Int64(offset), Int64(length)) } while r < 0 && errno == EINTR
        if r == 0 { return }
        if errno != EOPNOTSUPP && errno != ENOSYS {
            throw ImageError.io(path: path, operation: "fallocate", errno: errno)
        }
        try writeZeroes(offset: offset, length: length)
    }

    /// Writes real zero bytes (preallocation=full).
    public func writeZeroes(offset: UInt64, length: UInt64) throws {
        let chunk = 1 << 20
        let zeroes = [UInt8](repeating: 0, count: chunk)
        var pos = offset
        let end = offset + length
        while pos < end {
            let n = Int(min(UInt64(chunk), end - pos))
            try zeroes.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<n]), at: pos) }
            pos += UInt64(n)
        }
    }

    /// Deallocates a range so it reads as zero (used by raw discard / write-zeroes).
    public func punchHole(offset: UInt64, length: UInt64) throws -> Bool {
        let FALLOC_FL_KEEP_SIZE: Int32 = 1, FALLOC_FL_PUNCH_HOLE: Int32 = 2
        try observer?.willDeallocate(self, offset: offset, length: length)
        var r: Int32
        repeat {
            r = img_fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, Int64(offset), Int64(length))
        } while r < 0 && errno == EINTR
        return r == 0
    }

    /// The next data offset at or after `offset` (seekData), or nil when none (ENXIO).
    public func nextData(from offset: UInt64) -> UInt64? {
        let r = lseek(fd, off_t(offset), seekData)
        if r < 0 { return errno == ENXIO ? nil : offset }
        return UInt64(r)
    }

    /// The next hole at or after `offset` (seekHole); the file end counts as a hole.
    public func nextHole(from offset: UInt64) -> UInt64 {
        let r = lseek(fd, off_t(offset), seekHole)
        if r < 0 { return (try? size()) ?? offset }
        return UInt64(r)
    }
}
