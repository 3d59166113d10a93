import Foundation
import XCTest

/// QEMU iotests 039, 060, 080, 108, 112, 138 and 261 recreated with img: each damaged image
/// is checked by img and qemu-img (same exit code, same messages), then repaired by img.
final class CheckScenarioTests: XCTestCase {
    // Default 64 KiB clusters: header 0, reftable 0x10000, refblock 0x20000, L1 0x30000,
    // first L2 0x40000, first data 0x50000.
    func testCleanImageMatchesAndCompressedCounts() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("clean.qcow2", createArgs: [], io: ["write -P 1 0 1M", "write -c -P 2 4M 64k", "write -P 3 8M 64k"])
        XCTAssertEqual(try s.compare(), 0)
        try s.compare(["--output=json"])
        let before = fileBytes(s.image)
        try Tool.must("img", ["check", "-q", s.image])
        XCTAssertEqual(fileBytes(s.image), before)
    }

    // 039: lazy refcounts, writer killed: dirty bit set and a data cluster's refcount missing.
    func test039DirtyLazyRefcounts() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("039.qcow2", createArgs: ["-o", "lazy_refcounts=on"], io: ["write -P 0x5a 0 512"])
        try s.poke64(72, 1)                  // dirty bit
        try s.poke16(0x20000 + 2 * 5, 0)     // data cluster 5 lost its refcount
        let before = fileBytes(s.image)
        XCTAssertEqual(try s.compare(), 2)
        XCTAssertEqual(fileBytes(s.image), before, "check without -r must not write")
        try s.compare(["-r", "all"])
        // Opening read-write repairs it, as QEMU does, and the data stays.
        let auto = try s.copy("auto")
        try Tool.must("img", ["io", "-c", "write -P 0x33 64k 512", auto])
        try Tool.must("qemu-img", ["check", auto])
        try Tool.must("qemu-io", ["-r", "-c", "read -P 0x5a 0 512", "-c", "read -P 0x33 64k 512", auto])
        try s.repairAndVerify()
    }

    // 060: an L2 entry pointing into the L1 table.
    func test060DataClusterInL1() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("060a.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try s.poke64(0x40000, 0x8000_0000_0003_0000)
        XCTAssertEqual(try s.compare(), 2)
        try s.compare(["-r", "all"])
        try s.repairAndVerify()
    }

    // 060: the refcount table entry zeroed (refcount block missing), and a data cluster in the refcount block.
    func test060MissingRefcountBlockAndDataInRefblock() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("060b.qcow2", createArgs: [], io: ["write -P 1 0 64k", "write -P 2 1M 64k"])
        try s.poke64(0x10000, 0)
        XCTAssertEqual(try s.compare(), 2)
        XCTAssertEqual(try s.compare(["-r", "leaks"]), 1)
        try s.compare(["-r", "all"])
        try s.repairAndVerify()

        let t = try CheckScenario("060c.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try t.poke64(0x40000, 0x8000_0000_0002_0000)
        XCTAssertEqual(try t.compare(), 2)
        try t.compare(["-r", "all"])
    }

    // 060: unaligned L2 table offset; corrupt bit set on an otherwise clean image.
    func test060UnalignedL2AndCorruptBit() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("060d.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try s.poke64(0x30000, 0x8000_0000_0004_0200)
        XCTAssertEqual(try s.compare(), 2)
        try s.compare(["-r", "all"])

        let c = try CheckScenario("060e.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try c.poke64(72, 2)
        let before = fileBytes(c.image)
        XCTAssertEqual(try c.compare(), 0)
        XCTAssertEqual(fileBytes(c.image), before)
        try c.repairAndVerify()
    }

    // 060: reserved bits in L1, L2 and refcount table entries; an unaligned preallocated zero cluster.
    func test060ReservedBitsAndUnalignedZeroCluster() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("060f.qcow2", createArgs: [], io: ["write -P 1 0 128k"])
        try s.poke64(0x30000, 0x8000_0000_0004_0001)
        try s.poke64(0x40008, 0x8000_0000_0006_0002)
        try s.poke64(0x10008, 0x100)
        XCTAssertEqual(try s.compare(), 2)
        try s.compare(["-r", "all"])

        let z = try CheckScenario("060g.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try z.poke64(0x40008, 0x0000_0000_0005_0201)
        XCTAssertEqual(try z.compare(), 2)
        try z.compare(["-r", "all"])
        try z.repairAndVerify()
    }

    // 080: hostile headers: both refuse to check (exit 1) and nothing is written.
    func test080HostileHeaders() throws {
        try Tool.requireQemu()
        let pokes: [(UInt64, UInt64, Int)] = [
            (48, 0x12345, 8),                  // unaligned refcount table
            (56, 0x10_0000, 4),                // refcount table too large
            (36, 0x100_0000, 4),               // L1 too large
            (40, 0x3_0001, 8),                 // unaligned L1 table
            (20, 30, 4),                       // cluster bits
            (96, 7, 4),                        // refcount order
            (72, 0x120, 8),                    // unknown incompatible features
            (8, 0x10_0000, 8),                 // backing file name outside the first cluster
        ]
        for (offset, value, width) in pokes {
            let s = try CheckScenario("080.qcow2", createArgs: [], io: ["write 0 64k"])
            if width == 8 { try s.poke64(offset, value) } else { try s.poke32(offset, UInt32(value)) }
            let before = fileBytes(s.image)
            XCTAssertEqual(try s.compare(), 1, "header poke at \(offset)")
            let r = try Tool.img(["check", "-r", "all", s.image])
            XCTAssertEqual(r.status, 1)
            XCTAssertEqual(fileBytes(s.image), before)
        }
        // A snapshot count past QEMU's limit: the check cannot read the table.
        let sc = try CheckScenario("080s.qcow2", createArgs: [], io: ["write 0 64k"])
        try sc.poke32(60, 0xFFFF_FFFF)
        XCTAssertEqual(try sc.compare(), 1)
    }

    // 108: refcount table pointing past EOF, a refcount block past EOF, and a rebuild that
    // must not grow the file more than qemu-img's does.
    func test108RefcountStructuresPastEOF() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("108a.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try s.poke64(48, 0x1000_0000)
        XCTAssertEqual(try s.compare(), 2)
        try s.compare(["-r", "all"])
        try s.repairAndVerify()

        let b = try CheckScenario("108b.qcow2", createArgs: [], io: ["write -P 1 0 64k"])
        try b.poke64(0x10000, 0x1000_0000)
        XCTAssertEqual(try b.compare(), 2)
        try b.compare(["-r", "all"])
        try b.repairAndVerify()

        let g = try CheckScenario("108c.qcow2", createArgs: [], io: ["write -P 1 0 1M"])
        try g.poke(0x20000, [UInt8](repeating: 0, count: 65536))
        let viaQemu = try g.copy("q")
        try Tool.run("qemu-img", ["check", "-r", "all", viaQemu])
        try g.repairAndVerify()
        let mine = try FileManager.default.attributesOfItem(atPath: g.image)[.size] as! UInt64
        let theirs = try FileManager.default.attributesOfItem(atPath: viaQemu)[.size] as! UInt64
        XCTAssertLessThanOrEqual(mine, theirs)
    }

    // 112: refcount widths 1..64; a snapshot overflows 1-bit refcounts.
    func test112RefcountWidths() throws {
        try Tool.requireQemu()
        for bits in [1, 2, 4, 8, 16, 32, 64] {
            let s = try CheckScenario("112.qcow2", createArgs: ["-o", "refcount_bits=\(bits)"], io: ["write -P 1 0 128k"])
            XCTAssertEqual(try s.compare(), 0, "width \(bits)")
            if bits > 1 {
                try Tool.must("qemu-img", ["snapshot", "-c", "s1", s.image])
                try Tool.must("img", ["io", "-c", "write -P 2 0 4k", s.image])
                XCTAssertEqual(try s.compare(), 0, "width \(bits) with snapshot")
                // Break the first refcount block entry group: clusters lose their counts.
                try s.poke(0x20000, [0, 0, 0, 0])
                XCTAssertEqual(try s.compare(), bits == 64 ? 0 : 2, "width \(bits) damaged")
                try s.compare(["-r", "all"])
                try s.repairAndVerify()
            } else {
                try s.poke(0x20000 + 1, [0xFF])   // every entry of 1-bit refcounts is already at its maximum
                try s.compare()
            }
        }
    }

    // 138: a data cluster at 32 PB with 512-byte clusters (apparently 2^47 clusters).
    func test138HugeClusterOffset() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("138.qcow2", createArgs: ["-o", "cluster_size=512"], size: "512", io: ["write 0 512"])
        try s.poke64(2048, 0x8080_0000_0000_0000)
        XCTAssertEqual(try s.compare(), 2)
        try s.compare(["-r", "all"])
    }

    // 138's real case: a (sparse) file of 2^33 clusters. qemu-img gives up ("File too
    // large"); img checks it with memory proportional to what is in use.
    func test138FileWithMoreThan2To32Clusters() throws {
        try Tool.requireQemu()
        // (64M: img create of a 1G image with 512-byte clusters trips a precondition in the format layer.)
        let s = try CheckScenario("138b.qcow2", createArgs: ["-o", "cluster_size=512"], size: "64M", io: ["write -P 9 0 1M"])
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: s.image))
        try h.truncate(atOffset: 1 << 42)
        try h.close()
        let q = try Tool.run("qemu-img", ["check", s.image])
        XCTAssertEqual(q.status, 1, "qemu-img 7.2 refuses files over INT_MAX clusters")
        let r = try Tool.must("img", ["check", s.image])
        XCTAssertTrue(r.stdout.contains("2048/131072 = 1.56% allocated"), r.stdout)
    }

    // 261: a snapshot with too much extra data: check refuses, -r all discards it.
    func test261SnapshotExtraData() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("261.qcow2", createArgs: [], io: ["write -P 1 0 128k"])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", s.image])
        try Tool.must("img", ["io", "-c", "write -P 2 64k 64k", s.image])
        try Tool.must("qemu-img", ["snapshot", "-c", "s2", s.image])
        XCTAssertEqual(try s.compare(), 0)
        let table = s.headerField64(64)
        try s.poke32(table + 36, 0x10000)
        XCTAssertEqual(try s.compare(), 1)
        try s.compare(["-r", "all"])
        try s.repairAndVerify()
        try Tool.must("qemu-img", ["snapshot", "-l", s.image])
    }

    // 261: a v3 snapshot entry with only 8 bytes of extra data is incomplete; -r all
    // rewrites the table with complete entries.
    func test261IncompleteSnapshotEntry() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("261b.qcow2", createArgs: [], io: ["write -P 1 0 128k"])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", s.image])
        let table = s.headerField64(64)
        let bytes = [UInt8](fileBytes(s.image))
        let start = Int(table)
        let extra = Int(bytes[start + 36]) << 24 | Int(bytes[start + 37]) << 16 | Int(bytes[start + 38]) << 8 | Int(bytes[start + 39])
        XCTAssertEqual(extra, 24)
        let idLen = Int(bytes[start + 12]) << 8 | Int(bytes[start + 13]), nameLen = Int(bytes[start + 14]) << 8 | Int(bytes[start + 15])
        // Keep 8 bytes of extra data, move id and name up behind them.
        var entry = Array(bytes[start..<(start + 48)])
        entry += bytes[(start + 64)..<(start + 64 + idLen + nameLen)]
        entry += [UInt8](repeating: 0, count: (8 - entry.count % 8) % 8 + 16)
        try s.poke(table, entry)
        try s.poke32(table + 36, 8)
        XCTAssertEqual(try s.compare(), 2)
        try s.compare(["-r", "all"])
        try s.repairAndVerify()
        let list = try Tool.must("qemu-img", ["snapshot", "-l", s.image])
        XCTAssertTrue(list.stdout.contains("s1"))
    }

    // An unaligned snapshot L1 table is reported like qemu-img.
    func testSnapshotL1Unaligned() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("snapl1.qcow2", createArgs: [], io: ["write -P 1 0 128k"])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", s.image])
        let table = s.headerField64(64)
        try s.poke16(table + 6, 0x0201)
        XCTAssertEqual(try s.compare(), 2)
    }

    // A 1 TiB virtual image is checked quickly and without trouble.
    func testOneTebibyteImage() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("1t.qcow2", createArgs: [], size: "1T", io: ["write -P 1 0 64k", "write -P 2 1000G 64k"])
        XCTAssertEqual(try s.compare(), 0)
        try s.compare(["--output=json"])
    }

    // Extended L2 (a broken subcluster bitmap), v2 images and persistent bitmaps are
    // counted like qemu-img counts them.
    func testFeatureVariants() throws {
        try Tool.requireQemu()
        let x = try CheckScenario("ext.qcow2", createArgs: ["-o", "extended_l2=on"], io: ["write 0 4k", "write -c 128k 64k"])
        XCTAssertEqual(try x.compare(), 0)
        try x.poke64(0x40008, 0x0000_0001_0000_0001)
        XCTAssertEqual(try x.compare(), 2)
        try x.compare(["-r", "all"])

        let v2 = try CheckScenario("v2.qcow2", createArgs: ["-o", "compat=0.10"], io: ["write 0 64k", "write -c 1M 64k"])
        try v2.poke16(0x20000, 0)
        XCTAssertEqual(try v2.compare(), 2)
        try v2.compare(["-r", "all"])
        try v2.repairAndVerify()

        let bm = try CheckScenario("bm.qcow2", createArgs: [], io: ["write 0 64k"])
        try Tool.must("qemu-img", ["bitmap", "--add", bm.image, "b0"])
        try Tool.must("qemu-io", ["-c", "write 0 64k", bm.image])
        XCTAssertEqual(try bm.compare(["--output=json"]), 0)
    }

    func testRawImageCannotBeChecked() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let raw = dir.file("r.raw")
        try Tool.must("img", ["create", "-q", "-f", "raw", raw, "1M"])
        let r = try Tool.must("img", ["check", raw], expect: 63)
        XCTAssertTrue(r.stderr.contains("This image format does not support checks"))
    }
}
