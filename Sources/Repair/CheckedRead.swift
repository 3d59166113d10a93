import ImageFormat
#if canImport(Glibc)
import Glibc
#endif

/// Reads at offsets taken from a possibly hostile file. Offsets the host cannot address
/// (past INT64_MAX, where QEMU's reads fail with EIO) become an I/O error instead of a trap
/// in the offset conversion; bytes past the end of the file read as zero, as in QEMU.
extension HostFile {
    func checkedRead(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard offset <= UInt64(Int64.max) - UInt64(buffer.count) else {
            throw ImageError.io(path: path, operation: "read at offset \(offset) of", errno: EIO)
        }
        try read(into: buffer, at: offset)
    }

    func checkedRead(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try checkedRead(into: $0, at: offset) }
        return bytes
    }
}
