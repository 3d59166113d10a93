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
