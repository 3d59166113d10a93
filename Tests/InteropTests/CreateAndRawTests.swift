import Foundation
import XCTest

/// img create's option checks word for word like qemu-img's, raw images, map output, and
/// the dirty bit of lazy-refcount images.
final class CreateAndRawTests: XCTestCase {
    func testInvalidCreateOptionsGiveQemuImgsMessages() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let cases: [[String]] = [
            ["-o", "cluster_size=1000"], ["-o", "cluster_size=4M"], ["-o", "refcount_bits=3"],
            ["-o", "compat=0.10,refcount_bits=1"], ["-o", "compat=0.10,lazy_refcounts=on"],
            ["-o", "compat=0.10,extended_l2=on"], ["-o", "compat=0.10,compression_type=zstd"],
            ["-o", "compat=2"], ["-o", "compression_type=lz"], ["-o", "foo=1"], ["-o", "preallocation=foo"],
            ["-o", "extended_l2=on,cluster_size=4k"], ["-o", "preallocation=metadata", "-b", "base.qcow2", "-F", "qcow2"],
            ["-F", "qcow2"],
        ]
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", dir.file("base.qcow2"), "1M"])
        for args in cases {
            let theirs = try Tool.run("qemu-img", ["create", "-q", "-f", "qcow2"] + args + ["x.qcow2", "1M"], cwd: dir.path)
            let mine = try Tool.img(["create", "-q", "-f", "qcow2"] + args + ["x.qcow2", "1M"], cwd: dir.path)
            XCTAssertEqual(mine.status, theirs.status, "\(args)")
            XCTAssertEqual(mine.stderr.replacingOccurrences(of: "img: ", with: ""),
                           theirs.stderr.replacingOccurrences(of: "qemu-img: ", with: ""), "\(args)")
        }
    }

    func testCreateOutputLineMatchesQemuImg() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", dir.file("b.qcow2"), "1M"])
        for args in [["-f", "qcow2"], ["-f", "qcow2", "-o", "compat=0.10"], ["-f", "raw"], ["-f", "raw", "-o", "preallocation=full"],
                     ["-f", "qcow2", "-o", "cluster_size=4k,preallocation=metadata,lazy_refcounts=on,refcount_bits=1,compression_type=zstd"],
                     ["-f", "qcow2", "-b", "b.qcow2", "-F", "qcow2"]] {
            let theirs = try Tool.must("qemu-img", ["create"] + args + ["x", "2M"], cwd: dir.path)
            let mine = try Tool.must("img", ["create"] + args + ["x", "2M"], cwd: dir.path)
            XCTAssertEqual(mine.stdout, theirs.stdout, "\(args)")
            try Tool.must("qemu-img", ["check", dir.file("x")], expect: args[1] == "raw" ? 63 : 0)
        }
    }

    func testDefaultImageIsByteIdenticalToQemuImgs() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for opts in ["cluster_size=65536", "compat=0.10", "cluster_size=512,refcount_bits=1", "extended_l2=on,compression_type=zstd"] {
            try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", opts, dir.file("a"), "10G"])
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", opts, dir.file("b"), "10G"])
            XCTAssertTrue(fileBytes(dir.file("a")) == fileBytes(dir.file("b")), "\(opts): header or tables differ from qemu-img's")
        }
    }

    func testRawImagesAndMapAgreeWithQemu() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for prealloc in ["off", "falloc", "full"] {
            let path = dir.file("r-\(prealloc).raw")
            try Tool.must("img", ["create", "-q", "-f", "raw", "-o", "preallocation=\(prealloc)", path, "3M"])
            try Tool.must("img", ["io", "-f", "raw", "-c", "write -P 9 1M 64k", "-c", "write -z 2M 4k", path])
            try Tool.must("qemu-io", ["-f", "raw", "-c", "read -P 9 1M 64k", "-c", "read -P 0 0 1M", path])
            let a = try Tool.must("img", ["info", "--output", "json", path]).stdout
            let b = try Tool.must("qemu-img", ["info", "--output", "json", path]).stdout
            XCTAssertEqual(a, b, "raw info, preallocation=\(prealloc)")
        }
        // Sparse raw file: map shows data and holes like qemu-img's.
        let sparse = dir.file("s.raw")
        try Tool.must("img", ["create", "-q", "-f", "raw", sparse, "8M"])
        try Tool.must("img", ["io", "-f", "raw", "-c", "write -P 1 1M 1M", "-c", "write -P 2 6M 64k", sparse])
        XCTAssertEqual(try Tool.must("img", ["map", "-f", "raw", "--output", "json", sparse]).stdout
                        .replacingOccurrences(of: ", \"compressed\": false", with: ""),
                       try Tool.must("qemu-img", ["map", "-f", "raw", "--output", "json", sparse]).stdout)
    }

    func testQcow2MapMatchesQemuImgOnChainsAndPartialRanges() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let base = dir.file("base.qcow2"), top = dir.file("top.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", base, "8M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 2M", "-c", "write -z 3M 1M", base])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top])
        try Tool.must("qemu-io", ["-c", "write -P 2 1M 128k", "-c", "discard 1536k 64k", "-c", "write -z 5M 64k", top])
        for extra in [[], ["--start-offset", "1M"], ["--start-offset", "65536", "--max-length", "3M"]] {
            for fmt in ["json", "human"] {
                let mine = try Tool.must("img", ["map", "--output", fmt] + extra + [top], cwd: dir.path).stdout
                let theirs = try Tool.must("qemu-img", ["map", "--output", fmt] + extra + [top], cwd: dir.path).stdout
                XCTAssertEqual(mine.replacingOccurrences(of: ", \"compressed\": false", with: ""), theirs, "map \(fmt) \(extra)")
            }
        }
    }

    func testLazyRefcountsSetTheDirtyBitOnlyWhileOpen() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("lazy.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", path, "8M"])
        // While img io runs its commands the image is dirty; a clean close clears the bit.
        try Tool.must("img", ["io", "-c", "write -P 3 0 1M", "-c", "write -P 4 4M 64k", path])
        let info = try Tool.must("qemu-img", ["info", "--output", "json", path]).stdout
        XCTAssertTrue(info.contains("\"dirty-flag\": false"), info)
        try Tool.must("qemu-img", ["check", path])
        try Tool.must("qemu-io", ["-c", "read -P 3 0 1M", "-c", "read -P 4 4M 64k", path])
        // A writer killed before closing leaves the bit set; qemu-img sees it.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: Tool.img)
        holder.arguments = ["io"] + Array(repeating: ["-c", "write -P 5 0 8M"], count: 300).flatMap { $0 } + [path]
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        var dirty = false
        for _ in 0..<1000 where holder.isRunning {
            let handle = FileHandle(forReadingAtPath: path)
            let header = handle?.readData(ofLength: 80) ?? Data()
            try? handle?.close()
            if header.count == 80 && header[79] & 1 != 0 { dirty = true; break }
            usleep(10_000)
        }
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        XCTAssertTrue(dirty, "the dirty bit was never set while writing with lazy refcounts")
        let after = try Tool.must("qemu-img", ["info", "-U", "--output", "json", path]).stdout
        XCTAssertTrue(after.contains("\"dirty-flag\": true"), after)
    }
}
