#if canImport(Glibc)
import Glibc
#endif

/// Raw-deflate decompression through libdeflate when the system has it (Debian's
/// libdeflate0, which qemu's own dependencies usually pull in). A compressed cluster is
/// decompressed in one call with all its input and output at hand, the case libdeflate is
/// built for; it runs about 1.5 times as fast as zlib's inflate there, and decompression is
/// most of the time of converting a compressed image. Loaded at run time, so img neither
/// needs the library to build nor to run: without it, or for any stream it refuses, the
/// caller uses zlib, which stays the reference (QEMU accepts streams libdeflate rejects).
enum FastInflate {
    private typealias Alloc = @convention(c) () -> OpaquePointer?
    private typealias Free = @convention(c) (OpaquePointer?) -> Void
    private typealias Decompress = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int,
                                                    UnsafeMutableRawPointer?, Int, UnsafeMutablePointer<Int>?) -> Int32

    private struct Library {
        let alloc: Alloc
        let free: Free
        let decompress: Decompress
    }

    /// Looked up once; nil when the library or one of its symbols is missing, or when
    /// IMG_NO_LIBDEFLATE is set (to measure or test the zlib path).
    private static let library: Library? = {
        guard getenv("IMG_NO_LIBDEFLATE") == nil,
              let handle = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL),
              let alloc = dlsym(handle, "libdeflate_alloc_decompressor"),
              let free = dlsym(handle, "libdeflate_free_decompressor"),
              let decompress = dlsym(handle, "libdeflate_deflate_decompress") else { return nil }
        return Library(alloc: unsafeBitCast(alloc, to: Alloc.self), free: unsafeBitCast(free, to: Free.self),
                       decompress: unsafeBitCast(decompress, to: Decompress.self))
    }()

    static var isAvailable: Bool { library != nil }

    /// Decompresses a raw deflate stream that must fill `output` exactly; trailing input
    /// bytes are ignored. False when unavailable or the stream is not such a stream.
    static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        guard let lib = library, let d = lib.alloc() else { return false }
        defer { lib.free(d) }
        var produced = 0
        // 0 is LIBDEFLATE_SUCCESS.
        let result = lib.decompress(d, input.baseAddress, input.count, output.baseAddress, output.count, &produced)
        return result == 0 && produced == output.count
    }
}
