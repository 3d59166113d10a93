import Foundation
import XCTest

/// The overlap-check settings reach every command that writes an existing image. The image
/// is crafted so that the first cluster the allocator hands out is a snapshot's L1 table
/// (its refcount zeroed): with the default (cached) mode each command's write is refused by
/// name and the image marked corrupt; with `overlap-check.inactive-l1=off` given through
/// --image-opts (or --target-image-opts) the same command completes. Conflicting settings
/// are refused before anything is written.
final class OverlapCheckCommandTests: XCTestCase {
    static let refusal = "Preventing invalid write on metadata (overlaps with inactive L1 table)"
    static let offSwitch = "overlap-check.inactive-l1=off"

    /// An overlay of a backing file (data at 4 MiB) holding data at 0, a zero cluster at 1 MiB
    /// and a snapshot, whose inactive L1 cluster is marked free in the refcount block.
    func makeCraftedImage(_ dir: TempDir) throws -> String {
        let backing = dir.file("b.qcow2"), path = dir.file("a.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", backing, "16M"])
        try Tool.must("qemu-io", ["-c", "write -P 9 4M 64k", backing])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", path])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 64k", "-c", "write -z 1M 64k", path])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", path])
        var d = fileBytes(path)
        let refcountTable = OverlapCheckTests.be64(d, 48), snapshotTable = OverlapCheckTests.be64(d, 64)
        let block = OverlapCheckTests.be64(d, Int(refcountTable))
        let inactiveL1Cluster = OverlapCheckTests.be64(d, Int(snapshotTable)) >> 16
        let entry = Int(block) + 2 * Int(inactiveL1Cluster)  // 16-bit refcounts
        d[entry] = 0
        d[entry + 1] = 0
        try d.write(to: URL(fileURLWithPath: path))
        return path
    }

    struct Case {
        let name: String
        /// The command for a plain path, and for an --image-opts spec.
        let plain: (String) -> [String]
        let withOptions: (String) -> [String]
    }

    func cases(_ dir: TempDir) throws -> [Case] {
        let source = dir.file("src.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", source, "16M"])
        try Tool.must("qemu-io", ["-c", "write -P 7 2M 64k", source])
        return [
            Case(name: "convert -n", plain: { ["convert", "-n", "-O", "qcow2", source, $0] },
                 withOptions: { ["convert", "-n", "-O", "qcow2", "--target-image-opts", source, $0] }),
            Case(name: "resize", plain: { ["resize", "--preallocation=metadata", $0, "64M"] },
                 withOptions: { ["resize", "--preallocation=metadata", "--image-opts", $0, "64M"] }),
            Case(name: "amend", plain: { ["amend", "-o", "compat=0.10", $0] },
                 withOptions: { ["amend", "-o", "compat=0.10", "--image-opts", $0] }),
            Case(name: "rebase", plain: { ["rebase", "-b", "", $0] },
                 withOptions: { ["rebase", "-b", "", "--image-opts", $0] }),
            Case(name: "snapshot -c", plain: { ["snapshot", "-c", "s2", $0] },
                 withOptions: { ["snapshot", "-c", "s2", "--image-opts", $0] }),
            Case(name: "io", plain: { ["io", "-c", "write -P 5 2M 64k", $0] },
                 withOptions: { ["io", "-c", "write -P 5 2M 64k", "--image-opts", $0] }),
        ]
    }

    func assertRefusedAndMarkedCorrupt(_ r: Tool.Result, _ path: String, _ what: String) throws {
        XCTAssertNotEqual(r.status, 0, "\(what) was not refused: \(r.stdout)\(r.stderr)")
        XCTAssertTrue((r.stdout + r.stderr).contains(Self.refusal), "\(what): \(r.stdout)\(r.stderr)")
        let info = try Tool.must("qemu-img", ["info", "-U", path])
        XCTAssertTrue(info.stdout.contains("corrupt: true"), "\(what): the corrupt bit is not set")
    }

    func testEveryWritingCommandHonoursOverlapCheckOptions() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let crafted = try makeCraftedImage(dir)
        let target = dir.file("t.qcow2")
        for c in try cases(dir) {
            try fileBytes(crafted).write(to: URL(fileURLWithPath: target))
            try assertRefusedAndMarkedCorrupt(try Tool.img(c.plain(target)), target, "\(c.name) (cached)")

            try fileBytes(crafted).write(to: URL(fileURLWithPath: target))
            let r = try Tool.img(c.withOptions("driver=qcow2,file.filename=\(target),\(Self.offSwitch)"))
            XCTAssertEqual(r.status, 0, "\(c.name) with \(Self.offSwitch): \(r.stdout)\(r.stderr)")
            XCTAssertFalse((r.stdout + r.stderr).contains("Preventing"), "\(c.name): \(r.stderr)")

            let before = fileBytes(target)
            let conflict = try Tool.img(c.withOptions(
                "driver=qcow2,file.filename=\(target),overlap-check=none,overlap-check.template=all"))
            XCTAssertEqual(conflict.status, 1, "\(c.name): conflicting settings accepted")
            XCTAssertTrue(conflict.stderr.contains("Conflicting values"), "\(c.name): \(conflict.stderr)")
            XCTAssertTrue(fileBytes(target) == before, "\(c.name): a refused option string changed the image")
        }
    }

    /// commit writes into the backing file: the options given for the overlay apply to it too.
    func testCommitAppliesTheOptionsToTheBaseItWrites() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let crafted = try makeCraftedImage(dir)
        let overlay = dir.file("c.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-b", crafted, "-F", "qcow2", overlay])
        try Tool.must("qemu-io", ["-c", "write -P 3 2M 64k", overlay])
        let pristine = fileBytes(crafted), pristineOverlay = fileBytes(overlay)

        try assertRefusedAndMarkedCorrupt(try Tool.img(["commit", overlay]), crafted, "commit (cached)")

        try pristine.write(to: URL(fileURLWithPath: crafted))
        try pristineOverlay.write(to: URL(fileURLWithPath: overlay))
        try Tool.must("img", ["commit", "--image-opts", "driver=qcow2,file.filename=\(overlay),\(Self.offSwitch)"])
        let read = try Tool.must("qemu-io", ["-c", "read -P 3 2M 64k", crafted])
        XCTAssertFalse(read.stdout.contains("Pattern verification failed"), read.stdout)
    }

    /// check -r all rewrites an "L2 table" that is really a snapshot's L1 table (the active L1
    /// points at it, and an entry carries a wrong COPIED flag): refused by name in the default
    /// mode, written with the inactive-L1 switch off.
    func testCheckRepairHonoursOverlapCheckOptions() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("r.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", path, "16M"])
        try Tool.must("qemu-io", ["-c", "write -P 1 0 64k", path])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", path])
        try Tool.must("qemu-io", ["-c", "write -P 2 0 64k", path])
        var d = fileBytes(path)
        let l1 = OverlapCheckTests.be64(d, 40), inactiveL1 = OverlapCheckTests.be64(d, Int(OverlapCheckTests.be64(d, 64)))
        OverlapCheckTests.put64(&d, inactiveL1 | (1 << 63), Int(l1))
        OverlapCheckTests.put64(&d, OverlapCheckTests.be64(d, Int(inactiveL1)) | (1 << 63), Int(inactiveL1))
        try d.write(to: URL(fileURLWithPath: path))
        let copy = dir.file("copy.qcow2")
        try d.write(to: URL(fileURLWithPath: copy))

        try assertRefusedAndMarkedCorrupt(try Tool.img(["check", "-r", "all", path]), path, "check -r all (cached)")
        let r = try Tool.img(["check", "-r", "all", "--image-opts", "driver=qcow2,file.filename=\(copy),\(Self.offSwitch)"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertFalse((r.stdout + r.stderr).contains("Preventing"), r.stderr)
    }

    /// dd takes --image-opts for its input, as qemu-img dd does.
    func testDdReadsAnImageOptsInput() throws {
        let dir = try TempDir()
        let input = dir.file("in.qcow2"), output = dir.file("out.raw")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", input, "1M"])
        try Tool.must("img", ["io", "-c", "write -P 0x42 0 4k", input])
        try Tool.must("img", ["dd", "--image-opts", "if=driver=qcow2,file.filename=\(input),overlap-check=all",
                              "of=\(output)", "bs=4k", "count=1"])
        XCTAssertEqual(fileBytes(output), Data(repeating: 0x42, count: 4096))
        let conflict = try Tool.img(["dd", "--image-opts",
                                     "if=driver=qcow2,file.filename=\(input),overlap-check=none,overlap-check.template=all",
                                     "of=\(dir.file("o2.raw"))"])
        XCTAssertEqual(conflict.status, 1)
        XCTAssertTrue(conflict.stderr.contains("Conflicting values"), conflict.stderr)
    }
}
