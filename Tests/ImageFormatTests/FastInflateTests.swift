import CZlib
import XCTest
@testable import ImageFormat

/// The libdeflate fast path decodes exactly what zlib decodes, and what it refuses still
/// goes through zlib (QEMU's rules: the stream must fill the cluster; an end marker is not
/// required).
final class FastInflateTests: XCTestCase {
    private func cluster(_ seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<65536).map { i -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            // Half text-like runs, half noise: both literal and match paths of the decoder.
            return i % 4096 < 2048 ? UInt8(truncatingIfNeeded: i / 37) : UInt8(truncatingIfNeeded: state & 0x3F)
        }
    }

    func testFastPathAgreesWithZlib() throws {
        try XCTSkipUnless(FastInflate.isAvailable, "libdeflate0 is not installed")
        for seed in [1, 2, 3] as [UInt64] {
            let input = cluster(seed)
            let packed = try XCTUnwrap(input.withUnsafeBytes { ClusterCompression.compress($0, type: .zlib, limit: 65535) })
            var out = [UInt8](repeating: 0xAA, count: 65536)
            // Trailing sector padding, as QEMU stores it.
            let ok = (packed + [UInt8](repeating: 0, count: 511)).withUnsafeBytes { inBuf in
                out.withUnsafeMutableBytes { FastInflate.decompress(inBuf, into: $0) }
            }
            XCTAssertTrue(ok)
            XCTAssertEqual(out, input)
        }
    }

    func testStreamWithoutEndMarkerStillDecompresses() throws {
        let input = cluster(4)
        // A deflate stream flushed but never finished: libdeflate refuses it, QEMU (zlib) accepts.
        var stream = z_stream()
        XCTAssertEqual(img_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, -12), Z_OK)
        var packed = [UInt8](repeating: 0, count: 70000)
        let produced: Int = input.withUnsafeBytes { inBuf in
            packed.withUnsafeMutableBytes { outBuf in
                stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress!.assumingMemoryBound(to: UInt8.self))
                stream.avail_in = uInt(inBuf.count)
                stream.next_out = outBuf.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.avail_out = uInt(outBuf.count)
                XCTAssertEqual(deflate(&stream, Z_SYNC_FLUSH), Z_OK)
                return outBuf.count - Int(stream.avail_out)
            }
        }
        deflateEnd(&stream)
        let unfinished = Array(packed[0..<produced])
        var out = [UInt8](repeating: 0, count: 65536)
        XCTAssertFalse(unfinished.withUnsafeBytes { inBuf in out.withUnsafeMutableBytes { FastInflate.decompress(inBuf, into: $0) } })
        XCTAssertTrue(unfinished.withUnsafeBytes { inBuf in
            out.withUnsafeMutableBytes { ClusterCompression.decompress(inBuf, into: $0, type: .zlib) }
        })
        XCTAssertEqual(out, input)
    }

    func testShortOrBadStreamFails() throws {
        let input = cluster(5)
        let packed = try XCTUnwrap(input.withUnsafeBytes { ClusterCompression.compress($0, type: .zlib, limit: 65535) })
        var out = [UInt8](repeating: 0, count: 65536)
        let truncated = Array(packed[0..<(packed.count / 2)])
        XCTAssertFalse(truncated.withUnsafeBytes { inBuf in
            out.withUnsafeMutableBytes { ClusterCompression.decompress(inBuf, into: $0, type: .zlib) }
        })
        // A stream for a shorter cluster does not fill this one.
        let small = try XCTUnwrap(Array(input[0..<4096]).withUnsafeBytes { ClusterCompression.compress($0, type: .zlib, limit: 4095) })
        XCTAssertFalse(small.withUnsafeBytes { inBuf in
            out.withUnsafeMutableBytes { ClusterCompression.decompress(inBuf, into: $0, type: .zlib) }
        })
    }
}
