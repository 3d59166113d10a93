import CZlib
import CZstd

/// Cluster compression as QEMU does it: zlib as a raw deflate stream with a 4 KiB window
/// (windowBits -12), zstd as one frame. Output that does not fit in `limit` bytes is
/// reported as nil so the caller stores the cluster uncompressed.
public enum ClusterCompression {
    public static func compress(_ input: UnsafeRawBufferPointer, type: Qcow2Feature.CompressionType,
                                limit: Int) -> [UInt8]? {
        switch type {
        case .zlib: return deflateRaw(input, limit: limit)
        case .zstd: return zstdCompress(input, limit: limit)
        }
    }

    /// Decompresses into `output`, which must be filled completely; the input may carry
    /// trailing bytes (the compressed size is stored rounded up to sectors).
    public static func decompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                                  type: Qcow2Feature.CompressionType) -> Bool {
        switch type {
        case .zlib: return inflateRaw(input, into: output)
        case .zstd: return zstdDecompress(input, into: output)
        }
    }

    private static func deflateRaw(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        var stream = z_stream()
        guard img_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, -12) == Z_OK else { return nil }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: limit)
        let status: Int32 = out.withUnsafeMutableBytes { outBuf in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = outBuf.baseAddress!.assumingMemoryBound(to: UInt8.self)
            stream.avail_out = uInt(limit)
            return deflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END else { return nil }
        out.removeLast(Int(stream.avail_out))
        return out
    }

    private static func inflateRaw(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        if FastInflate.decompress(input, into: output) { return true }
        var stream = z_stream()
        guard img_inflateInit2(&stream, -12) == Z_OK else { return false }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = uInt(output.count)
        let status = inflate(&stream, Z_FINISH)
        // QEMU accepts a stream that filled the cluster even if it has not seen the end marker.
        return (status == Z_STREAM_END || status == Z_BUF_ERROR) && stream.avail_out == 0
    }

    private static func zstdCompress(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: limit)
        let n = out.withUnsafeMutableBytes { outBuf in
            ZSTD_compress(outBuf.baseAddress, limit, input.baseAddress, input.count, ZSTD_CLEVEL_DEFAULT)
        }
        guard ZSTD_isError(n) == 0 else { return nil }
        out.removeLast(limit - n)
        return out
    }

    private static func zstdDecompress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Bool {
        // Streaming so that trailing sector padding after the frame is tolerated.
        guard let ctx = ZSTD_createDCtx() else { return false }
        defer { ZSTD_freeDCtx(ctx) }
        var inBuf = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        while outBuf.pos < outBuf.size {
            let before = (inBuf.pos, outBuf.pos)
            let r = ZSTD_decompressStream(ctx, &outBuf, &inBuf)
            if ZSTD_isError(r) != 0 { return false }
            if before == (inBuf.pos, outBuf.pos) { return false }  // no progress: input exhausted
        }
        return true
    }
}
