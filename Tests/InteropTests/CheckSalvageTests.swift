import Foundation
import XCTest

/// `img check --salvage`: recovery past what `-r all` (and qemu-img) can do.
final class CheckSalvageTests: XCTestCase {
    /// Refcount table and every refcount block zeroed: nothing lost.
    func testZeroedRefcountStructureRecoversAllData() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("rc.qcow2", createArgs: [], io: ["write -P 1 0 1M", "write -c -P 2 2M 64k", "write -P 3 5M 64k"])
        let before = try s.guestBytes(s.image)
        try s.poke(0x10000, [UInt8](repeating: 0, count: 65536))   // refcount table
        try s.poke(0x20000, [UInt8](repeating: 0, count: 65536))   // the only refcount block
        XCTAssertEqual(try s.compare(), 2)
        let r = try Tool.img(["check", "--salvage", s.image])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        try Tool.must("qemu-img", ["check", s.image])
        XCTAssertEqual(try s.guestBytes(s.image), before)
    }

    /// L1 table zeroed: the L2 tables are found by scanning and relinked; the data is back.
    /// Tables are allocated as the guest writes, so without other evidence file order
    /// stands for guest order (slots 0 and 1 here).
    func testZeroedL1TableIsRelinked() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("l1.qcow2", createArgs: [], size: "2G",
                                  io: ["write -P 0x11 0 128k", "write -P 0x22 600M 64k", "write -c -P 0x33 700M 64k"])
        let reads = ["-c", "read -P 0x11 0 128k", "-c", "read -P 0x22 600M 64k", "-c", "read -P 0x33 700M 64k"]
        try Tool.must("qemu-io", ["-r"] + reads + [s.image])
        try s.poke(s.headerField64(40), [UInt8](repeating: 0, count: 32))
        let plain = try s.copy("plain")
        try Tool.img(["check", "-r", "all", plain])
        let gone = try Tool.run("qemu-io", ["-r", "-c", "read -P 0x11 0 128k", plain])
        XCTAssertTrue(gone.stdout.contains("Pattern verification failed"), "-r all alone cannot recover it")
        let r = try Tool.img(["check", "--salvage", s.image])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stderr.contains("Salvage: 2 L2 tables relinked"), r.stderr)
        try Tool.must("qemu-img", ["check", s.image])
        let back = try Tool.must("qemu-io", ["-r"] + reads + [s.image])
        XCTAssertFalse(back.stdout.contains("failed"), back.stdout)
    }

    /// With a snapshot sharing the tables, each table goes back to its exact slot.
    func testZeroedL1TableRelinkedBySnapshot() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("l1s.qcow2", createArgs: [], size: "4G",
                                  io: ["write -P 0x11 0 128k", "write -P 0x22 1600M 64k"])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", s.image])
        try s.poke(s.headerField64(40), [UInt8](repeating: 0, count: 64))
        let r = try Tool.img(["check", "--salvage", s.image])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stderr.contains("linked as L1 entry 3 (same slot as in a snapshot)"), r.stderr)
        try Tool.must("qemu-img", ["check", s.image])
        let back = try Tool.must("qemu-io", ["-r", "-c", "read -P 0x11 0 128k", "-c", "read -P 0x22 1600M 64k", s.image])
        XCTAssertFalse(back.stdout.contains("failed"), back.stdout)
    }

    /// A free cluster holding an old L2 table (as after a snapshot was deleted) is not
    /// resurrected: what the guest reads does not change.
    func testStaleFreeTableIsNotRelinked() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("stale.qcow2", createArgs: [], size: "2G", io: ["write -P 0x11 0 64k", "write -P 0x22 600M 64k"])
        let l1 = s.headerField64(40)
        let table = s.headerField64(Int(l1) + 8) & 0x00FF_FFFF_FFFF_FE00
        try s.poke64(l1 + 8, 0)                              // the L1 entry is gone...
        try s.poke16(0x20000 + 2 * (table >> 16), 0)         // ...and the table's cluster is free
        let before = try s.guestBytes(s.image)
        let r = try Tool.img(["check", "--salvage", s.image])
        XCTAssertTrue(r.stderr.contains("looks like an L2 table but is free (stale); not linked"), r.stderr)
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertEqual(try s.guestBytes(s.image), before)
    }

    /// A damaged L2 table: invalid entries are dropped and reported, the rest survives.
    func testDamagedL2EntriesAreClearedAndReported() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("l2.qcow2", createArgs: [], io: ["write -P 0x44 0 192k"])
        try s.poke64(0x40008, 0x00FF_0000_0000_0003)   // reserved bits, garbage offset
        let r = try Tool.img(["check", "--salvage", s.image])
        XCTAssertEqual(r.status, 0, r.stderr + r.stdout)
        XCTAssertTrue(r.stderr.contains("guest offset 0x10000"), r.stderr)
        try Tool.must("qemu-img", ["check", s.image])
        try Tool.must("qemu-io", ["-r", "-c", "read -P 0x44 0 64k", "-c", "read -P 0 64k 64k", "-c", "read -P 0x44 128k 64k", s.image])
    }
}
