import Foundation
import XCTest
import ImageFormat

/// img snapshot against qemu-img: create/list/apply/delete, snapshots made by QEMU (with VM
/// state) surviving img's operations, mixed-tool sequences, and refcount overflow.
final class SnapshotTests: XCTestCase {
    func testCreateListApplyDelete() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("a.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "8M"])
        try Life.io(img, ["write -P 1 0 128k", "write -c -P 2 1M 64k", "write -z 2M 64k", "write -P 3 3M 5000"])
        let first = try Life.guest(img)

        try Tool.must("img", ["snapshot", "-c", "s1", img])
        try Life.qemuCheck(img)
        try Life.assertGuest(img, equals: first, in: dir, "after snapshot -c")
        let mine = try Tool.must("img", ["snapshot", "-l", img]).stdout
        XCTAssertEqual(mine, try Tool.must("qemu-img", ["snapshot", "-l", img]).stdout)
        XCTAssertTrue(mine.hasPrefix("Snapshot list:\nID        TAG               VM SIZE"), mine)
        XCTAssertEqual(try Life.snapshots(img).first?.diskSize, 8 << 20)

        try Life.io(img, ["write -P 9 0 64k", "write -P 9 1M 64k", "write -P 9 2M 64k", "write -P 9 7M 64k"])
        let second = try Life.guest(img)
        try Tool.must("img", ["snapshot", "-c", "s2", img])
        try Life.qemuCheck(img)

        try Tool.must("img", ["snapshot", "-a", "s1", img])
        try Life.qemuCheck(img)
        try Life.assertGuest(img, equals: first, in: dir, "after snapshot -a s1")
        try Tool.must("img", ["snapshot", "-a", "2", img])  // numeric ID selects too
        try Life.assertGuest(img, equals: second, in: dir, "after snapshot -a 2")

        try Tool.must("img", ["snapshot", "-d", "s1", img])
        try Life.qemuCheck(img)
        XCTAssertEqual(try Life.snapshots(img).map(\.name), ["s2"])
        try Tool.must("img", ["snapshot", "-d", "2", img])
        try Life.qemuCheck(img)
        XCTAssertTrue(try Life.snapshots(img).isEmpty)
        try Life.assertGuest(img, equals: second, in: dir, "after deleting every snapshot")

        // img's snapshots are qemu-img's too.
        try Tool.must("img", ["snapshot", "-c", "mine", img])
        try Life.io(img, ["write -P 4 0 1M"])
        try Tool.must("qemu-img", ["snapshot", "-a", "mine", img])
        try Life.assertGuest(img, equals: second, in: dir, "qemu-img applying img's snapshot")
        try Tool.must("qemu-img", ["snapshot", "-d", "mine", img])
        try Life.qemuCheck(img)
    }

    func testUnknownSnapshotLeavesImageUnchanged() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("a.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", img, "1M"])
        let before = fileBytes(img)
        let a = try Tool.must("img", ["snapshot", "-a", "nope", img], expect: 1)
        XCTAssertEqual(a.stderr, "img: Could not apply snapshot 'nope': Failed to load snapshot: No such file or directory\n")
        let d = try Tool.must("img", ["snapshot", "-d", "nope", img], expect: 1)
        XCTAssertEqual(d.stderr, "img: Could not delete snapshot 'nope': snapshot not found\n")
        XCTAssertEqual(fileBytes(img), before)
    }

    /// A snapshot QEMU saved with VM state (and extra data img does not interpret) survives
    /// img's create, delete, resize and amend byte for byte, and QEMU still loads it.
    func testQemuVMStateSnapshotSurvivesImgOperations() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("vm.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", img, "16M"])
        try Tool.must("qemu-io", ["-c", "write -P 5 0 1M", img])
        try Life.qemuSaveVM(img, name: "vm1")
        let saved = try XCTUnwrap(Life.snapshots(img).first)
        XCTAssertGreaterThan(saved.vmStateSizeLarge, 0)
        let disk = try Life.guest(img)

        try Tool.must("img", ["snapshot", "-c", "mine", img])
        try Life.io(img, ["write -P 6 0 2M"])
        try Tool.must("img", ["resize", "-q", img, "+16M"])
        try Tool.must("img", ["amend", "-o", "refcount_bits=8", img])
        try Tool.must("img", ["snapshot", "-d", "mine", img])
        try Life.qemuCheck(img)
        XCTAssertEqual(try Life.snapshots(img), [saved])
        try Tool.must("img", ["amend", "-o", "compat=0.10,refcount_bits=16", img])
        try Tool.must("img", ["amend", "-o", "compat=1.1", img])
        // Through a backing file and back: commit empties the active layer, rebase -b ""
        // copies the base back in; the snapshot stays as QEMU wrote it.
        let base = dir.file("base.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", base, "32M"])
        try Tool.must("img", ["rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", img])
        try Tool.must("img", ["commit", "-q", img])
        try Tool.must("img", ["rebase", "-b", "", img])
        try Life.qemuCheck(img)
        XCTAssertEqual(try Life.snapshots(img), [saved])

        // QEMU still loads the VM state, then qemu-img reverts the disk.
        let loaded = try Life.qemuMonitor(img, "loadvm vm1")
        XCTAssertFalse(loaded.contains("rror"), loaded)
        try Tool.must("qemu-img", ["snapshot", "-a", "vm1", img])
        try Life.qemuCheck(img)
        try Life.assertGuest(img, equals: disk, in: dir, "QEMU's snapshot applied after img's operations")
    }

    /// Iotest 261's point: extra data img does not know is kept, and a v2 snapshot without
    /// extra data gets the disk size when the image becomes v3.
    func testSnapshotExtraDataKept() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("x.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", img, "4M"])
        try Tool.must("qemu-img", ["snapshot", "-c", "theirs", img])
        // Grow the entry's extra data in place (the table has the rest of its cluster).
        try rewriteFirstSnapshotExtra(img) { $0 + [0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67, 0x89] }
        try Life.qemuCheck(img)
        let theirs = try XCTUnwrap(Life.snapshots(img).first)
        XCTAssertEqual(theirs.extraData.count, 32)
        try Tool.must("img", ["snapshot", "-c", "mine", img])
        try Tool.must("img", ["snapshot", "-d", "mine", img])
        XCTAssertEqual(try Life.snapshots(img), [theirs])
        try Life.qemuCheck(img)

        // A v2 snapshot with no extra data at all: amend to v3 must add the disk size.
        let v2 = dir.file("v2.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "compat=0.10", v2, "4M"])
        try Tool.must("qemu-img", ["snapshot", "-c", "old", v2])
        try rewriteFirstSnapshotExtra(v2) { _ in [] }
        XCTAssertNil(try Life.snapshots(v2).first?.diskSize)
        try Tool.must("img", ["amend", "-o", "compat=1.1", v2])
        try Life.qemuCheck(v2)
        XCTAssertEqual(try Life.snapshots(v2).first?.diskSize, 4 << 20)
        try Tool.must("qemu-img", ["snapshot", "-a", "old", v2])
        try Life.qemuCheck(v2)
    }

    /// Iotest 029: a snapshot whose L1 table is smaller than the active one.
    func testSnapshotL1SmallerThanActive() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("s.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=512", img, "1M"])
        try Life.io(img, ["write -P 1 0 64k", "write -P 2 900k 100k"])
        let small = try Life.guest(img)
        try Tool.must("img", ["snapshot", "-c", "small", img])
        try Tool.must("img", ["resize", "-q", img, "256M"])
        try Life.io(img, ["write -P 3 200M 1M", "write -P 4 0 4k"])
        try Life.qemuCheck(img)
        let snap = try XCTUnwrap(Life.snapshots(img).first)
        XCTAssertLessThan(snap.l1Size, try Life.activeL1Size(img))
        try Tool.must("img", ["snapshot", "-a", "small", img])
        try Life.qemuCheck(img)
        XCTAssertTrue(try Life.info(img).contains("virtual size: 1 MiB (1048576 bytes)"))
        try Life.assertGuest(img, equals: small, in: dir, "snapshot with the smaller L1 applied")
    }

    /// Iotest 112: snapshots against narrow refcount widths fail cleanly, image unchanged.
    func testRefcountOverflowWithNarrowWidths() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let one = dir.file("r1.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "refcount_bits=1", one, "64M"])
        try Life.io(one, ["write 0 512"])
        let before = fileBytes(one)
        let r = try Tool.must("img", ["snapshot", "-c", "foo", one], expect: 1)
        XCTAssertTrue(r.stderr.hasPrefix("img: Could not create snapshot 'foo': "), r.stderr)
        XCTAssertTrue(r.stderr.contains("refcount_bits"), r.stderr)
        XCTAssertEqual(fileBytes(one), before)
        try Life.qemuCheck(one)

        let two = dir.file("r2.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "refcount_bits=2", two, "64M"])
        try Life.io(two, ["write 0 512"])
        try Tool.must("img", ["snapshot", "-c", "foo", two])
        try Tool.must("img", ["snapshot", "-c", "bar", two])
        try Life.qemuCheck(two)
        let full = fileBytes(two)
        try Tool.must("img", ["snapshot", "-c", "baz", two], expect: 1)
        XCTAssertEqual(fileBytes(two), full)
        // With a wider refcount the third snapshot fits.
        try Tool.must("img", ["amend", "-o", "refcount_bits=4", two])
        try Tool.must("img", ["snapshot", "-c", "baz", two])
        try Life.qemuCheck(two)
        XCTAssertEqual(try Life.snapshots(two).map(\.name), ["foo", "bar", "baz"])
    }

    /// The mixed-tools sequence.
    func testMixedTools() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("m.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", img, "32M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 1M", img])
        try Tool.must("qemu-img", ["snapshot", "-c", "a", img])
        let stateA = try Life.guest(img)
        try Tool.must("qemu-io", ["-c", "write -P 2 512k 1M", img])
        try Tool.must("qemu-img", ["snapshot", "-c", "b", img])
        try Tool.must("qemu-io", ["-c", "write -P 3 0 4M", img])
        try Tool.must("qemu-img", ["snapshot", "-c", "c", img])
        try Tool.must("img", ["snapshot", "-d", "b", img])
        try Life.qemuCheck(img)
        try Tool.must("qemu-img", ["snapshot", "-a", "a", img])
        try Life.assertGuest(img, equals: stateA, in: dir, "snapshot a applied by qemu-img")
        try Tool.must("img", ["resize", "-q", img, "+32M"])
        try Life.qemuCheck(img)
        try Life.imgCheckIfPresent(img)
        XCTAssertEqual(try Life.guest(img), stateA + [UInt8](repeating: 0, count: 32 << 20))
        XCTAssertEqual(try Tool.must("img", ["snapshot", "-l", img]).stdout,
                       try Tool.must("qemu-img", ["snapshot", "-l", img]).stdout)
    }

    /// Hostile snapshot metadata: an L1 table past the end of the file, and an L2 offset past
    /// it inside a snapshot's L1 table. Every action refuses with the structure named and the
    /// file unchanged.
    func testCorruptSnapshotTablesRefusedUnchanged() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let img = dir.file("c.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", img, "4M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 64k", img])
        try Tool.must("qemu-img", ["snapshot", "-c", "s", img])
        let l1 = try XCTUnwrap(Life.snapshots(img).first).l1TableOffset
        // The L2 offset in the snapshot's L1 entry 0 points far past the end of the file.
        try patch(img, at: l1, UInt64(0x4000_0000_0000))
        let before = fileBytes(img)
        for args in [["-a", "s"], ["-d", "s"]] {
            let r = try Tool.must("img", ["snapshot"] + args + [img], expect: 1)
            XCTAssertTrue(r.stderr.contains("snapshot 's' L1 table"), r.stderr)
            XCTAssertEqual(fileBytes(img), before, "\(args)")
        }
        // The snapshot's L1 table itself past the end of the file.
        try rewriteFirstSnapshot(img) { $0.l1TableOffset = 0x10_0000_0000 }
        let moved = fileBytes(img)
        let r = try Tool.must("img", ["snapshot", "-d", "s", img], expect: 1)
        XCTAssertTrue(r.stderr.contains("past the end of the file"), r.stderr)
        XCTAssertEqual(fileBytes(img), moved)
    }

    private func patch(_ path: String, at offset: UInt64, _ value: UInt64) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        handle.write(Data((0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }))
    }

    private func rewriteFirstSnapshotExtra(_ path: String, _ change: ([UInt8]) -> [UInt8]) throws {
        try rewriteFirstSnapshot(path) { $0.extraData = change($0.extraData) }
    }

    /// Replaces the first snapshot entry in place (same cluster, no refcount change).
    private func rewriteFirstSnapshot(_ path: String, _ change: (inout Qcow2Snapshot) -> Void) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        let head = [UInt8](handle.readData(ofLength: 72))
        let offset = try XCTUnwrap(head.be(UInt64.self, at: 64))
        try handle.seek(toOffset: offset)
        let table = [UInt8](handle.readData(ofLength: 4096))
        var entry = try XCTUnwrap(Qcow2Snapshot.parseTable(table, count: 1, base: offset, path: path).first)
        change(&entry)
        try handle.seek(toOffset: offset)
        handle.write(Data(entry.serialize()))
    }
}
