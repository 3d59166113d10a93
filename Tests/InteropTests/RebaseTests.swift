import Foundation
import XCTest
import ImageFormat

/// img rebase against qemu-img: iotest 024 (safe rebase onto a different backing file keeps
/// the guest view), 050 (rebase onto nothing), -u (header only) and -c (compressed copies).
final class RebaseTests: XCTestCase {
    /// base_old and base_new differ in alternating clusters; the overlay writes some of its own.
    private func makeChain(_ dir: TempDir, v2: Bool = false) throws -> (old: String, new: String, top: String) {
        let old = dir.file("base_old.qcow2"), new = dir.file("base_new.qcow2"), top = dir.file("top.qcow2")
        let compat = v2 ? ["-o", "compat=0.10"] : []
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2"] + compat + [old, "2M"])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2"] + compat + [new, "3M"])
        var oldCmds: [String] = [], newCmds: [String] = []
        for i in 0..<32 {
            if i % 2 == 0 { oldCmds += ["-c", "write -P 0x11 \(i * 64)k 64k"] }
            if i % 3 == 0 { newCmds += ["-c", "write -P 0x22 \(i * 64)k 64k"] }
        }
        newCmds += ["-c", "write -P 0x33 2M 1M"]
        try Tool.must("qemu-io", oldCmds + [old])
        try Tool.must("qemu-io", newCmds + [new])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2"] + compat + ["-b", old, "-F", "qcow2", top, "3M"])
        try Tool.must("qemu-io", ["-c", "write -P 0x44 0 64k", "-c", "write -P 0x55 300k 10k", top])
        return (old, new, top)
    }

    func testSafeRebaseKeepsGuestView() throws {
        try Tool.requireQemu()
        for v2 in [false, true] {
            let dir = try TempDir()
            let chain = try makeChain(dir, v2: v2)
            let before = try Life.guest(chain.top)
            try Tool.must("img", ["rebase", "-b", "base_new.qcow2", "-F", "qcow2", chain.top])
            try Life.qemuCheck(chain.top)
            XCTAssertTrue(try Life.info(chain.top).contains("backing file: base_new.qcow2"))
            try Life.assertGuest(chain.top, equals: before, in: dir, "after safe rebase (v2: \(v2))")
        }
    }

    /// Iotest 050: rebasing onto no backing file makes the overlay standalone.
    func testRebaseOntoNothing() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let chain = try makeChain(dir)
        let before = try Life.guest(chain.top)
        try Tool.must("img", ["rebase", "-b", "", chain.top])
        try Life.qemuCheck(chain.top)
        XCTAssertFalse(try Life.info(chain.top).contains("backing file"))
        try FileManager.default.removeItem(atPath: chain.old)
        try Life.assertGuest(chain.top, equals: before, in: dir, "standalone after rebase -b \"\"")
    }

    func testCompressedCopies() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let chain = try makeChain(dir)
        let before = try Life.guest(chain.top)
        try Tool.must("img", ["rebase", "-c", "-b", "", chain.top])
        try Life.qemuCheck(chain.top)
        let check = try Tool.must("qemu-img", ["check", chain.top]).stdout
        XCTAssertFalse(check.contains(" 0.00% compressed clusters"), check)
        XCTAssertTrue(check.contains("% compressed clusters"), check)
        try Life.assertGuest(chain.top, equals: before, in: dir, "after compressed rebase")
    }

    /// Compressed copies packed into shared host clusters must stop packing where a narrow
    /// refcount (1 or 2 bits) is full, as QEMU does.
    func testCompressedCopiesWithNarrowRefcounts() throws {
        try Tool.requireQemu()
        for bits in [1, 2] {
            let dir = try TempDir()
            let base = dir.file("base.qcow2"), top = dir.file("top.qcow2")
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", base, "2M"])
            try Tool.must("qemu-io", ["-c", "write -P 0x11 0 2M", base])
            try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "refcount_bits=\(bits)", "-b", base, "-F", "qcow2", top])
            let before = try Life.guest(top)
            try Tool.must("img", ["rebase", "-c", "-b", "", top])
            try Life.qemuCheck(top)
            try Life.assertGuest(top, equals: before, in: dir, "compressed rebase at refcount_bits=\(bits)")
        }
    }

    func testUnsafeRebaseOnlyRewritesHeader() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let chain = try makeChain(dir)
        let mapBefore = try Tool.must("qemu-img", ["map", "--output=json", "--max-length=3M", chain.top]).stdout
        try Tool.must("img", ["rebase", "-u", "-b", "base_new.qcow2", "-F", "qcow2", chain.top])
        try Life.qemuCheck(chain.top)
        let info = try Life.info(chain.top)
        XCTAssertTrue(info.contains("backing file: base_new.qcow2"), info)
        XCTAssertTrue(info.contains("backing file format: qcow2"), info)
        // Same clusters allocated in the overlay as before: only the header changed.
        let topOnly = { (m: String) in m.split(separator: "\n").filter { $0.contains("\"depth\": 0") && $0.contains("\"present\": true") } }
        XCTAssertEqual(topOnly(try Tool.must("qemu-img", ["map", "--output=json", chain.top]).stdout), topOnly(mapBefore))
        // Matches qemu-img's own unsafe rebase of the same file.
        let copy = dir.file("copy.qcow2")
        try FileManager.default.copyItem(atPath: chain.top, toPath: copy)
        try Tool.must("qemu-img", ["rebase", "-u", "-b", "base_old.qcow2", "-F", "qcow2", copy])
        try Tool.must("img", ["rebase", "-u", "-b", "base_old.qcow2", "-F", "qcow2", chain.top])
        XCTAssertEqual(fileBytes(copy), fileBytes(chain.top))
    }

    /// With 512-byte clusters the header, a backing name and the feature-name table do not
    /// all fit in the first cluster: the optional table is left out, as QEMU does.
    func testSmallClusterHeaderMatchesQemu() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", dir.file("base.qcow2"), "1M"])
        let mine = dir.file("mine.qcow2"), theirs = dir.file("theirs.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=512", mine, "1M"])
        try FileManager.default.copyItem(atPath: mine, toPath: theirs)
        try Tool.must("img", ["rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", mine])
        try Tool.must("qemu-img", ["rebase", "-u", "-b", "base.qcow2", "-F", "qcow2", theirs])
        try Life.qemuCheck(mine)
        XCTAssertEqual(fileBytes(mine), fileBytes(theirs))
    }

    func testMissingFormatRefusedUnchanged() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let chain = try makeChain(dir)
        let before = fileBytes(chain.top)
        let r = try Tool.must("img", ["rebase", "-b", "base_new.qcow2", chain.top], expect: 1)
        XCTAssertEqual(r.stderr, "img: Could not change the backing file to 'base_new.qcow2': backing format must be specified\n")
        let missing = try Tool.must("img", ["rebase", "-b", "nope.qcow2", "-F", "qcow2", chain.top], expect: 1)
        XCTAssertTrue(missing.stderr.hasPrefix("img: Could not open new backing file 'nope.qcow2'"), missing.stderr)
        XCTAssertEqual(fileBytes(chain.top), before)
    }
}
