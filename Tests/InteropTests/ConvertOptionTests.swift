import Foundation
import XCTest

/// convert's options that change what is written: -B, -n, --target-is-zero, -S, and
/// what happens on errors (--salvage, cleanup, bad arguments).
final class ConvertOptionTests: XCTestCase {
    func testBackingFileOverlayStoresOnlyDifferences() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        let overlay = sources.first { $0.name == "backing-chain" }!.path
        let out = dir.file("new-overlay.qcow2")
        try Tool.must("img", ["convert", "-O", "qcow2", "-B", "plain.qcow2", "-F", "qcow2", overlay, out])
        try Tool.must("qemu-img", ["check", "-q", out])
        try Tool.must("qemu-img", ["compare", "-q", overlay, out])
        let info = try Tool.must("qemu-img", ["info", out]).stdout
        XCTAssertTrue(info.contains("backing file: plain.qcow2"), info)
        // The overlay's own clusters: only what differs from plain.qcow2 (3 clusters of the
        // first 192 KiB and the zeroed cluster at 1 MiB), nothing else.
        let map = try Tool.must("qemu-img", ["map", "--output", "json", out]).stdout
        let own = map.split(separator: "\n").filter { $0.contains("\"depth\": 0") && $0.contains("\"present\": true") }
        let ownBytes = own.compactMap { line -> Int? in
            guard let r = line.range(of: #""length": \d+"#, options: .regularExpression) else { return nil }
            return Int(line[r].dropFirst(10))
        }.reduce(0, +)
        XCTAssertEqual(ownBytes, 3 * 65536 + 65536, map)
        try Agreement.imgFails(["convert", "-O", "qcow2", "-B", "plain.qcow2", overlay, dir.file("x.qcow2")],
                               saying: "explicit backing format")
    }

    func testExistingTargetIsOverwrittenAndZeroed() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let source = try ConvertFixtures.make(in: dir)[0].path
        for format in ["qcow2", "raw"] {
            let target = dir.file("existing.\(format)")
            try Tool.must("qemu-img", ["create", "-q", "-f", format, target, "8M"])
            try Tool.must("qemu-io", ["-f", format, "-c", "write -P 0x55 0 8M", target])
            try Tool.must("img", ["convert", "-n", source, target])
            try Tool.must("qemu-img", ["compare", "-q", "-F", format, source, target])
            // --target-is-zero trusts the caller: the old bytes stay where the source is zero.
            try Tool.must("qemu-io", ["-f", format, "-c", "write -P 0x55 0 8M", target])
            try Tool.must("img", ["convert", "-n", "--target-is-zero", source, target])
            let r = try Tool.run("qemu-img", ["compare", "-F", format, source, target])
            XCTAssertEqual(r.status, 1, r.stdout)
        }
        let small = dir.file("small.raw")
        try Tool.must("qemu-img", ["create", "-q", "-f", "raw", small, "1M"])
        try Agreement.imgFails(["convert", "-n", source, small], saying: "too small")
    }

    func testSparseSizeZeroAllocatesEverything() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let source = try ConvertFixtures.make(in: dir)[0].path
        for format in ["qcow2", "raw"] {
            try Tool.must("img", ["convert", "-S", "0", "-O", format, source, dir.file("m.\(format)")])
            try Tool.must("qemu-img", ["convert", "-S", "0", "-O", format, source, dir.file("q.\(format)")])
            XCTAssertEqual(try ConvertFixtures.layout("img", dir.file("m.\(format)")),
                           try ConvertFixtures.layout("qemu-img", dir.file("q.\(format)")))
            try Tool.must("qemu-img", ["compare", "-q", source, dir.file("m.\(format)")])
        }
        // A larger -S leaves more zero runs unwritten, like qemu-img.
        try Tool.must("img", ["convert", "-S", "64k", "-O", "qcow2", source, dir.file("m64.qcow2")])
        try Tool.must("qemu-img", ["convert", "-S", "64k", "-O", "qcow2", source, dir.file("q64.qcow2")])
        XCTAssertEqual(try ConvertFixtures.layout("img", dir.file("m64.qcow2")),
                       try ConvertFixtures.layout("qemu-img", dir.file("q64.qcow2")))
    }

    /// -W writes chunks as they are ready: the guest contents are the source's and the
    /// target checks clean for every kind of target, with several workers.
    func testOutOfOrderWritesKeepContents() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for (name, source) in try ConvertFixtures.make(in: dir) {
            for options in [["-O", "qcow2"], ["-O", "qcow2", "-c"], ["-O", "qcow2", "-c", "-o", "compression_type=zstd"],
                            ["-O", "raw"]] {
                let out = dir.file("w-\(name).out")
                try Tool.must("img", ["convert", "-W", "-m", "4"] + options + [source, out])
                if options.contains("qcow2") { try Tool.must("qemu-img", ["check", out]) }
                try Tool.must("qemu-img", ["compare", "-q", source, out])
                try FileManager.default.removeItem(atPath: out)
            }
        }
    }

    /// A source with a compressed cluster whose data is garbage.
    private func corruptSource(_ dir: TempDir) throws -> String {
        let path = dir.file("bad.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", path, "4M"])
        try Tool.must("qemu-io", ["-c", "write -c -P 1 0 64k", "-c", "write -c -P 2 64k 64k", "-c", "write -P 3 1M 64k", path])
        // qemu-img lays the first compressed cluster at 0x50000 in a fresh 64 KiB-cluster image.
        let map = try Tool.must("qemu-img", ["map", "--output", "json", path]).stdout
        XCTAssertTrue(map.contains("\"compressed\": true") || map.contains("\"data\": true"), map)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 0x50000)
        handle.write(Data(repeating: 0xFF, count: 64))
        try handle.close()
        return path
    }

    func testReadErrorRemovesCreatedTarget() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let bad = try corruptSource(dir)
        let out = dir.file("out.qcow2")
        try Agreement.imgFails(["convert", "-O", "qcow2", bad, out], saying: "compressed cluster")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // Into an existing target: kept, and reported as incomplete.
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", out, "4M"])
        try Agreement.imgFails(["convert", "-n", bad, out], saying: "incomplete")
    }

    func testSalvageTurnsReadErrorsIntoZeros() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let bad = try corruptSource(dir)
        let out = dir.file("out.raw")
        let r = try Tool.must("img", ["convert", "--salvage", "-O", "raw", bad, out])
        XCTAssertTrue(r.stderr.contains("warning: error while reading offset 0 (65536 bytes)"), r.stderr)
        try Tool.must("qemu-io", ["-f", "raw", "-c", "read -P 0 0 64k", "-c", "read -P 2 64k 64k", "-c", "read -P 3 1M 64k", out])
    }

    func testInterruptRemovesCreatedTarget() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let src = dir.file("big.qcow2"), out = dir.file("out.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", src, "1T"])
        // -S 0 writes the whole terabyte: long enough to be interrupted.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Tool.img)
        p.arguments = ["convert", "-S", "0", "-O", "qcow2", src, out]
        p.standardError = FileHandle.nullDevice
        try p.run()
        var waited = 0
        while !FileManager.default.fileExists(atPath: out) && waited < 100 { usleep(50_000); waited += 1 }
        usleep(300_000)
        p.interrupt()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testBadArguments() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let src = dir.file("a.raw")
        try Tool.must("qemu-img", ["create", "-q", "-f", "raw", src, "1M"])
        for (args, message) in [(["-m", "17"], "between 1 and 16"), (["-S", "100"], "multiples of 512"),
                                (["--target-is-zero"], "requires use of -n"), (["-c"], "Compression not supported")] {
            try Agreement.imgFails(["convert"] + args + [src, dir.file("out.raw")], saying: message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("out.raw")))
        }
    }

    func testTargetThatIsAnInputIsRefused() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let sources = try ConvertFixtures.make(in: dir)
        let overlay = sources.first { $0.name == "backing-chain" }!.path, base = dir.file("plain.qcow2")
        for target in [overlay, base] {
            let before = fileBytes(target)
            try Agreement.imgFails(["convert", "-O", "qcow2", overlay, target], saying: "refusing to overwrite")
            XCTAssertEqual(fileBytes(target), before)
        }
    }

    func testProgressGoesToStderr() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let source = try ConvertFixtures.make(in: dir)[0].path
        let r = try Tool.must("img", ["convert", "-p", "-O", "qcow2", source, dir.file("p.qcow2")])
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.contains("    (100.00/100%)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("/s"), r.stderr)
        let q = try Tool.must("img", ["convert", "-O", "qcow2", source, dir.file("q.qcow2")])
        XCTAssertEqual(q.stdout + q.stderr, "")
    }
}
