import Foundation
import XCTest
import ImageFormat

/// img resize against qemu-img: grow and shrink (iotest 163 at three cluster sizes), raw,
/// backing files (iotests 025 and 292), preallocation, and qemu-img's refusals.
final class ResizeTests: XCTestCase {
    func testGrowAndShrinkRequiresFlag() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for (format, name) in [("qcow2", "a.qcow2"), ("raw", "a.raw")] {
            let img = dir.file(name)
            try Tool.must("img", ["create", "-q", "-f", format, img, "4M"])
            try Life.io(img, ["write -P 7 0 4M"])
            let r = try Tool.must("img", ["resize", "-f", format, img, "+4M"])
            XCTAssertEqual(r.stdout, "Image resized.\n")
            try Life.assertGuest(img, equals: [UInt8](repeating: 7, count: 4 << 20) + [UInt8](repeating: 0, count: 4 << 20),
                                 in: dir, "\(format) grown")
            let before = fileBytes(img)
            let refused = try Tool.must("img", ["resize", "-f", format, img, "-2M"], expect: 1)
            XCTAssertTrue(refused.stderr.hasPrefix("img: Use the --shrink option to perform a shrink operation.\n"), refused.stderr)
            XCTAssertEqual(fileBytes(img), before)
            try Tool.must("img", ["resize", "-q", "-f", format, "--shrink", img, "-6M"])
            try Life.assertGuest(img, equals: [UInt8](repeating: 7, count: 2 << 20), in: dir, "\(format) shrunk")
            if format == "qcow2" { try Life.qemuCheck(img) }
        }
    }

    /// Iotest 163: shrinking with 512 B, 64 KiB and 1 MiB clusters, with a snapshot holding
    /// clusters past the new end; the file is cut right after its last used cluster.
    func testShrinkAtClusterSizes() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for cs in ["512", "64k", "1M"] {
            let img = dir.file("s-\(cs).qcow2")
            try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=\(cs)", img, "32M"])
            try Life.io(img, ["write -P 1 0 1M", "write -P 2 15M 2M", "write -c -P 3 24M 1M", "write -P 4 28M 2M"])
            let atSnapshot = try Life.guest(img)
            try Tool.must("img", ["snapshot", "-c", "keep", img])
            // Right after the snapshot the L2 tables are shared with it: the shrink copies them.
            try Tool.must("img", ["resize", "-q", "--shrink", img, "16M"])
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: Array(atSnapshot[0..<(16 << 20)]), in: dir, "\(cs): shrunk right after a snapshot")
            try Tool.must("img", ["snapshot", "-a", "keep", img])
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: atSnapshot, in: dir, "\(cs): snapshot of the larger size applied")
            try Life.io(img, ["write -P 5 26M 1M"])
            let before = try Life.guest(img)
            try Tool.must("img", ["resize", "-q", "--shrink", img, "16M"])
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: Array(before[0..<(16 << 20)]), in: dir, "\(cs): shrunk with a snapshot")
            try Tool.must("img", ["snapshot", "-d", "keep", img])
            try Tool.must("img", ["resize", "-q", "--shrink", img, "2M"])
            try Life.qemuCheck(img)
            let check = try Tool.must("qemu-img", ["check", "--output=json", img]).stdout
            let size = try FileManager.default.attributesOfItem(atPath: img)[.size] as! UInt64
            XCTAssertTrue(check.contains("\"image-end-offset\": \(size),"), "\(cs): file of \(size) bytes\n\(check)")
            try Tool.must("img", ["resize", "-q", img, "+20M"])
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: Array(before[0..<(2 << 20)]) + [UInt8](repeating: 0, count: 20 << 20),
                                 in: dir, "\(cs): grown again")
        }
    }

    /// Iotest 025: data survives a resize with a backing file behind the image.
    func testGrowWithBackingFile() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let base = dir.file("base.qcow2"), top = dir.file("top.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", base, "128k"])
        try Life.io(base, ["write -P 0xa 0 128k"])
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top])
        try Life.io(top, ["write -P 0xb 64k 64k"])
        try Tool.must("img", ["resize", "-q", top, "5G"])
        try Life.qemuCheck(top)
        XCTAssertTrue(try Life.info(top).contains("virtual size: 5 GiB"))
        let head = try Tool.must("qemu-io", ["-c", "read -P 0xa 0 64k", "-c", "read -P 0xb 64k 64k",
                                             "-c", "read -P 0 128k 64k", "-c", "read -P 0 4G 64k", top])
        XCTAssertFalse(head.stdout.contains("Pattern verification failed"), head.stdout)
    }

    /// Iotest 292: shrinking and growing an overlay must not let the longer backing file
    /// show through the regrown area; qemu-img doing the same ends with the same guest view.
    func testRegrowOverLongerBacking() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let base = dir.file("base.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", base, "8M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 8M", base])
        var views: [[UInt8]] = []
        for tool in ["img", "qemu-img"] {
            let top = dir.file("top-\(tool).qcow2")
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top])
            try Tool.must(tool, ["resize", "-q", "--shrink", top, "3M"])
            try Tool.must(tool, ["resize", "-q", top, "6M"])
            try Life.qemuCheck(top)
            views.append(try Life.guest(top))
            XCTAssertEqual(try Life.qemuGuest(top, in: dir), views.last!)
        }
        XCTAssertEqual(views[0], [UInt8](repeating: 1, count: 3 << 20) + [UInt8](repeating: 0, count: 3 << 20))
        XCTAssertEqual(views[0], views[1])
    }

    /// Shrinking into the middle of a cluster and growing again: the bytes the shrink left
    /// in that cluster must not come back (qemu-img 7.2 shows them; img reads zeroes).
    func testRegrowAfterUnalignedShrinkReadsZero() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("u.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "1M"])
        try Life.io(img, ["write -P 7 0 1M"])
        try Tool.must("img", ["resize", "-q", "--shrink", img, "100k"])
        try Tool.must("img", ["resize", "-q", img, "1M"])
        try Life.qemuCheck(img)
        try Life.assertGuest(img, equals: [UInt8](repeating: 7, count: 100 << 10) + [UInt8](repeating: 0, count: 924 << 10),
                             in: dir, "regrown after an unaligned shrink")
    }

    /// A refcount lower than the references to it (a corrupt image): shrinking would drive it
    /// below zero, so the shrink is refused before the first write.
    func testShrinkRefusesWhenRefcountsTooLow() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("low.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", img, "4M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 4M", img])
        let map = try Tool.must("qemu-img", ["map", "--output=json", "--start-offset=3M", "--max-length=64k", img]).stdout
        let host = try XCTUnwrap(map.range(of: #""offset": (\d+)"#, options: .regularExpression)
            .flatMap { UInt64(map[$0].split(separator: " ").last ?? "") })
        // Default layout: refcount block at 0x20000, 16-bit entries.
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: img))
        try handle.seek(toOffset: 0x20000 + host / 65536 * 2)
        handle.write(Data([0, 0]))
        try handle.close()
        let before = fileBytes(img)
        let r = try Tool.must("img", ["resize", "-q", "--shrink", img, "1M"], expect: 1)
        XCTAssertTrue(r.stderr.contains("img check -r all"), r.stderr)
        XCTAssertEqual(fileBytes(img), before)
    }

    func testPreallocationModes() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for mode in ["metadata", "falloc", "full"] {
            let img = dir.file("p-\(mode).qcow2")
            try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "1M"])
            try Life.io(img, ["write -P 3 0 1M"])
            try Tool.must("img", ["resize", "-q", "--preallocation=\(mode)", img, "5M"])
            try Life.qemuCheck(img)
            let map = try Tool.must("qemu-img", ["map", "--output=json", img]).stdout
            XCTAssertFalse(map.contains("\"data\": false"), "\(mode): every cluster allocated\n\(map)")
            try Life.assertGuest(img, equals: [UInt8](repeating: 3, count: 1 << 20) + [UInt8](repeating: 0, count: 4 << 20),
                                 in: dir, mode)
        }
        let raw = dir.file("p.raw")
        try Tool.must("img", ["create", "-q", "-f", "raw", raw, "1M"])
        try Tool.must("img", ["resize", "-q", "-f", "raw", "--preallocation=full", raw, "3M"])
        XCTAssertEqual(fileBytes(raw).count, 3 << 20)
    }

    func testRefusals() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let v2 = dir.file("v2.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "compat=0.10", v2, "4M"])
        try Tool.must("img", ["snapshot", "-c", "s", v2])
        let before = fileBytes(v2)
        let r = try Tool.must("img", ["resize", v2, "8M"], expect: 1)
        XCTAssertEqual(r.stderr, "img: Can't resize a v2 image which has snapshots\n")
        XCTAssertEqual(fileBytes(v2), before)
        // Reverting a v2 image to a snapshot of another size would resize it: refused too.
        let sized = dir.file("sized.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", sized, "4M"])
        try Tool.must("img", ["snapshot", "-c", "small", sized])
        try Tool.must("img", ["resize", "-q", sized, "8M"])
        try Tool.must("img", ["amend", "-o", "compat=0.10", sized])
        let sizedBefore = fileBytes(sized)
        let a = try Tool.must("img", ["snapshot", "-a", "small", sized], expect: 1)
        XCTAssertEqual(a.stderr, "img: Could not apply snapshot 'small': Can't resize a v2 image which has snapshots\n")
        XCTAssertEqual(fileBytes(sized), sizedBefore)
        let plain = dir.file("p.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", plain, "4M"])
        let odd = try Tool.must("img", ["resize", plain, "+1000"], expect: 1)
        XCTAssertEqual(odd.stderr, "img: The new size must be a multiple of 512\n")
    }
}
