import Foundation
import XCTest

/// Crafted writes into metadata: an L2 entry is poked to point a guest cluster (with COPIED
/// set, so img writes in place) at a metadata structure. In the modes that cover that
/// structure the write is refused by name, the corrupt bit is set, nothing else changes,
/// and qemu-img agrees the image is corrupt; in the modes that do not, it goes through.
final class OverlapCheckTests: XCTestCase {
    struct Layout {
        var l1: UInt64, activeL2: UInt64, refcountTable: UInt64, refcountBlock: UInt64
        var snapshotTable: UInt64, inactiveL1: UInt64, inactiveL2: UInt64, bitmapDirectory: UInt64
    }

    static func be64(_ d: Data, _ at: Int) -> UInt64 { d[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
    static func put64(_ d: inout Data, _ v: UInt64, _ at: Int) {
        for i in 0..<8 { d[at + i] = UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * i)) }
    }

    /// A qcow2 image with every structure present: data, a snapshot whose L2 table is no
    /// longer shared with the active one, and a persistent bitmap.
    func makeImage(_ dir: TempDir) throws -> (String, Layout) {
        let path = dir.file("o.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", path, "16M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 128k", path])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", path])
        try Tool.must("qemu-io", ["-c", "write -P 2 0 64k", path])  // copies the L2 table away from the snapshot's
        try Tool.must("qemu-img", ["bitmap", "--add", path, "b0"])
        let d = fileBytes(path)
        let l1 = Self.be64(d, 40), rt = Self.be64(d, 48), snap = Self.be64(d, 64)
        let activeL2 = Self.be64(d, Int(l1)) & 0x00FF_FFFF_FFFF_FE00
        let inactiveL1 = Self.be64(d, Int(snap))
        let inactiveL2 = Self.be64(d, Int(inactiveL1)) & 0x00FF_FFFF_FFFF_FE00
        let block = Self.be64(d, Int(rt))
        // Bitmaps extension: find it after the 112-byte header.
        var off = 112, dirOffset: UInt64 = 0
        while off + 8 < 65536 {
            let type = UInt32(truncatingIfNeeded: Self.be64(d, off) >> 32), len = Int(Self.be64(d, off) & 0xFFFF_FFFF)
            if type == 0 { break }
            if type == 0x2385_2875 { dirOffset = Self.be64(d, off + 8 + 16) }
            off += 8 + (len + 7) / 8 * 8
        }
        XCTAssertNotEqual(activeL2, inactiveL2, "the active L2 table should have been copied")
        XCTAssertNotEqual(dirOffset, 0, "no bitmap directory found")
        return (path, Layout(l1: l1, activeL2: activeL2, refcountTable: rt, refcountBlock: block, snapshotTable: snap,
                             inactiveL1: inactiveL1, inactiveL2: inactiveL2, bitmapDirectory: dirOffset))
    }

    func testEachStructureRefusedByNameInTheModesThatCoverIt() throws {
        try Tool.requireQemu()
        let targets: [(String, KeyPath<Layout, UInt64>, Set<String>)] = [
            ("active L1 table", \.l1, ["constant", "cached", "all"]),
            ("active L2 table", \.activeL2, ["cached", "all"]),
            ("refcount table", \.refcountTable, ["constant", "cached", "all"]),
            ("refcount block", \.refcountBlock, ["cached", "all"]),
            ("snapshot table", \.snapshotTable, ["constant", "cached", "all"]),
            ("inactive L1 table", \.inactiveL1, ["cached", "all"]),
            ("inactive L2 table", \.inactiveL2, ["all"]),
            ("bitmap directory", \.bitmapDirectory, ["constant", "cached", "all"]),
        ]
        var refused = 0, passed = 0
        for (name, keyPath, modes) in targets {
            for mode in ["none", "constant", "cached", "all"] {
                let dir = try TempDir()
                let (path, layout) = try makeImage(dir)
                var bytes = fileBytes(path)
                // Guest cluster 1 (64 KiB) now points at the structure, owned (COPIED).
                Self.put64(&bytes, layout[keyPath: keyPath] | (1 << 63), Int(layout.activeL2) + 8)
                try bytes.write(to: URL(fileURLWithPath: path))
                let r = try Tool.img(["io", "--image-opts", "-c", "write -P 0xEE 65536 512",
                                      "driver=qcow2,file.filename=\(path),overlap-check=\(mode)"])
                let after = fileBytes(path)
                if modes.contains(mode) {
                    refused += 1
                    XCTAssertEqual(r.status, 1, "\(name) in mode \(mode) was not refused: \(r.stdout)\(r.stderr)")
                    XCTAssertTrue((r.stdout + r.stderr).contains("Preventing invalid write on metadata (overlaps with \(name))"),
                                  "\(name)/\(mode): \(r.stdout)\(r.stderr)")
                    var expected = bytes
                    expected[79] |= 0x02  // the corrupt bit, and nothing else
                    XCTAssertTrue(after == expected, "\(name)/\(mode): bytes other than the corrupt bit changed")
                    let info = try Tool.must("qemu-img", ["info", path])
                    XCTAssertTrue(info.stdout.contains("corrupt: true"), "\(name)/\(mode): qemu-img does not see the corrupt bit")
                    let again = try Tool.img(["io", "-c", "write 0 512", path])
                    XCTAssertEqual(again.status, 1, "a corrupt image was opened read-write")
                    try Tool.must("img", ["info", path])  // read-only opens still work
                } else {
                    passed += 1
                    XCTAssertEqual(r.status, 0, "\(name) in mode \(mode) should pass: \(r.stdout)\(r.stderr)")
                }
            }
        }
        print("overlap checks: \(refused) crafted writes refused by name, \(passed) passed in modes that do not cover them")
    }

    func testOverlapOptionsAreValidated() throws {
        let dir = try TempDir()
        let path = dir.file("a.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", path, "1M"])
        let conflict = try Tool.img(["io", "--image-opts", "-c", "write 0 512",
                                     "driver=qcow2,file.filename=\(path),overlap-check=none,overlap-check.template=all"])
        XCTAssertEqual(conflict.status, 1)
        XCTAssertTrue(conflict.stderr.contains("Conflicting values"), conflict.stderr)
        let bad = try Tool.img(["info", "--image-opts", "driver=qcow2,file.filename=\(path),overlap-check=some"])
        XCTAssertEqual(bad.status, 1)
        try Tool.must("img", ["io", "--image-opts", "-c", "write 0 512",
                              "driver=qcow2,file.filename=\(path),overlap-check=all,overlap-check.refcount-block=off,l2-cache-size=1M"])
    }
}
