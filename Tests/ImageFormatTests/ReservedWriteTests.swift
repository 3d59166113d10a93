import Foundation
import XCTest
@testable import ImageFormat

/// Split writes (reserve in guest order, write the data later from any thread) give the
/// same image as plain writes, and a failing data write reaches the converter.
final class ReservedWriteTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "img-reserved-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func fresh(_ name: String) throws -> Qcow2Image {
        let path = dir + "/" + name
        var create = Qcow2CreateOptions()
        create.size = 8 << 20
        create.clusterSize = 4096
        create.refcountBits = 64  // small refcount blocks: the runs below need new ones
        try Qcow2Image.create(path: path, options: create)
        var o = Qcow2OpenOptions()
        o.writable = true
        return try Qcow2Image.open(path: path, options: o)
    }

    private func pattern(_ n: Int, _ seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 / 7 + seed) } }

    func testReservedRunsMatchPlainWrites() throws {
        let plain = try fresh("plain.qcow2"), split = try fresh("split.qcow2")
        let runs: [(UInt64, Int)] = [(0, 40 << 10), (1 << 20, 300 << 10), (5 << 20, 8 << 10)]
        var later: [(bytes: [UInt8], host: UInt64)] = []
        for (i, (offset, length)) in runs.enumerated() {
            let data = pattern(length, i)
            try plain.write(data, at: offset)
            var pos = 0
            while pos < length {
                let run = try XCTUnwrap(try split.reserveFreshClusters(at: offset + UInt64(pos), limit: (length - pos) / 4096))
                let n = run.count * 4096
                // The image counts the file as covering the run, as if the data were written
                // (allocation past the end must not depend on when the data arrives).
                XCTAssertGreaterThanOrEqual(split.reservedEnd, run.host + UInt64(n))
                later.append((Array(data[pos..<(pos + n)]), run.host))
                pos += n
            }
        }
        // An owned cluster is written in place, through the normal path.
        XCTAssertNil(try split.reserveFreshClusters(at: 0, limit: 1))
        for w in later.reversed() { try w.bytes.withUnsafeBytes { try split.writeReserved($0, at: w.host) } }
        try plain.flush(); try split.flush()
        let a = try plain.file.read(count: Int(try plain.file.size()), at: 0)
        let b = try split.file.read(count: Int(try split.file.size()), at: 0)
        XCTAssertEqual(a, b, "same bytes whatever the order the data arrived in")
        for (i, (offset, length)) in runs.enumerated() {
            XCTAssertEqual(try split.read(count: length, at: offset), pattern(length, i))
        }
        try plain.close(); try split.close()
    }

    func testWriteBehindReportsTheFirstFailure() throws {
        struct Boom: Error {}
        let wb = WriteBehind(threads: 2, limit: 2)
        defer { wb.stop() }
        let lock = Mutex()
        var ran = 0
        for _ in 0..<5 { try wb.submit { lock.withLock { ran += 1 } } }
        try wb.drain()
        XCTAssertEqual(ran, 5)
        try wb.submit { throw Boom() }
        XCTAssertThrowsError(try wb.drain()) { XCTAssertTrue($0 is Boom) }
        XCTAssertThrowsError(try wb.submit {}) { XCTAssertTrue($0 is Boom) }
    }
}
