import Foundation
import XCTest
@testable import ImageFormat

/// Fields and extensions img does not understand survive a header rewrite byte for byte.
final class HeaderPreservationTests: XCTestCase {
    func testUnknownExtensionsAndHeaderTailSurviveRewrite() throws {
        let path = NSTemporaryDirectory() + "img-hdr-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: path) }
        var create = Qcow2CreateOptions()
        create.size = 1 << 20
        try Qcow2Image.create(path: path, options: create)

        // A newer writer's header: longer header_length with bytes we do not know, an
        // unknown extension between known ones, unknown compatible and autoclear bits.
        let file = try HostFile(path: path, mode: .readWrite)
        var header = try Qcow2Header.parse(try file.read(count: 512, at: 0), path: path)
        header.headerLength = 128
        header.unknownTail = (0..<23).map { UInt8($0 + 1) }
        header.compatibleFeatures |= 1 << 7
        header.autoclearFeatures |= 1 << 9
        let exts = [HeaderExtension(type: 0xABCD_0001, data: Array("future".utf8)),
                    HeaderExtension.featureNameTable(HeaderExtension.defaultFeatureNames),
                    HeaderExtension(type: 0xABCD_0002, data: [])]
        let cluster = try Qcow2Image.headerCluster(header: &header, extensions: exts, backingName: nil,
                                                   clusterSize: 65536, path: path)
        try file.write(cluster, at: 0)
        file.closeDescriptor()
        let before = Array(try HostFile(path: path, mode: .readOnly).read(count: 65536, at: 0))

        var options = Qcow2OpenOptions()
        options.writable = true
        let image = try Qcow2Image.open(path: path, options: options)
        XCTAssertEqual(image.extensions, exts)
        XCTAssertEqual(image.header.unknownTail, header.unknownTail)
        try image.rewriteHeader()
        try image.write([UInt8](repeating: 7, count: 4096), at: 0)
        try image.close()
        let after = Array(try HostFile(path: path, mode: .readOnly).read(count: 65536, at: 0))
        XCTAssertEqual(before, after, "the first cluster changed across a rewrite and a write")
    }
}
