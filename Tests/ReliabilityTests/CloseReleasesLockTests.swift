import ImageFormat
import XCTest

/// close() releases the image: a later read-write open in the same process works while the
/// closed object is still alive (the fault-injection sweep reopens images this way).
final class CloseReleasesLockTests: XCTestCase {
    func testReopenAfterClose() throws {
        let dir = try ScratchDir("close-lock")
        for (format, path) in [("qcow2", dir.file("a.qcow2")), ("raw", dir.file("a.raw"))] {
            if format == "qcow2" { try ImageMaker.qcow2(path, size: 1 << 20, clusterSize: 65536) }
            else { try RawImage.create(path: path, size: 1 << 20) }
            let first = try openImage(path: path, format: format, writable: true, forceShare: false)
            try first.write([1, 2, 3], at: 0)
            try first.close()
            let second = try openImage(path: path, format: format, writable: true, forceShare: false)
            XCTAssertEqual(try second.read(count: 3, at: 0), [1, 2, 3], format)
            try second.close()
            withExtendedLifetime(first) {}
        }
    }
}
