import Foundation
import XCTest
@testable import ImageFormat

/// The overlap checker's metadata index and the refcount table's last-used index stay
/// equal to a fresh scan on every path that changes the tables.
final class MetadataIndexTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "img-index-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func openRW(_ path: String) throws -> Qcow2Image {
        var o = Qcow2OpenOptions()
        o.writable = true
        return try Qcow2Image.open(path: path, options: o)
    }

    func testIndexFollowsLoadBlockCreationAndTableGrowth() throws {
        let path = dir + "/a.qcow2"
        var create = Qcow2CreateOptions()
        create.size = 64 << 20
        create.clusterSize = 512
        create.refcountBits = 64  // 64 clusters per block, 64 entries per table cluster: growth comes fast
        try Qcow2Image.create(path: path, options: create)

        let image = try openRW(path)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after load")
        let tableBefore = image.header.refcountTableOffset
        let blocksBefore = image.refcountTableMaxIndex
        let chunk = [UInt8](repeating: 0xA5, count: 256 << 10)
        var offset: UInt64 = 0
        while image.header.refcountTableOffset == tableBefore {
            try image.write(chunk, at: offset)
            offset += UInt64(chunk.count)
            XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after new refcount blocks (offset \(offset))")
            XCTAssertLessThan(offset, 60 << 20, "the refcount table never grew")
        }
        XCTAssertGreaterThan(image.refcountTableMaxIndex, blocksBefore)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after table growth and relocation")
        try image.write(chunk, at: offset)
        try image.discard(at: 0, length: 1 << 20)
        try image.flush()
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after discard and flush")
        try image.close()

        let reopened = try openRW(path)
        XCTAssertTrue(reopened.metadataIndexMatchesFreshScan(), "after reopening")
        XCTAssertEqual(reopened.refcountTableMaxIndex, reopened.refcountTable.lastIndex { $0 != 0 })
        try reopened.close()
    }

    func testOverlapFindsEveryStructureInAllModes() throws {
        let path = dir + "/b.qcow2"
        var create = Qcow2CreateOptions()
        create.size = 16 << 20
        try Qcow2Image.create(path: path, options: create)
        let image = try openRW(path)
        try image.write([UInt8](repeating: 1, count: 4096), at: 0)
        let l2 = image.l1[0] & EntryBits.offsetMask
        for scan in [OverlapScan.index, .lastUsed, .fullTable] {
            image.options.overlapScan = scan
            image.options.overlapCheck = .all
            XCTAssertEqual(image.firstOverlap(offset: 0, length: 1, ignoring: []), .mainHeader)
            XCTAssertEqual(image.firstOverlap(offset: image.header.l1TableOffset, length: 8, ignoring: []), .activeL1)
            XCTAssertEqual(image.firstOverlap(offset: l2 + 100, length: 8, ignoring: []), .activeL2)
            XCTAssertEqual(image.firstOverlap(offset: image.header.refcountTableOffset, length: 8, ignoring: []), .refcountTable)
            XCTAssertEqual(image.firstOverlap(offset: image.refcountTable[0], length: 8, ignoring: []), .refcountBlock)
            XCTAssertNil(image.firstOverlap(offset: image.refcountTable[0], length: 8, ignoring: [.refcountBlock]))
            XCTAssertNil(image.firstOverlap(offset: 100 << 20, length: 4096, ignoring: []), "free space is not metadata")
            image.options.overlapCheck = .constant
            XCTAssertNil(image.firstOverlap(offset: l2, length: 8, ignoring: []), "constant mode does not check L2 tables")
        }
        try image.close()
    }
}

/// The remaining paths that change the tables: refcount-width change (amend), shrink, the
/// image emptied (commit's make-empty), snapshot create/delete.
final class MetadataIndexLifecycleTests: XCTestCase {
    func testIndexFollowsAmendShrinkEmptyAndSnapshots() throws {
        let path = NSTemporaryDirectory() + "img-index-life-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        var create = Qcow2CreateOptions()
        create.size = 32 << 20
        create.clusterSize = 4096
        try Qcow2Image.create(path: path, options: create)
        var options = Qcow2OpenOptions()
        options.writable = true
        let image = try Qcow2Image.open(path: path, options: options)
        try image.write([UInt8](repeating: 3, count: 8 << 20), at: 0)
        try image.write([UInt8](repeating: 4, count: 1 << 20), at: 30 << 20)
        try image.createSnapshot(name: "s")
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after snapshot create")
        try image.write([UInt8](repeating: 5, count: 1 << 20), at: 1 << 20)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after copy-on-write of shared L2 tables")
        try image.changeRefcountWidth(bits: 64)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after refcount width change to 64 bits")
        try image.changeRefcountWidth(bits: 1 << 1)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after refcount width change to 2 bits")
        try image.deleteSnapshot(at: 0)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after snapshot delete")
        try image.resize(to: 4 << 20, allowShrink: true)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after shrink")
        try image.makeEmpty()
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after the image was emptied")
        XCTAssertEqual(image.refcountTableMaxIndex, image.refcountTable.lastIndex { $0 != 0 })
        try image.close()
    }
}
