import Foundation
import XCTest
import ImageFormat

/// img amend against qemu-img: iotest 061 (compat down/up with zero clusters, refcount
/// widths, lazy refcounts on a dirty image), iotest 112's width changes with snapshots,
/// and qemu-img's refusals.
final class AmendTests: XCTestCase {
    func testDowngradeExpandsZeroClustersThenUpgrade() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        for backed in [false, true] {
            let img = dir.file("a-\(backed).qcow2")
            if backed {
                let base = dir.file("base.qcow2")
                try Tool.must("img", ["create", "-q", "-f", "qcow2", base, "4M"])
                try Life.io(base, ["write -P 0x11 0 4M"])
                try Tool.must("img", ["create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", img])
            } else {
                try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "4M"])
            }
            try Life.io(img, ["write -P 0x2a 0 256k", "write -z 64k 64k", "write -z 1M 128k", "write -c -P 3 2M 64k"])
            try Tool.must("img", ["snapshot", "-c", "snap", img])
            let atSnapshot = try Life.guest(img)
            try Life.io(img, ["write -z 0 64k", "write -z -u 128k 64k"])
            let current = try Life.guest(img)

            try Tool.must("img", ["amend", "-o", "compat=0.10", img])
            XCTAssertTrue(try Life.info(img).contains("compat: 0.10"))
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: current, in: dir, "downgraded (backing: \(backed))")
            try Tool.must("img", ["amend", "-o", "compat=1.1", img])
            XCTAssertTrue(try Life.info(img).contains("compat: 1.1"))
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: current, in: dir, "upgraded again")
            try Tool.must("qemu-img", ["snapshot", "-a", "snap", img])
            try Life.assertGuest(img, equals: atSnapshot, in: dir, "snapshot after the round trip")
        }
    }

    /// Iotest 112: refcount width changes with snapshots sharing clusters.
    func testRefcountWidths() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("r.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "16M"])
        try Life.io(img, ["write -P 1 0 1M", "write -c -P 2 2M 64k"])
        try Tool.must("img", ["snapshot", "-c", "s", img])
        let data = try Life.guest(img)
        let before = fileBytes(img)
        let r = try Tool.must("img", ["amend", "-o", "refcount_bits=1", img], expect: 1)
        XCTAssertTrue(r.stderr.hasPrefix("img: Cannot decrease refcount entry width to 1 bits: Cluster at offset 0x"), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix("has a refcount of 2\n"), r.stderr)
        XCTAssertEqual(fileBytes(img), before)
        for bits in [2, 64, 8, 32, 4, 16] {
            try Tool.must("img", ["amend", "-o", "refcount_bits=\(bits)", img])
            XCTAssertTrue(try Life.info(img).contains("refcount bits: \(bits)"))
            try Life.qemuCheck(img)
            try Life.assertGuest(img, equals: data, in: dir, "refcount_bits=\(bits)")
        }
        try Tool.must("img", ["snapshot", "-d", "s", img])
        try Tool.must("img", ["amend", "-o", "refcount_bits=1", img])
        try Life.qemuCheck(img)
        try Life.io(img, ["write -P 9 10M 1M"])
        try Life.qemuCheck(img)
    }

    func testLazyRefcountsOnCleanImage() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("l.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "4M"])
        try Tool.must("img", ["amend", "-o", "lazy_refcounts=on", img])
        XCTAssertTrue(try Life.info(img).contains("lazy refcounts: true"))
        try Life.io(img, ["write -P 4 0 1M"])
        try Tool.must("img", ["amend", "-o", "lazy_refcounts=off", img])
        XCTAssertTrue(try Life.info(img).contains("lazy refcounts: false"))
        try Life.qemuCheck(img)
    }

    /// Iotest 061's dirty case: QEMU leaves a lazy-refcounts image dirty (abort after writes).
    /// Amend repairs it on open through the repair engine, then turns lazy refcounts off
    /// (or, in a build without the repair engine, refuses and leaves the file alone).
    func testLazyRefcountsOffOnDirtyImage() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("d.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=1.1,lazy_refcounts=on", img, "64M"])
        _ = try Tool.run("qemu-io", ["-c", "write -P 0x2a 0 128k", "-c", "flush", "-c", "abort", img])
        XCTAssertTrue(try Life.info(img).contains("dirty-flag") || (try Life.info(img)).contains("lazy refcounts: true"))
        let before = fileBytes(img)
        if try Life.imgHasCheck() {
            try Tool.must("img", ["amend", "-o", "lazy_refcounts=off", img])
            XCTAssertTrue(try Life.info(img).contains("lazy refcounts: false"))
            try Life.qemuCheck(img)
            let read = try Tool.must("qemu-io", ["-c", "read -P 0x2a 0 128k", img])
            XCTAssertFalse(read.stdout.contains("Pattern verification failed"))
        } else {
            let r = try Tool.must("img", ["amend", "-o", "lazy_refcounts=off", img], expect: 1)
            XCTAssertTrue(r.stderr.contains("img check -r all"), r.stderr)
            XCTAssertEqual(fileBytes(img), before)
        }
    }

    /// A refcount for a cluster far past the end of the file (corrupt) is refused by the
    /// width change before anything is allocated or written.
    func testRefcountPastEndOfFileRefused() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("h.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", img, "4M"])
        // Default layout: refcount block at 0x20000, 16-bit entries; cluster 30000 is past the end.
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: img))
        try handle.seek(toOffset: 0x20000 + 30000 * 2)
        handle.write(Data([0, 1]))
        try handle.close()
        let before = fileBytes(img)
        let r = try Tool.must("img", ["amend", "-o", "refcount_bits=8", img], expect: 1)
        XCTAssertTrue(r.stderr.contains("past the end of the file"), r.stderr)
        XCTAssertEqual(fileBytes(img), before)
    }

    func testRefusalsLeaveImageUnchanged() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("x.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "4M"])
        let cases: [(String, String)] = [
            ("cluster_size=4k", "img: Invalid parameter 'cluster_size'\nThis option is only supported for image creation\n"),
            ("preallocation=full", "img: Invalid parameter 'preallocation'\nThis option is only supported for image creation\n"),
            ("encryption=on", "img: Invalid parameter 'encryption'\nThis option is only supported for image creation\n"),
            ("backing_file=x", "img: Cannot amend the backing file\nYou can use 'img rebase' instead.\n"),
            ("backing_fmt=raw", "img: Cannot amend the backing file\nYou can use 'img rebase' instead.\n"),
            ("compat=0.10,refcount_bits=8", "img: Refcount widths other than 16 bits require compatibility level 1.1 or above (use compat=1.1 or greater)\n"),
            ("refcount_bits=3", "img: Refcount width must be a power of two and may not exceed 64 bits\n"),
            ("compat=0.10,lazy_refcounts=on", "img: Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)\n"),
            ("compat=0.42", "img: Unknown compatibility level 0.42\n"),
            ("foo=1", "img: Invalid parameter 'foo'\n"),
        ]
        let before = fileBytes(img)
        for (options, message) in cases {
            let r = try Tool.must("img", ["amend", "-o", options, img], expect: 1)
            XCTAssertEqual(r.stderr, message, options)
        }
        XCTAssertEqual(fileBytes(img), before)

        let ext = dir.file("e.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "extended_l2=on", ext, "4M"])
        let e = try Tool.must("img", ["amend", "-o", "compat=0.10", ext], expect: 1)
        XCTAssertEqual(e.stderr, "img: Cannot downgrade an image with incompatible features 0x10 set\n")
        let r8 = dir.file("r8.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "refcount_bits=8", r8, "4M"])
        let rr = try Tool.must("img", ["amend", "-o", "compat=0.10", r8], expect: 1)
        XCTAssertEqual(rr.stderr, "img: compat=0.10 requires refcount_bits=16\n")
        // zstd-compressed clusters have no v2 encoding: refused; without them the downgrade
        // goes through (as qemu-img's does) and the image says zlib.
        let zstd = dir.file("z.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "compression_type=zstd", zstd, "4M"])
        try Life.io(zstd, ["write -c -P 2 0 64k"])
        let zBefore = fileBytes(zstd)
        let z = try Tool.must("img", ["amend", "-o", "compat=0.10", zstd], expect: 1)
        XCTAssertTrue(z.stderr.contains("zstd-compressed clusters"), z.stderr)
        XCTAssertEqual(fileBytes(zstd), zBefore)
        try Life.io(zstd, ["write -P 3 0 64k"])
        try Tool.must("img", ["amend", "-o", "compat=0.10", zstd])
        try Life.qemuCheck(zstd)
        XCTAssertTrue(try Life.info(zstd).contains("compression type: zlib"))
        // Converting the width first makes the downgrade possible.
        try Tool.must("img", ["amend", "-o", "compat=0.10,refcount_bits=16", r8])
        try Life.qemuCheck(r8)
        XCTAssertTrue(try Life.info(r8).contains("compat: 0.10"))
    }
}
