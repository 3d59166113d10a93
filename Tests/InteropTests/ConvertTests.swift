import Foundation
import XCTest

/// img convert against qemu-img 7.2: every source kind to every target kind must pass
/// qemu-img check and compare, have qemu-img's data/zero/hole layout, and qemu-img's own
/// output of the same source must read the same through img.
final class ConvertTests: XCTestCase {
    func testEverySourceToEveryTarget() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for (name, source) in try ConvertFixtures.make(in: dir) {
            for (targetName, args) in ConvertFixtures.targets {
                let mine = dir.file("\(name)-\(targetName).img"), theirs = dir.file("\(name)-\(targetName).qemu")
                try Tool.must("img", ["convert"] + args + [source, mine])
                try Tool.must("qemu-img", ["convert"] + args + [source, theirs])
                if targetName != "raw" { try Tool.must("qemu-img", ["check", "-q", mine]) }
                try Tool.must("qemu-img", ["compare", "-q", source, mine])
                try Tool.must("img", ["compare", "-q", source, theirs])
                XCTAssertEqual(try ConvertFixtures.layout("img", mine), try ConvertFixtures.layout("qemu-img", theirs),
                               "layout of \(name) -> \(targetName)")
            }
        }
    }

    func testSnapshotSourceWithL() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        let snap = sources.first { $0.name == "snapshots" }!.path
        for spec in ["s1", "1", "snapshot.name=s1", "snapshot.id=1"] {
            let mine = dir.file("snap.img"), theirs = dir.file("snap.qemu")
            try Tool.must("img", ["convert", "-l", spec, "-O", "qcow2", snap, mine])
            try Tool.must("qemu-img", ["convert", "-l", spec, "-O", "qcow2", snap, theirs])
            try Tool.must("qemu-img", ["check", "-q", mine])
            try Tool.must("qemu-img", ["compare", "-q", mine, theirs])
            try Tool.must("qemu-img", ["compare", "-q", mine, dir.file("plain.qcow2")])
        }
        try Agreement.imgFails(["convert", "-l", "nosuch", snap, dir.file("x.img")], saying: "nosuch")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("x.img")))
    }

    func testCompressedOutputSizeAndSmallClusters() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let src = dir.file("src.raw")
        // Compressible text and incompressible random data: the random clusters are
        // stored uncompressed, as QEMU does.
        var bytes = [UInt8](repeating: 0, count: 4 << 20)
        for i in 0..<(1 << 20) { bytes[i] = UInt8(ascii: "a") &+ UInt8(i % 26) }
        var rng = SystemRandomNumberGenerator()
        for i in (2 << 20)..<(3 << 20) { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        try Data(bytes).write(to: URL(fileURLWithPath: src))
        for type in ["zlib", "zstd"] {
            let mine = dir.file("m-\(type).qcow2"), theirs = dir.file("q-\(type).qcow2")
            try Tool.must("img", ["convert", "-c", "-O", "qcow2", "-o", "compression_type=\(type)", src, mine])
            try Tool.must("qemu-img", ["convert", "-c", "-O", "qcow2", "-o", "compression_type=\(type)", src, theirs])
            try Tool.must("qemu-img", ["check", "-q", mine])
            try Tool.must("qemu-img", ["compare", "-q", src, mine])
            let m = try FileManager.default.attributesOfItem(atPath: mine)[.size] as! UInt64
            let q = try FileManager.default.attributesOfItem(atPath: theirs)[.size] as! UInt64
            XCTAssertLessThanOrEqual(Double(m), Double(q) * 1.01, "\(type): img \(m) bytes, qemu-img \(q)")
        }
    }

    func testSparseOneTebibyte() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let src = dir.file("big.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", src, "1T"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 4M", "-c", "write -P 2 500G 4M", "-c", "write -P 3 1023G 2M",
                                  "-c", "write -z 600G 1G", src])
        for (format, args) in [("qcow2", ["-O", "qcow2"]), ("raw", ["-O", "raw"])] {
            let mine = dir.file("out.\(format)"), theirs = dir.file("qemu.\(format)")
            try Tool.must("img", ["convert"] + args + [src, mine])
            try Tool.must("qemu-img", ["convert"] + args + [src, theirs])
            let st = try FileManager.default.attributesOfItem(atPath: mine)
            if format == "qcow2" { XCTAssertLessThan(st[.size] as! UInt64, 64 << 20) }
            let used = try Tool.must("du", ["-k", mine]).stdout.split(separator: "\t").first.flatMap { Int($0) } ?? .max
            XCTAssertLessThan(used, 64 * 1024, "\(format) output occupies \(used) KiB")
            XCTAssertEqual(try ConvertFixtures.layout("img", mine), try ConvertFixtures.layout("qemu-img", theirs))
            try Tool.must("qemu-img", ["compare", "-q", src, mine])
            try? FileManager.default.removeItem(atPath: theirs)
            try? FileManager.default.removeItem(atPath: mine)
        }
    }

    func testOutputDoesNotDependOnWorkerCount() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        for source in [sources[0].path, sources.first { $0.name == "backing-chain" }!.path] {
            for (name, args) in ConvertFixtures.targets {
                let one = dir.file("m1-\(name)"), eight = dir.file("m8-\(name)")
                try Tool.must("img", ["convert", "-m", "1"] + args + [source, one])
                try Tool.must("img", ["convert", "-m", "8"] + args + [source, eight])
                XCTAssertEqual(fileBytes(one), fileBytes(eight), "\(name): -m 1 and -m 8 differ")
            }
        }
    }

    func testSeveralSourcesAreConcatenated() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        let a = sources[0].path, b = sources.first { $0.name == "raw" }!.path
        try Tool.must("img", ["convert", "-O", "qcow2", a, b, dir.file("cat.qcow2")])
        try Tool.must("qemu-img", ["convert", "-O", "qcow2", a, b, dir.file("cat.qemu")])
        try Tool.must("qemu-img", ["check", "-q", dir.file("cat.qcow2")])
        try Tool.must("qemu-img", ["compare", "-q", dir.file("cat.qcow2"), dir.file("cat.qemu")])
    }
}
