import XCTest

/// img dd makes the same image as qemu-img dd: same size, same content, same layout.
final class DdTests: XCTestCase {
    func testAgreesWithQemuImgDd() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        let source = sources.first { $0.name == "backing-chain" }!.path
        let cases: [[String]] = [[], ["bs=4k", "count=10", "skip=2"], ["bs=1M", "skip=1"], ["bs=3000", "count=7"],
                                 ["bs=1000000", "skip=3"], ["bs=64k", "count=1000"]]
        for operands in cases {
            for format in ["raw", "qcow2"] {
                let mine = dir.file("m.\(format)"), theirs = dir.file("q.\(format)")
                try? FileManager.default.removeItem(atPath: mine)
                try? FileManager.default.removeItem(atPath: theirs)
                try Tool.must("img", ["dd", "-O", format, "if=\(source)", "of=\(mine)"] + operands)
                try Tool.must("qemu-img", ["dd", "-O", format, "if=\(source)", "of=\(theirs)"] + operands)
                if format == "qcow2" { try Tool.must("qemu-img", ["check", "-q", mine]) }
                try Tool.must("qemu-img", ["compare", "-q", "-s", mine, theirs])
                XCTAssertEqual(try ConvertFixtures.layout("img", mine), try ConvertFixtures.layout("qemu-img", theirs),
                               "dd \(operands) -O \(format)")
            }
        }
    }

    func testErrorsLikeQemuImg() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let src = dir.file("a.raw")
        try Tool.must("qemu-img", ["create", "-q", "-f", "raw", src, "1M"])
        for operands in [["bs=0", "if=\(src)", "of=\(dir.file("o"))"], ["foo=1", "if=\(src)", "of=\(dir.file("o"))"],
                         ["if=\(src)"], ["count=x", "if=\(src)", "of=\(dir.file("o"))"]] {
            let q = try Tool.run("qemu-img", ["dd"] + operands)
            let m = try Tool.img(["dd"] + operands)
            XCTAssertEqual(m.status, q.status, "\(operands)")
            XCTAssertEqual(m.stderr.replacingOccurrences(of: "img: ", with: ""),
                           q.stderr.replacingOccurrences(of: "qemu-img: ", with: ""), "\(operands)")
        }
        // Skipping past the end: a warning and an empty image, exit 0.
        let r = try Tool.must("img", ["dd", "skip=100M", "if=\(src)", "of=\(dir.file("e.raw"))"])
        XCTAssertTrue(r.stderr.contains("cannot skip to specified offset"))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: dir.file("e.raw"))[.size] as? UInt64, 0)
    }
}
