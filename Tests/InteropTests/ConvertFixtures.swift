import XCTest

/// Source images for the convert tests, written by QEMU's own tools so that img reads
/// what qemu writes: every kind the issue lists, each with data, zeros, holes, a
/// compressed cluster and a partial last cluster.
enum ConvertFixtures {
    /// qemu-io commands that give an 8 MiB image data, zero ranges and holes.
    /// Compressed writes cover whole clusters, so their length is the cluster size at least.
    static func pattern(compressedLength: String = "64k") -> [String] {
        ["-c", "write -P 1 0 100k", "-c", "write -P 2 1M 3k", "-c", "write -z 2M 128k",
         "-c", "write -c -P 3 4M \(compressedLength)", "-c", "write -c -P 5 6M \(compressedLength)",
         "-c", "write -P 4 8388096 512"]
    }

    /// Name -> path of each source kind, created in `dir`.
    static func make(in dir: TempDir) throws -> [(name: String, path: String)] {
        var result: [(String, String)] = []
        func qcow2(_ name: String, _ opts: [String], compressedLength: String = "64k") throws {
            let path = dir.file(name + ".qcow2")
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2"] + opts + [path, "8M"])
            try Tool.must("qemu-io", pattern(compressedLength: compressedLength) + [path])
            result.append((name, path))
        }
        try qcow2("plain", [])
        try qcow2("zstd", ["-o", "compression_type=zstd"])
        try qcow2("extl2", ["-o", "extended_l2=on"])
        try qcow2("c512", ["-o", "cluster_size=512"])
        try qcow2("c2m", ["-o", "cluster_size=2M"], compressedLength: "2M")
        // Wholly compressed sources, as qemu-img convert -c writes them.
        let zlib = dir.file("compressed-zlib.qcow2")
        try Tool.must("qemu-img", ["convert", "-c", "-O", "qcow2", dir.file("plain.qcow2"), zlib])
        result.append(("compressed-zlib", zlib))
        let zstd = dir.file("compressed-zstd.qcow2")
        try Tool.must("qemu-img", ["convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", dir.file("plain.qcow2"), zstd])
        result.append(("compressed-zstd", zstd))
        // A backing chain: the overlay changes some of the base and zeroes part of a cluster.
        let overlay = dir.file("overlay.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "plain.qcow2", "-F", "qcow2", overlay])
        try Tool.must("qemu-io", ["-c", "write -P 9 50k 100k", "-c", "write -z 0 4k", "-c", "write -z 1M 64k", overlay])
        result.append(("backing-chain", overlay))
        // Snapshots: the active image differs from the snapshot.
        let snap = dir.file("snapshots.qcow2")
        try Tool.must("qemu-img", ["convert", "-O", "qcow2", dir.file("plain.qcow2"), snap])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", snap])
        try Tool.must("qemu-io", ["-c", "write -P 7 0 1M", "-c", "discard 4M 64k", snap])
        result.append(("snapshots", snap))
        let raw = dir.file("source.raw")
        try Tool.must("qemu-img", ["convert", "-O", "raw", dir.file("plain.qcow2"), raw])
        result.append(("raw", raw))
        return result
    }

    /// Target kinds: name and convert arguments.
    static let targets: [(name: String, args: [String])] = [
        ("raw", ["-O", "raw"]), ("qcow2", ["-O", "qcow2"]),
        ("qcow2-zlib", ["-O", "qcow2", "-c"]), ("qcow2-zstd", ["-O", "qcow2", "-c", "-o", "compression_type=zstd"]),
    ]

    /// `map --output json` with host offsets and the compressed flag removed (their
    /// placement is the writer's business; the layout is what must match).
    static func layout(_ program: String, _ path: String) throws -> String {
        let out = try Tool.must(program, ["map", "--output", "json", path]).stdout
        return out.replacingOccurrences(of: #", "offset": \d+"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #", "compressed": (true|false)"#, with: "", options: .regularExpression)
    }
}

/// Assertions shared by the convert, compare, measure and dd tests.
enum Agreement {
    /// img and qemu-img give the same exit status and standard output for `command args`.
    static func sameAsQemuImg(_ command: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let q = try Tool.run("qemu-img", [command] + args)
        let m = try Tool.img([command] + args)
        XCTAssertEqual(m.status, q.status, "\(command) \(args): img \(m.stdout + m.stderr), qemu-img \(q.stdout + q.stderr)",
                       file: file, line: line)
        XCTAssertEqual(m.stdout, q.stdout, "\(command) \(args)", file: file, line: line)
    }

    /// img fails with status 1 and a message containing `message`.
    @discardableResult
    static func imgFails(_ args: [String], saying message: String, file: StaticString = #filePath, line: UInt = #line) throws -> Tool.Result {
        let r = try Tool.img(args)
        XCTAssertEqual(r.status, 1, "img \(args)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(message), "img \(args): \(r.stderr)", file: file, line: line)
        return r
    }
}
