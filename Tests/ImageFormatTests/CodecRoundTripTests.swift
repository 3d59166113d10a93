import XCTest
@testable import ImageFormat

/// Every on-disk structure's codec is symmetric: serialize(parse(x)) == x, and fields we do
/// not understand survive.
final class CodecRoundTripTests: XCTestCase {
    func testHeaderRoundTripKeepsUnknownTail() throws {
        var h = Qcow2Header(version: 3, clusterBits: 16, size: 1 << 30)
        h.headerLength = 120
        h.unknownTail = Array(0..<15)
        h.compressionType = 1
        h.incompatibleFeatures = Qcow2Feature.Incompatible.compressionType
        h.l1Size = 2; h.l1TableOffset = 0x30000; h.refcountTableOffset = 0x10000; h.refcountTableClusters = 1
        h.snapshotCount = 3; h.snapshotsOffset = 0x90000; h.refcountOrder = 6
        let bytes = h.serialize()
        XCTAssertEqual(bytes.count, 120)
        XCTAssertEqual(try Qcow2Header.parse(bytes, path: "x"), h)
    }

    func testVersion2Header() throws {
        var h = Qcow2Header(version: 2, clusterBits: 9, size: 512 * 1000)
        h.backingFileOffset = 72; h.backingFileSize = 5
        let parsed = try Qcow2Header.parse(h.serialize() + [UInt8](repeating: 0, count: 64), path: "x")
        XCTAssertEqual(parsed, h)
        XCTAssertEqual(parsed.refcountBits, 16)
    }

    func testHeaderExtensionsRoundTripInOrder() throws {
        let exts = [HeaderExtension(type: HeaderExtension.backingFormat, data: Array("qcow2".utf8)),
                    HeaderExtension(type: 0x1234_5678, data: [1, 2, 3]),
                    HeaderExtension.featureNameTable(HeaderExtension.defaultFeatureNames)]
        let bytes = HeaderExtension.serializeAll(exts)
        XCTAssertEqual(bytes.count % 8, 0)
        let parsed = try HeaderExtension.parseAll(bytes, start: 0, limit: bytes.count, path: "x")
        XCTAssertEqual(parsed, exts)
        XCTAssertEqual(parsed[2].featureNames(), HeaderExtension.defaultFeatureNames)
    }

    func testSnapshotTableRoundTripKeepsExtraData() throws {
        let snaps = [Qcow2Snapshot(l1TableOffset: 0x70000, l1Size: 8, id: "1", name: "first", dateSeconds: 100,
                                   dateNanoseconds: 5, vmClockNanoseconds: 1_500_000_000, vmStateSize: 0,
                                   extraData: [UInt8](repeating: 0, count: 8) + [0, 0, 0, 0, 0x40, 0, 0, 0] + [9, 9, 9, 9]),
                     Qcow2Snapshot(l1TableOffset: 0x80000, l1Size: 1, id: "22", name: "", dateSeconds: 0,
                                   dateNanoseconds: 0, vmClockNanoseconds: 0, vmStateSize: 77, extraData: [])]
        let bytes = snaps.flatMap { $0.serialize() }
        XCTAssertEqual(try Qcow2Snapshot.parseTable(bytes, count: 2, base: 0, path: "x"), snaps)
        XCTAssertEqual(snaps[0].diskSize, 0x4000_0000)
        XCTAssertThrowsError(try Qcow2Snapshot.parseTable(Array(bytes.prefix(30)), count: 1, base: 0, path: "x"))
    }

    func testRefcountWidthsRoundTrip() {
        for order in 0...6 {
            let w = RefcountWidth(order: order)
            var block = [UInt8](repeating: 0, count: 512)
            let n = w.entriesPerBlock(clusterSize: 512)
            block.withUnsafeMutableBytes { buf in
                for i in 0..<n { w.set(buf, i, UInt64(i * 7919) & w.maxValue) }
            }
            block.withUnsafeBytes { buf in
                for i in 0..<n { XCTAssertEqual(w.get(buf, i), UInt64(i * 7919) & w.maxValue, "order \(order) entry \(i)") }
            }
        }
        // QEMU packs sub-byte widths from the least significant bit.
        var b = [UInt8](repeating: 0, count: 1)
        b.withUnsafeMutableBytes { RefcountWidth(order: 0).set($0, 1, 1) }
        XCTAssertEqual(b[0], 0b10)
    }

    func testCompressedEntryCodec() {
        for bits in [9, 12, 16, 21] {
            let codec = L2EntryCodec(clusterBits: bits)
            let length = min(3000, (1 << bits) - 1)
            let entry = codec.compressedEntry(host: 0x123_4567, size: length)
            guard case let .compressed(host, size) = codec.kind(entry) else { return XCTFail("not compressed") }
            XCTAssertEqual(host, 0x123_4567)
            // Sizes are stored in whole sectors: at least the data, less than a sector more.
            XCTAssertGreaterThanOrEqual(size, length)
            XCTAssertLessThan(size, length + 512)
        }
    }

    func testCompressionRoundTrip() {
        let input = (0..<65536).map { UInt8(truncatingIfNeeded: $0 / 100) }
        for type in [Qcow2Feature.CompressionType.zlib, .zstd] {
            let packed = input.withUnsafeBytes { ClusterCompression.compress($0, type: type, limit: 65535) }
            XCTAssertNotNil(packed)
            var out = [UInt8](repeating: 0, count: 65536)
            let ok = (packed! + [0, 0, 0]).withUnsafeBytes { inBuf in
                out.withUnsafeMutableBytes { ClusterCompression.decompress(inBuf, into: $0, type: type) }
            }
            XCTAssertTrue(ok)
            XCTAssertEqual(out, input)
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let noise = (0..<4096).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
        XCTAssertNil(noise.withUnsafeBytes { ClusterCompression.compress($0, type: .zlib, limit: 4095) },
                     "incompressible data reports that it does not fit")
    }
}
