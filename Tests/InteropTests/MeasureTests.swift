import Foundation
import XCTest

/// img measure prints qemu-img measure's numbers, human and JSON, for sizes and files.
final class MeasureTests: XCTestCase {
    func testAgreesWithQemuImgMeasure() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        var cases: [[String]] = [
            ["--size", "1G", "-O", "qcow2"], ["--output", "json", "--size", "1G", "-O", "qcow2"], ["--size", "1G"],
            ["--size", "1000", "-O", "raw"], ["--size", "1000", "-O", "qcow2"],
            ["--size", "100G", "-O", "qcow2", "-o", "cluster_size=2M"],
            ["--size", "1G", "-O", "qcow2", "-o", "cluster_size=512,refcount_bits=1"],
            ["--size", "10T", "-O", "qcow2", "-o", "refcount_bits=64,extended_l2=on"],
            ["--size", "1G", "-O", "qcow2", "-o", "compat=0.10"], [],
        ]
        for (_, path) in sources {
            cases.append(["-O", "qcow2", path])
            cases.append(["--output", "json", "-O", "qcow2", path])
            cases.append(["-O", "raw", path])
            cases.append(["-O", "qcow2", "-o", "cluster_size=512", path])
            cases.append(["-O", "qcow2", "-o", "cluster_size=2M,extended_l2=on", path])
            cases.append(["-O", "qcow2", "-o", "preallocation=full", path])
            cases.append(["-O", "qcow2", "-o", "compat=0.10", path])
        }
        let snap = sources.first { $0.name == "snapshots" }!.path
        cases.append(["-l", "s1", "-O", "qcow2", snap])
        cases.append([sources[0].path, "--size", "1G"])
        for args in cases { try Agreement.sameAsQemuImg("measure", args) }
    }

    /// Persistent bitmaps count as qemu-img counts them (every bitmap fully allocated, its
    /// table and the directory rounded up to clusters), and not at all once the autoclear
    /// bit says the extension is stale.
    func testBitmapsSizeAgreesWithQemuImg() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("bitmaps.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", path, "3G"])
        try Tool.must("qemu-img", ["bitmap", "--add", path, "b0"])
        try Tool.must("qemu-img", ["bitmap", "--add", "-g", "512", path, "a-longer-bitmap-name"])
        try Tool.must("qemu-img", ["bitmap", "--add", "-g", "2M", "--disable", path, "disabled"])
        let cases: [[String]] = [
            ["-O", "qcow2", path], ["--output", "json", "-O", "qcow2", path],
            ["-O", "qcow2", "-o", "cluster_size=512", path], ["-O", "qcow2", "-o", "cluster_size=2M", path],
            ["-O", "qcow2", "-o", "compat=0.10", path], ["-O", "raw", path],
        ]
        for args in cases { try Agreement.sameAsQemuImg("measure", args) }
        var header = fileBytes(path)
        header[95] &= ~1  // autoclear "bitmaps" bit
        try header.write(to: URL(fileURLWithPath: path))
        try Agreement.sameAsQemuImg("measure", ["-O", "qcow2", path])
        let out = try Tool.must("img", ["measure", "-O", "qcow2", path]).stdout
        XCTAssertTrue(out.contains("bitmaps size: 0"), out)
    }

    /// The estimate holds: img's own convert output fits in the required size.
    func testRequiredSizeCoversConvertOutput() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for (name, path) in try ConvertFixtures.make(in: dir) {
            let out = dir.file("\(name).out")
            try Tool.must("img", ["convert", "-O", "qcow2", path, out])
            let line = try Tool.must("img", ["measure", "-O", "qcow2", path]).stdout.split(separator: "\n")[0]
            let required = UInt64(line.split(separator: " ").last!)!
            let size = try FileManager.default.attributesOfItem(atPath: out)[.size] as! UInt64
            XCTAssertLessThanOrEqual(size, required, name)
        }
    }
}
