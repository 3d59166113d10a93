import Foundation
import ImageFormat
import XCTest

/// Images written by qemu-img / qemu-io read through img byte for byte as
/// `qemu-img convert -O raw` reads them, and `img info --output json` agrees with qemu-img's.
final class QemuWritesImgReadsTests: XCTestCase {
    /// Reads the whole guest through the format layer, in 1 MiB steps.
    static func readAll(_ path: String) throws -> Data {
        let device = try openImage(path: path, format: nil, writable: false, forceShare: true)
        defer { try? device.close() }
        var out = Data(capacity: Int(device.virtualSize))
        var pos: UInt64 = 0
        while pos < device.virtualSize {
            let n = Int(min(1 << 20, device.virtualSize - pos))
            out.append(contentsOf: try device.read(count: n, at: pos))
            pos += UInt64(n)
        }
        return out
    }

    func assertReadsLikeQemu(_ path: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let raw = path + ".ref.raw"
        try Tool.must("qemu-img", ["convert", "-U", "-O", "raw", path, raw])
        let mine = try Self.readAll(path)
        XCTAssertTrue(mine == fileBytes(raw), "\(label): img reads different bytes than qemu-img convert", file: file, line: line)
        try assertInfoAgrees(path, label, file: file, line: line)
    }

    /// The fields the foundation issue lists, compared as parsed JSON.
    func assertInfoAgrees(_ path: String, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let theirs = try Tool.must("qemu-img", ["info", "-U", "--output", "json", path])
        let mine = try Tool.must("img", ["info", "-U", "--output", "json", path])
        guard let a = try JSONSerialization.jsonObject(with: Data(theirs.stdout.utf8)) as? [String: Any],
              let b = try JSONSerialization.jsonObject(with: Data(mine.stdout.utf8)) as? [String: Any] else {
            return XCTFail("\(label): info output is not a JSON object", file: file, line: line)
        }
        for key in ["filename", "format", "virtual-size", "actual-size", "cluster-size", "dirty-flag",
                    "backing-filename", "full-backing-filename", "backing-filename-format"] {
            XCTAssertEqual(a[key].map { "\($0)" }, b[key].map { "\($0)" }, "\(label): info field \(key)", file: file, line: line)
        }
        let fa = (a["format-specific"] as? [String: Any])?["data"] as? [String: Any]
        let fb = (b["format-specific"] as? [String: Any])?["data"] as? [String: Any]
        for key in ["compat", "lazy-refcounts", "refcount-bits", "corrupt", "extended-l2", "compression-type"] {
            XCTAssertEqual(fa?[key].map { "\($0)" }, fb?[key].map { "\($0)" }, "\(label): format-specific \(key)", file: file, line: line)
        }
        let sa = (a["snapshots"] as? [[String: Any]])?.map { "\($0["id"] ?? "")/\($0["name"] ?? "")/\($0["date-sec"] ?? "")/\($0["vm-state-size"] ?? "")" }
        let sb = (b["snapshots"] as? [[String: Any]])?.map { "\($0["id"] ?? "")/\($0["name"] ?? "")/\($0["date-sec"] ?? "")/\($0["vm-state-size"] ?? "")" }
        XCTAssertEqual(sa, sb, "\(label): snapshots", file: file, line: line)
    }

    func testMatrix() throws {
        try Tool.requireQemu()
        for v in Qcow2Variant.all {
            let dir = try TempDir()
            let ref = dir.file("qemu.qcow2")
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", v.createOptions, ref, String(v.virtualSize)])
            try Tool.must("qemu-io", v.workload.flatMap { ["-c", $0] } + [ref])
            try assertReadsLikeQemu(ref, "\(v)")
        }
    }

    func testCompressedConvertZlibAndZstd() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let src = dir.file("src.raw")
        // Compressible and incompressible regions.
        var bytes = Data(count: 3 << 20)
        for i in 0..<bytes.count { bytes[i] = i < (1 << 20) ? UInt8(i % 7) : UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13) }
        try bytes.write(to: URL(fileURLWithPath: src))
        for (name, opts) in [("zlib", "compression_type=zlib"), ("zstd", "compression_type=zstd"),
                             ("zlib-512", "compression_type=zlib,cluster_size=512"),
                             ("zstd-2M", "compression_type=zstd,cluster_size=2M")] {
            let out = dir.file("\(name).qcow2")
            try Tool.must("qemu-img", ["convert", "-c", "-O", "qcow2", "-o", opts, src, out])
            try assertReadsLikeQemu(out, "convert -c \(name)")
        }
    }

    func testZeroClustersAndPreallocation() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for prealloc in ["off", "metadata", "falloc", "full"] {
            let path = dir.file("z-\(prealloc).qcow2")
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "preallocation=\(prealloc)", path, "4M"])
            try Tool.must("qemu-io", ["-c", "write -P 1 0 1M", "-c", "write -z 64k 128k", "-c", "write -z -u 512k 64k",
                                      "-c", "write -z 2M 64k", path])
            try assertReadsLikeQemu(path, "zero clusters, preallocation=\(prealloc)")
        }
    }

    func testBackingChainThreeDeep() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let base = dir.file("base.raw"), mid = dir.file("mid.qcow2"), top = dir.file("top.qcow2"), top2 = dir.file("top2.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "raw", base, "8M"])
        try Tool.must("qemu-io", ["-f", "raw", "-c", "write -P 1 0 8M", base])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", mid])
        try Tool.must("qemu-io", ["-c", "write -P 2 1M 1M", "-c", "write -z 3M 64k", "-c", "discard 5M 1M", mid])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=4k", "-b", "mid.qcow2", "-F", "qcow2", top])
        try Tool.must("qemu-io", ["-c", "write -P 3 1536k 100k", "-c", "write -P 4 7M 12345", top])
        // A larger overlay than its backing file: the tail reads as zeroes.
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "top.qcow2", "-F", "qcow2", top2, "12M"])
        try Tool.must("qemu-io", ["-c", "write -P 5 100k 3k", "-c", "write -P 6 9M 1k", top2])
        try assertReadsLikeQemu(top2, "backing chain 3 deep")
        try assertReadsLikeQemu(top, "backing chain 2 deep")
    }

    func testInternalSnapshots() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("snap.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", path, "4M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 2M", path])
        try Tool.must("qemu-img", ["snapshot", "-c", "one", path])
        try Tool.must("qemu-io", ["-c", "write -P 2 1M 2M", path])
        try Tool.must("qemu-img", ["snapshot", "-c", "two", path])
        try Tool.must("qemu-io", ["-c", "write -P 3 512k 64k", "-c", "discard 3M 64k", path])
        try assertReadsLikeQemu(path, "image with internal snapshots")
    }
}
