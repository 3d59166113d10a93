import Foundation
import XCTest
import ImageFormat

/// img commit against qemu-img: iotest 020 (overlay into its backing file, overlay emptied,
/// base grown) and 097 (commit through an intermediate image with -b, -d keeps the overlay).
final class CommitTests: XCTestCase {
    func testCommitIntoBackingEmptiesOverlay() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for format in ["qcow2", "raw"] {
            let base = dir.file("base.\(format)"), top = dir.file("top-\(format).qcow2")
            try Tool.must("img", ["create", "-q", "-f", format, base, "4M"])
            try Life.io(base, ["write -P 1 0 4M"])
            // The overlay is larger than its base: the base grows with the commit.
            try Tool.must("img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", format, top, "6M"])
            try Life.io(top, ["write -P 2 512k 1M", "write -z 2M 64k", "write -c -P 3 3M 64k", "write -P 4 5M 100k"])
            let chain = try Life.guest(top)

            let r = try Tool.must("img", ["commit", "-f", "qcow2", top])
            XCTAssertEqual(r.stdout, "Image committed.\n")
            try Life.qemuCheck(top)
            if format == "qcow2" { try Life.qemuCheck(base) }
            try Life.assertGuest(base, equals: chain, in: dir, "\(format) base after commit")
            try Life.assertGuest(top, equals: chain, in: dir, "chain after commit")
            let map = try Tool.must("qemu-img", ["map", "--output=json", top]).stdout
            XCTAssertFalse(map.contains("\"depth\": 0"), "overlay must be empty:\n\(map)")
        }
    }

    func testCommitThroughIntermediateWithBase() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let base = dir.file("base.qcow2"), mid = dir.file("mid.qcow2"), top = dir.file("top.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", base, "8M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 8M", base])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", mid])
        try Tool.must("qemu-io", ["-c", "write -P 2 1M 2M", "-c", "write -z 6M 1M", mid])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top])
        try Tool.must("qemu-io", ["-c", "write -P 3 2M 2M", top])
        let chain = try Life.guest(top)
        let topBefore = fileBytes(top)

        try Tool.must("img", ["commit", "-q", "-b", base, top])
        try Life.qemuCheck(base)
        try Life.assertGuest(base, equals: chain, in: dir, "base after commit -b")
        XCTAssertEqual(fileBytes(top), topBefore, "-b implies -d: the overlay stays as it was")

        // -d without -b: mid's data goes into base, mid keeps it too.
        let midBefore = fileBytes(mid)
        try Tool.must("img", ["commit", "-q", "-d", mid])
        XCTAssertEqual(fileBytes(mid), midBefore)
        try Life.qemuCheck(base)

        let missing = try Tool.must("img", ["commit", "-b", dir.file("nope.qcow2"), top], expect: 1)
        XCTAssertTrue(missing.stderr.contains("in the backing chain of"), missing.stderr)
        let lone = try Tool.must("img", ["commit", base], expect: 1)
        XCTAssertEqual(lone.stderr, "img: Image does not have a backing file\n")
    }

    /// The same commit done by qemu-img gives the same base contents.
    func testMatchesQemuImgCommit() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        var bases: [String] = []
        for tool in ["img", "qemu-img"] {
            let base = dir.file("b-\(tool).qcow2"), top = dir.file("t-\(tool).qcow2")
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", base, "4M"])
            try Tool.must("qemu-io", ["-c", "write -P 5 0 4M", base])
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top])
            try Tool.must("qemu-io", ["-c", "write -P 6 100k 300k", "-c", "write -z 1M 1M", top])
            try Tool.must(tool, ["commit", "-q", top])
            try Life.qemuCheck(base)
            bases.append(base)
        }
        try Tool.must("qemu-img", ["compare", bases[0], bases[1]])
    }
}
