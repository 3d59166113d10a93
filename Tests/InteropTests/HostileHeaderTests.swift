import Foundation
import XCTest

/// Hostile images: every limit QEMU enforces on open, truncated files, offsets past the end,
/// absurd sizes and reserved bits. Each must give a clear error naming the file and the
/// structure, a non-zero exit (never a crash), and leave the file byte-for-byte unchanged.
final class HostileHeaderTests: XCTestCase {
    struct Case {
        var name: String
        /// Mutates a fresh 4 MiB qcow2 image with 64 KiB clusters and one written cluster.
        var poke: (inout Data) -> Void
        /// Text the error must contain.
        var expect: String
        /// Whether the damage is only seen when guest data is read.
        var onRead = false
    }

    static func put<T: FixedWidthInteger>(_ d: inout Data, _ value: T, at offset: Int) {
        withUnsafeBytes(of: value.bigEndian) { bytes in
            for (i, b) in bytes.enumerated() { d[offset + i] = b }
        }
    }

    /// Offsets in a fresh image made by img create (like qemu-img's): header 0, refcount
    /// table 0x10000, refcount block 0x20000, L1 0x30000, first L2 0x40000, data 0x50000.
    static let cases: [Case] = [
        Case(name: "cluster bits too small", poke: { put(&$0, UInt32(8), at: 20) }, expect: "cluster size"),
        Case(name: "cluster bits too large", poke: { put(&$0, UInt32(22), at: 20) }, expect: "cluster size"),
        Case(name: "version 4", poke: { put(&$0, UInt32(4), at: 4) }, expect: "version 4"),
        Case(name: "header length past cluster", poke: { put(&$0, UInt32(0x20000), at: 100) }, expect: "header"),
        Case(name: "header length below v3 minimum", poke: { put(&$0, UInt32(72), at: 100) }, expect: "header_length"),
        Case(name: "refcount order 7", poke: { put(&$0, UInt32(7), at: 96) }, expect: "may not exceed 64 bits"),
        Case(name: "unknown incompatible feature", poke: { put(&$0, UInt64(1) << 40, at: 72) }, expect: "Unsupported qcow2 feature"),
        Case(name: "encryption", poke: { put(&$0, UInt32(1), at: 32) }, expect: "encryption"),
        Case(name: "absurd virtual size", poke: { put(&$0, UInt64(1) << 63, at: 24) }, expect: "too big"),
        Case(name: "L1 too small for size", poke: { put(&$0, UInt64(1) << 40, at: 24) }, expect: "L1 table is too small"),
        Case(name: "L1 too large", poke: { put(&$0, UInt32(0x0100_0000), at: 36) }, expect: "L1 table too large"),
        Case(name: "L1 unaligned", poke: { put(&$0, UInt64(0x30008), at: 40) }, expect: "L1 table"),
        Case(name: "L1 past end of file", poke: { put(&$0, UInt64(1) << 40, at: 40) }, expect: "past the end of the file"),
        Case(name: "refcount table too large", poke: { put(&$0, UInt32(0x1000), at: 56) }, expect: "refcount table too large"),
        Case(name: "refcount table unaligned", poke: { put(&$0, UInt64(0x10100), at: 48) }, expect: "refcount table"),
        Case(name: "refcount table past end", poke: { put(&$0, UInt64(1) << 50, at: 48) }, expect: "past the end of the file"),
        Case(name: "no refcount table", poke: { put(&$0, UInt32(0), at: 56) }, expect: "reference count table"),
        Case(name: "backing name offset past cluster", poke: {
            put(&$0, UInt64(0x20000), at: 8); put(&$0, UInt32(4), at: 16) }, expect: "backing file offset"),
        Case(name: "backing name too long", poke: {
            put(&$0, UInt64(0x1000), at: 8); put(&$0, UInt32(2000), at: 16) }, expect: "Backing file name too long"),
        Case(name: "too many snapshots", poke: { put(&$0, UInt32(70000), at: 60) }, expect: "Too many snapshots"),
        Case(name: "snapshot table unaligned", poke: {
            put(&$0, UInt32(1), at: 60); put(&$0, UInt64(0x30010), at: 64) }, expect: "snapshot table"),
        Case(name: "snapshot table past end", poke: {
            put(&$0, UInt32(1), at: 60); put(&$0, UInt64(1) << 45, at: 64) }, expect: "snapshot table"),
        Case(name: "compression type 7", poke: { $0[104] = 7; put(&$0, UInt64(1) << 3, at: 72) }, expect: "compression type 7"),
        Case(name: "zstd without its feature bit", poke: { $0[104] = 1 }, expect: "feature bit must be set"),
        Case(name: "extended L2 with small clusters", poke: {
            put(&$0, UInt32(12), at: 20); put(&$0, UInt64(1) << 4, at: 72) }, expect: "Extended L2"),
        Case(name: "header extension past the cluster", poke: {
            put(&$0, UInt32(0x1234_5678), at: 112); put(&$0, UInt32(0xFFFF_0000), at: 116) }, expect: "header extension"),
        Case(name: "truncated to 50 bytes", poke: { $0 = $0.prefix(50) }, expect: "too short"),
        Case(name: "L1 entry unaligned", poke: { put(&$0, UInt64(0x8000_0000_0004_0200), at: 0x30000) },
             expect: "unaligned", onRead: true),
        Case(name: "L2 table past end of file", poke: { put(&$0, UInt64(0x8000_0000_0100_0000), at: 0x30000) },
             expect: "past the end of the file", onRead: true),
        Case(name: "L2 data entry unaligned", poke: { put(&$0, UInt64(0x8000_0000_0005_0200), at: 0x40000) },
             expect: "unaligned", onRead: true),
        Case(name: "compressed entry with garbage", poke: {
            put(&$0, UInt64(0x4000_0000_0000_0000) | (UInt64(3) << 54) | 0x50000, at: 0x40000)
            for i in 0..<2048 { $0[0x50000 + i] = UInt8(truncatingIfNeeded: i &* 31) } },
             expect: "compressed cluster", onRead: true),
        Case(name: "compressed entry past end", poke: {
            put(&$0, UInt64(0x4000_0000_0000_0000) | 0x0000_00FF_FFFF_0000, at: 0x40000) },
             expect: "compressed", onRead: true),
    ]

    func testHostileImages() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let pristine = try Tool.smallTemplateImage(in: dir)
        var tested = 0
        for c in Self.cases {
            let path = dir.file("bad.qcow2")
            var bytes = pristine
            c.poke(&bytes)
            try bytes.write(to: URL(fileURLWithPath: path))
            let before = fileBytes(path)
            let attempts: [[String]] = c.onRead
                ? [["io", "-f", "qcow2", "-c", "read 0 64k", path], ["io", "-f", "qcow2", "-c", "write -P 1 0 512", path]]
                : [["info", "-f", "qcow2", path], ["io", "-f", "qcow2", "-c", "write -P 1 0 512", path], ["map", "-f", "qcow2", path]]
            for args in attempts {
                let r = try Tool.img(args)
                let text = r.stdout + r.stderr
                XCTAssertNotEqual(r.status, 0, "\(c.name): img \(args[0]) accepted a hostile image\n\(text)")
                XCTAssertTrue(r.status < 128, "\(c.name): img \(args[0]) crashed (status \(r.status))\n\(text)")
                XCTAssertTrue(text.contains(c.expect), "\(c.name): img \(args[0]) said:\n\(text)\nexpected to mention: \(c.expect)")
                XCTAssertTrue(text.contains(path), "\(c.name): the error does not name the file:\n\(text)")
                XCTAssertTrue(fileBytes(path) == before, "\(c.name): img \(args[0]) changed the file")
            }
            tested += 1
        }
        print("hostile images: \(tested) cases, each refused without a crash and without a change")
    }
}
