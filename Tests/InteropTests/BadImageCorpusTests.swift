import Foundation
import ImageFormat
import XCTest

/// The bad-image corpus beyond HostileHeaderTests: overlapping tables, refcount structures
/// pointing at themselves, L2 entries at or past 2^56, compressed data running past the end
/// of the file, backing chains that loop or name themselves. QEMU is the oracle: for each
/// command img must succeed exactly where qemu-img / qemu-io do (reading the same bytes)
/// and fail with an error naming the file where they fail; it never crashes, hangs (30 s)
/// or exceeds 2 GiB of address space, and it leaves the file unchanged (a refused write may
/// only set the corrupt bit, as QEMU does).
final class BadImageCorpusTests: XCTestCase {
    struct Case {
        var name: String
        /// Mutates a fresh 4 MiB image with 64 KiB clusters and data in its first cluster:
        /// header 0, refcount table 0x10000, refcount block 0x20000, L1 0x30000, L2 0x40000,
        /// data 0x50000 (the layout HostileHeaderTests documents).
        var poke: (inout Data) -> Void
        /// Commands where img may refuse although QEMU goes ahead (img is stricter), and why.
        var stricter: [String: String] = [:]
    }

    static func put<T: FixedWidthInteger>(_ d: inout Data, _ value: T, at offset: Int) {
        HostileHeaderTests.put(&d, value, at: offset)
    }

    static let l2PastEnd = "an L2 table past the end of the file is corruption: img refuses to read through it, QEMU reads zeroes"
    static let noDataFile = "img does not implement external data files and refuses them, naming the feature"
    static let copied: UInt64 = 1 << 63
    static let compressedBit: UInt64 = 1 << 62

    static let cases: [Case] = [
        // Overlapping tables.
        Case(name: "L2 table is the L1 table", poke: { put(&$0, copied | 0x30000, at: 0x30000) }),
        Case(name: "L1 table is the refcount table", poke: { put(&$0, UInt64(0x10000), at: 40) }),
        Case(name: "L1 table is the refcount block", poke: { put(&$0, UInt64(0x20000), at: 40) },
             stricter: ["map": l2PastEnd, "read": l2PastEnd]),
        Case(name: "L2 table is the refcount block", poke: { put(&$0, copied | 0x20000, at: 0x30000) }),
        Case(name: "L2 table is the header", poke: { put(&$0, copied, at: 0x30000); put(&$0, UInt64(0), at: 0x30000) }),
        Case(name: "two L1 entries share one L2 table", poke: { put(&$0, copied | 0x40000, at: 0x30008); put(&$0, UInt64(16 << 20), at: 24) }),
        Case(name: "data cluster is the L2 table", poke: { put(&$0, copied | 0x40000, at: 0x40000) }),
        Case(name: "data cluster is the refcount table", poke: { put(&$0, copied | 0x10000, at: 0x40008) }),
        Case(name: "snapshot table overlaps the L1 table", poke: {
            put(&$0, UInt32(1), at: 60); put(&$0, UInt64(0x30000), at: 64) }),
        // Refcount structures pointing at themselves.
        Case(name: "refcount block is the refcount table", poke: { put(&$0, UInt64(0x10000), at: 0x10000) }),
        Case(name: "refcount block counts itself zero", poke: { put(&$0, UInt16(0), at: 0x20000 + 2 * 2) }),
        Case(name: "refcount table entry past end of file", poke: { put(&$0, UInt64(1) << 40, at: 0x10000) }),
        Case(name: "refcount table entry unaligned", poke: { put(&$0, UInt64(0x20100), at: 0x10000) },
             stricter: ["write": "QEMU masks the low bits of a refcount table entry; img refuses the entry as corrupt"]),
        // L2 entries at and past 2^56.
        Case(name: "L2 entry with bit 56 set", poke: { put(&$0, copied | (1 << 56) | 0x50000, at: 0x40000) }),
        Case(name: "L2 entry just below 2^56", poke: { put(&$0, copied | 0x00FF_FFFF_FFFF_0000, at: 0x40000) }),
        Case(name: "L1 entry past 2^56", poke: { put(&$0, copied | (1 << 57) | 0x40000, at: 0x30000) }),
        Case(name: "L1 entry just below 2^56", poke: { put(&$0, copied | 0x00FF_FFFF_FFFF_0000, at: 0x30000) },
             stricter: ["map": l2PastEnd, "read": l2PastEnd]),
        // Compressed clusters whose data runs past the end of the file.
        Case(name: "compressed size past end of file", poke: {
            // 64 KiB clusters: 8 bits of sector count above the 54-bit offset; host 0x5FE00 is the file's last sector.
            put(&$0, compressedBit | (UInt64(0xFF) << 54) | 0x5FE00, at: 0x40008) }),
        Case(name: "compressed data starting past end of file", poke: {
            put(&$0, compressedBit | (UInt64(2) << 54) | 0x70000, at: 0x40008) }),
        Case(name: "compressed entry over the L1 table", poke: {
            put(&$0, compressedBit | (UInt64(3) << 54) | 0x30000, at: 0x40008) }),
        // Header fields not covered by HostileHeaderTests.
        Case(name: "external data file bit", poke: { put(&$0, UInt64(1) << 2, at: 72) },
             stricter: ["info": noDataFile, "map": noDataFile, "read": noDataFile, "write": noDataFile]),
        Case(name: "unknown autoclear bits", poke: { put(&$0, UInt64(0xFF00), at: 88) }),
        Case(name: "header length not a multiple of 8", poke: { put(&$0, UInt32(105), at: 100) }),
        Case(name: "backing name inside the header fields", poke: {
            put(&$0, UInt64(20), at: 8); put(&$0, UInt32(8), at: 16) }),
        Case(name: "snapshot L1 table past end of file", poke: { d in
            // One snapshot entry at 0x60000 (past the data): L1 at 2^40, 1 entry.
            d.append(Data(count: 0x10000))
            put(&d, UInt32(1), at: 60); put(&d, UInt64(0x60000), at: 64)
            put(&d, UInt64(1) << 40, at: 0x60000); put(&d, UInt32(1), at: 0x60008)
            put(&d, UInt16(1), at: 0x6000C); put(&d, UInt16(0), at: 0x6000E)
            d[0x60028] = 0x31 }),
    ]

    /// Runs under a 30 s timeout and a 2 GiB address-space limit.
    static func bounded(_ program: String, _ args: [String]) throws -> Tool.Result {
        try Tool.run("prlimit", ["--as=2147483648", "timeout", "30", program] + args)
    }

    struct Command {
        var name: String
        var img: [String]
        var qemu: (String, [String])
        var writes = false
    }

    static func commands(_ p: String) -> [Command] {
        [Command(name: "info", img: ["info", "-f", "qcow2", p], qemu: ("qemu-img", ["info", "-f", "qcow2", p])),
         Command(name: "map", img: ["map", "-f", "qcow2", p], qemu: ("qemu-img", ["map", "-f", "qcow2", p])),
         Command(name: "read", img: ["io", "-f", "qcow2", "-c", "read 0 4M", p],
                 qemu: ("qemu-io", ["-f", "qcow2", "-c", "read 0 4M", p])),
         Command(name: "write", img: ["io", "-f", "qcow2", "-c", "write -P 1 0x60000 512", p],
                 qemu: ("qemu-io", ["-f", "qcow2", "-c", "write -P 1 0x60000 512", p]), writes: true)]
    }

    func testBadImageCorpus() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let pristine = try Tool.smallTemplateImage(in: dir)
        var tried = 0
        for c in Self.cases {
            var bytes = pristine
            c.poke(&bytes)
            try judge(c.name, bytes: bytes, dir: dir, stricter: c.stricter)
            tried += 1
        }
        tried += try backingChainCases(dir)
        print("bad-image corpus: \(tried) images, each judged by info, map, read and write against QEMU")
    }

    /// Backing chains that loop, name themselves, or run too deep.
    func backingChainCases(_ dir: TempDir) throws -> Int {
        let a = dir.file("loop-a.qcow2"), b = dir.file("loop-b.qcow2"), selfish = dir.file("self.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", a, "1M"])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", a, "-F", "qcow2", b])
        try Tool.must("qemu-img", ["rebase", "-q", "-u", "-b", b, "-F", "qcow2", a])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", selfish, "1M"])
        try Tool.must("qemu-img", ["rebase", "-q", "-u", "-b", selfish, "-F", "qcow2", selfish])
        for (name, path) in [("backing chain loop", b), ("backing file is itself", selfish)] {
            try judge(name, bytes: fileBytes(path), dir: dir, stricter: [:], at: path, expectFailure: ["map", "read", "write"])
        }
        return 2
    }

    /// Runs every command on a copy with img and with QEMU and holds img to the rules.
    func judge(_ name: String, bytes: Data, dir: TempDir, stricter: [String: String], at fixedPath: String? = nil,
               expectFailure: Set<String> = []) throws {
        let path = fixedPath ?? dir.file("bad.qcow2")
        for command in Self.commands(path) {
            try bytes.write(to: URL(fileURLWithPath: path))
            let mine = try Self.bounded(Tool.img, command.img)
            let after = fileBytes(path)
            try bytes.write(to: URL(fileURLWithPath: path))
            let theirs = try Self.bounded(command.qemu.0, command.qemu.1)
            let text = mine.stdout + mine.stderr
            let label = "\(name): img \(command.name)"
            XCTAssertNotEqual(mine.status, 124, "\(label) hung\n\(text)")
            XCTAssertTrue(mine.status < 128, "\(label) crashed or ran out of memory (status \(mine.status))\n\(text)")
            let qemuOK = theirs.status == 0 && !(theirs.stdout + theirs.stderr).contains("failed")
            let imgOK = mine.status == 0
            if expectFailure.contains(command.name) {
                XCTAssertFalse(imgOK, "\(label) accepted it\n\(text)")
            } else if qemuOK && !imgOK {
                XCTAssertNotNil(stricter[command.name], "\(label) refused what QEMU accepts\n\(text)")
            } else if !qemuOK {
                XCTAssertFalse(imgOK, "\(label) accepted what QEMU refuses (\(theirs.stdout + theirs.stderr))\n\(text)")
            }
            // The error names the file, unless it is word for word the one qemu-img gives.
            let sameAsQemu = mine.stderr.hasPrefix("img: ") && theirs.stderr.contains(mine.stderr.dropFirst(5))
            if !imgOK { XCTAssertTrue(text.contains(path) || sameAsQemu, "\(label): the error does not name the file\n\(text)") }
            if !command.writes {
                XCTAssertTrue(bytes == after, "\(label) changed the file\n\(text)")
            } else if !imgOK, let damage = Self.damageBeyondRefusal(bytes, after) {
                XCTAssertTrue(false, "\(label) was refused but \(damage)\n\(text)")
            }
            if command.name == "read" && imgOK && qemuOK {
                try assertSameGuestBytes(bytes, path: path, label: label)
            }
        }
    }

    /// What a refused write changed beyond what refusing may change, or nil. Like QEMU, img
    /// may have counted and filled a new cluster and must then set the corrupt bit; the
    /// bytes the image had before stay as they were except the feature bits and the refcount
    /// block of the template layout (0x20000).
    static func damageBeyondRefusal(_ before: Data, _ after: Data) -> String? {
        if before == after { return nil }
        guard after.count >= before.count else { return "the file shrank" }
        guard after.count > 79, after[79] & 0x02 != 0 else { return "the file changed without the corrupt bit being set" }
        let mayChange = [72..<80, 0x20000..<0x30000]
        for i in 0..<before.count where before[i] != after[i] && !mayChange.contains(where: { $0.contains(i) }) {
            return "byte 0x\(String(i, radix: 16)) of the old file changed"
        }
        return nil
    }

    /// img reads what qemu-img convert reads.
    func assertSameGuestBytes(_ bytes: Data, path: String, label: String) throws {
        try bytes.write(to: URL(fileURLWithPath: path))
        let raw = path + ".raw"
        guard try Self.bounded("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", path, raw]).status == 0 else { return }
        let device = try openImage(path: path, format: "qcow2", writable: false, forceShare: false)
        defer { try? device.close() }
        let mine = try device.read(count: Int(device.virtualSize), at: 0)
        XCTAssertTrue(Data(mine) == fileBytes(raw), "\(label): img reads different bytes than qemu-img convert")
    }
}
