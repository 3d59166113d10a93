import XCTest

/// img compare prints what qemu-img compare prints and exits with its status, on a table
/// of cases: identical, differing at the first and last byte, sizes differing, strict mode.
final class CompareTests: XCTestCase {
    func testAgreesWithQemuImgCompare() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        func image(_ name: String, _ format: String, _ size: String, _ cmds: [String]) throws -> String {
            let path = dir.file(name)
            try Tool.must("qemu-img", ["create", "-q", "-f", format, path, size])
            if !cmds.isEmpty { try Tool.must("qemu-io", ["-f", format] + cmds.flatMap { ["-c", $0] } + [path]) }
            return path
        }
        let raw = try image("a.raw", "raw", "1M", [])
        let empty = try image("empty.qcow2", "qcow2", "1M", [])
        let first = try image("first.qcow2", "qcow2", "1M", ["write -P 1 0 1"])
        let last = try image("last.qcow2", "qcow2", "1M", ["write -P 1 1048575 1"])
        let lastRaw = try image("last.raw", "raw", "1M", ["write -P 1 1048575 1"])
        let bigger = try image("bigger.qcow2", "qcow2", "2M", [])
        let biggerData = try image("bigger-data.qcow2", "qcow2", "2M", ["write -P 7 1500000 1"])
        let same1 = try image("same1.qcow2", "qcow2", "1M", ["write -P 3 4096 8192", "write -z 64k 64k"])
        let same2 = try image("same2.qcow2", "qcow2", "1M", ["write -P 3 4096 8192", "write -z 64k 64k"])
        let cases: [[String]] = [
            [raw, empty], ["-s", raw, empty], [empty, raw], [raw, first], [first, raw], [raw, last], [last, raw],
            [lastRaw, last], ["-s", lastRaw, last], [raw, bigger], ["-s", raw, bigger], [bigger, raw],
            [raw, biggerData], [biggerData, raw], [same1, same2], ["-s", same1, same2], ["-q", raw, first],
            ["-f", "raw", "-F", "qcow2", raw, empty], ["-f", "qcow2", raw, empty], [raw, dir.file("missing")],
        ]
        for args in cases { try Agreement.sameAsQemuImg("compare", args) }
    }

    /// Strict mode compares QEMU's whole block status, including whether the extent at an
    /// offset runs to the end of the image: equal contents laid out in differently split
    /// extents (512-byte clusters whose L2 tables cut runs short, host clusters out of
    /// order) are a mismatch for qemu-img, and so for img. Every ordered pair of a set of
    /// layouts is compared.
    func testStrictModeAgreesOnExtentLayouts() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        func image(_ name: String, _ options: [String], _ cmds: [String]) throws -> String {
            let path = dir.file(name)
            try Tool.must("qemu-img", ["create", "-q"] + options + [path, "4M"])
            let format = options.contains("raw") ? "raw" : "qcow2"
            if !cmds.isEmpty { try Tool.must("qemu-io", ["-f", format] + cmds.flatMap { ["-c", $0] } + [path]) }
            return path
        }
        let qcow2 = ["-f", "qcow2"]
        var images = [
            try image("full.raw", ["-f", "raw"], ["write -P 1 0 4M"]),
            try image("half.raw", ["-f", "raw"], ["write -P 1 0 2M"]),
            try image("empty.raw", ["-f", "raw"], []),
            try image("full.qcow2", qcow2, ["write -P 1 0 4M"]),
            try image("full-512.qcow2", qcow2 + ["-o", "cluster_size=512"], ["write -P 1 0 4M"]),
            try image("full-2M.qcow2", qcow2 + ["-o", "cluster_size=2M"], ["write -P 1 0 4M"]),
            try image("reversed.qcow2", qcow2, ["write -P 1 2M 2M", "write -P 1 0 2M"]),
            try image("zero-tail.qcow2", qcow2, ["write -P 1 0 2M", "write -z 2M 2M"]),
            try image("compressed.qcow2", qcow2, ["write -c -P 1 0 2M"]),
            try image("empty.qcow2", qcow2, []),
        ]
        images.append(try image("overlay.qcow2", qcow2 + ["-b", images[3], "-F", "qcow2", "-o", "extended_l2=on"],
                                ["write -P 1 4k 4k", "write -z 64k 8k"]))
        for a in images {
            for b in images {
                try Agreement.sameAsQemuImg("compare", ["-s", a, b])
            }
        }
    }

    func testConvertedImagesCompareIdenticalStrictly() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let source = try ConvertFixtures.make(in: dir)[0].path
        try Tool.must("img", ["convert", "-O", "qcow2", source, dir.file("a.qcow2")])
        try Tool.must("img", ["convert", "-O", "qcow2", source, dir.file("b.qcow2")])
        for tool in ["img", "qemu-img"] {
            let r = try Tool.must(tool, ["compare", "-s", dir.file("a.qcow2"), dir.file("b.qcow2")])
            XCTAssertEqual(r.stdout, "Images are identical.\n")
        }
    }
}
