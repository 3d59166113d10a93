import CZlib
import Foundation

/// Decompresses a gzip file with zlib (windowBits 16+15 selects the gzip wrapper).
func gunzip(_ data: Data) throws -> Data {
    var stream = z_stream()
    guard img_inflateInit2(&stream, 16 + 15) == Z_OK else { throw GunzipError.failed("inflateInit2") }
    defer { inflateEnd(&stream) }
    var output = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var input = [UInt8](data)
    let inputCount = input.count
    var status: Int32 = Z_OK
    try input.withUnsafeMutableBufferPointer { inBuf in
        stream.next_in = inBuf.baseAddress
        stream.avail_in = uInt(inputCount)
        repeat {
            try chunk.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = uInt(out.count)
                status = inflate(&stream, Z_NO_FLUSH)
                guard status == Z_OK || status == Z_STREAM_END else { throw GunzipError.failed("inflate \(status)") }
                output.append(out.baseAddress!, count: out.count - Int(stream.avail_out))
            }
        } while status != Z_STREAM_END
    }
    return output
}

enum GunzipError: Error { case failed(String) }
