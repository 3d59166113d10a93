import Foundation
import XCTest
@testable import ImageFormat
@testable import Repair

/// After the repair engine rebuilds the whole refcount structure under an open image (the
/// dirty-image path), the image's overlap index and last-used refcount-table entry equal a
/// fresh scan.
final class RebuildIndexTests: XCTestCase {
    func testIndexAfterRefcountRebuildOfADirtyImage() throws {
        let path = NSTemporaryDirectory() + "img-rebuild-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        var create = Qcow2CreateOptions()
        create.size = 16 << 20
        create.lazyRefcounts = true
        create.clusterSize = 4096
        try Qcow2Image.create(path: path, options: create)
        var options = Qcow2OpenOptions()
        options.writable = true
        let writer = try Qcow2Image.open(path: path, options: options)
        try writer.write([UInt8](repeating: 9, count: 4 << 20), at: 0)
        try writer.flush()
        // Simulate a crash: zero every refcount block and leave the dirty bit set.
        for entry in writer.refcountTable where entry != 0 {
            try writer.file.write([UInt8](repeating: 0, count: 4096), at: entry)
        }
        writer.file.closeDescriptor()

        DirtyImageRepair.install()
        var open = ImageOpenOptions()
        open.writable = true
        let image = try openImage(path: path, format: "qcow2", options: open) as! Qcow2Image
        XCTAssertFalse(image.isDirty)
        XCTAssertTrue(image.metadataIndexMatchesFreshScan(), "after the refcount structure was rebuilt")
        XCTAssertEqual(try image.read(count: 4096, at: 4 << 20 - 4096), [UInt8](repeating: 9, count: 4096))
        try image.close()
    }
}
