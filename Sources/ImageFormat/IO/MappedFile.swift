import CHost
#if canImport(Glibc)
import Glibc
#endif

/// A read-only shared mapping of a whole host file, for bulk readers (img convert of a raw
/// source): they scan and copy straight from the page cache instead of first copying every
/// byte into a buffer with pread. A page that cannot be read (the file shrank under us, or
/// the device failed) reads as zeros and is reported by `checkReadable`, not by SIGBUS.
final class MappedFile: @unchecked Sendable {
    let file: HostFile
    var path: String { file.path }
    let base: UnsafeRawPointer
    let length: Int
    private let guardSlot: Int32

    /// Maps `file` when it is a non-empty regular file nobody observes (the reliability
    /// harness sees reads through HostFile); nil when mapping is not possible or not useful.
    init?(_ file: HostFile) {
        var st = stat()
        guard file.observer == nil, fstat(file.fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG,
              st.st_size > 0, let size = Int(exactly: st.st_size) else { return nil }
        guard let address = mmap(nil, size, PROT_READ, MAP_SHARED, file.fd, 0), address != MAP_FAILED else {
            return nil
        }
        let slot = img_map_guard_add(address, size)
        guard slot >= 0 else { munmap(address, size); return nil }
        self.file = file
        base = UnsafeRawPointer(address)
        length = size
        guardSlot = slot
    }

    deinit {
        img_map_guard_remove(guardSlot)
        munmap(UnsafeMutableRawPointer(mutating: base), length)
    }

    /// Bytes [offset, offset + count), which must lie inside the file as it was mapped.
    func bytes(at offset: UInt64, count: Int) -> UnsafeRawBufferPointer? {
        guard let start = Int(exactly: offset), count >= 0, start <= length, count <= length - start else { return nil }
        return UnsafeRawBufferPointer(start: base + start, count: count)
    }

    /// Drops the range's page-table entries once nobody reads it any more: the page cache
    /// keeps the data, and the process's resident size stays bounded by what is in flight.
    func done(with range: UnsafeRawBufferPointer) {
        guard let start = range.baseAddress, range.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) - Int(bitPattern: base)) / page * page
        let end = Int(bitPattern: start) - Int(bitPattern: base) + range.count
        madvise(UnsafeMutableRawPointer(mutating: base + first), end - first, MADV_DONTNEED)
    }

    /// Throws when any page read so far could not be read.
    func checkReadable() throws {
        let offset = img_map_guard_fault(guardSlot)
        guard offset >= 0 else { return }
        throw unreadable(at: UInt64(offset))
    }

    /// The error for a failed copy out of `window` (the kernel reports a page it cannot read
    /// as EFAULT, not SIGBUS, when it does the copy): a read error of this file when the file
    /// no longer holds the whole window, nil when the failure was something else.
    func lostError(_ window: UnsafeRawBufferPointer) -> ImageError? {
        guard let start = window.baseAddress else { return nil }
        let offset = UInt64(start - base)
        guard let size = try? file.size(), size < offset + UInt64(window.count) else { return nil }
        return unreadable(at: max(offset, size))
    }

    private func unreadable(at offset: UInt64) -> ImageError {
        ImageError.io(path: path, operation: "read offset \(offset) of", errno: EIO)
    }
}
