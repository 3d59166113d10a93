import Foundation
import XCTest
@testable import ImageFormat

/// The mapping convert reads raw sources through: it reads the file's bytes, and a page the
/// file no longer has reads as zeros and is reported as an I/O error instead of killing the
/// process with SIGBUS.
final class MappedFileTests: XCTestCase {
    var path: String!
    let page = 4096
    override func setUpWithError() throws {
        path = NSTemporaryDirectory() + "img-mapped-" + UUID().uuidString
        let bytes = (0..<(3 * page)).map { UInt8(truncatingIfNeeded: $0 / 3 + 1) }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: path) }

    func testReadsTheFileAndRefusesWindowsPastIt() throws {
        let file = try HostFile(path: path, mode: .readOnly)
        let mapped = try XCTUnwrap(MappedFile(file))
        let window = try XCTUnwrap(mapped.bytes(at: UInt64(page), count: 2 * page))
        XCTAssertEqual(Array(window), Array(try file.read(count: 2 * page, at: UInt64(page))))
        XCTAssertNil(mapped.bytes(at: UInt64(page), count: 2 * page + 1))
        XCTAssertNil(mapped.bytes(at: UInt64.max, count: 1))
        // Dropping the page-table entries loses nothing: the next read maps the pages again.
        mapped.done(with: window)
        XCTAssertEqual(window[5], UInt8(truncatingIfNeeded: (page + 5) / 3 + 1))
        XCTAssertNoThrow(try mapped.checkReadable())
    }

    func testShrunkFileReadsZerosAndReportsTheOffset() throws {
        let file = try HostFile(path: path, mode: .readOnly)
        let mapped = try XCTUnwrap(MappedFile(file))
        let window = try XCTUnwrap(mapped.bytes(at: 0, count: 3 * page))
        XCTAssertEqual(truncate(path, off_t(page)), 0)
        XCTAssertEqual(window[page - 1], UInt8(truncatingIfNeeded: (page - 1) / 3 + 1))
        XCTAssertEqual(window[2 * page + 7], 0)   // would be SIGBUS without the guard
        XCTAssertEqual(window[page], 0)
        XCTAssertThrowsError(try mapped.checkReadable()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("offset \(page)") && text.contains(self.path), text)
        }
    }

    /// When the kernel does the copy (a write straight from the mapping), a lost page is an
    /// EFAULT from the target's write; the converter names the source instead.
    func testWriterNamesTheSourceWhenMappedPagesAreGone() throws {
        let mapped = try XCTUnwrap(MappedFile(try HostFile(path: path, mode: .readOnly)))
        let window = try XCTUnwrap(mapped.bytes(at: 0, count: 3 * page))
        XCTAssertEqual(truncate(path, off_t(page)), 0)
        let targetPath = path + ".target"
        defer { try? FileManager.default.removeItem(atPath: targetPath) }
        try RawImage.create(path: targetPath, size: UInt64(3 * page))
        let target = try RawImage.open(path: targetPath, writable: true, forceShare: false)
        let writeBehind = WriteBehind(threads: 1, limit: 2)
        defer { writeBehind.stop() }
        let writer = ConvertWriter(target: target, backing: nil, settings: ConvertSettings(), total: UInt64(3 * page),
                                   writeBehind: writeBehind, release: { _ in })
        var chunk = ConvertChunk(start: 0, length: UInt64(3 * page))
        chunk.unitSize = page
        chunk.actions = [.data, .data, .data]
        chunk.bytes = .mapped(mapped, window)
        try writer.apply(chunk)   // the copy runs on the write-behind thread
        XCTAssertThrowsError(try writer.finish()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("read offset \(self.page) of '\(self.path!)'"), text)
        }
    }

    func testNotMappedWhenObservedOrNotARegularFile() throws {
        XCTAssertNil(MappedFile(try HostFile(path: "/dev/zero", mode: .readOnly)))
        let observed = try HostFile(path: path, mode: .readOnly)
        observed.observer = NullObserver()
        XCTAssertNil(MappedFile(observed))
    }
}

private final class NullObserver: HostFileObserver {
    func willWrite(_ file: HostFile, offset: UInt64, bytes: UnsafeRawBufferPointer) throws {}
    func willSync(_ file: HostFile) throws {}
    func willTruncate(_ file: HostFile, to length: UInt64) throws {}
    func willRead(_ file: HostFile, offset: UInt64, count: Int) throws {}
    func willDeallocate(_ file: HostFile, offset: UInt64, length: UInt64) throws {}
}
