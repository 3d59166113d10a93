import Foundation
import XCTest

/// Rung 3: real boot code from Debian. install-mbr's MBR on a partitioned disk chainloading
/// our own VBR, and memtest86+'s loader booted from a floppy. QEMU boots the same images
/// and must show the same markers.
final class BootRung3Tests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try Tools.makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// An 8 MiB disk: one active partition at LBA 2048 holding vbr.asm, MBR code from install-mbr.
    private func mbrImage() throws -> URL {
        let url = dir.appendingPathComponent("mbr.raw")
        var disk = [UInt8](repeating: 0, count: 8 << 20)
        let entry: [UInt8] = [0x80, 0xFE, 0xFF, 0xFF, 0x83, 0xFE, 0xFF, 0xFF] + le32(2048) + le32(UInt32(disk.count / 512 - 2048))
        disk.replaceSubrange(0x1BE..<0x1CE, with: entry)
        disk[510] = 0x55; disk[511] = 0xAA
        let vbr = try Tools.assemble("vbr", into: dir)
        disk.replaceSubrange(2048 * 512..<2049 * 512, with: vbr)
        try Data(disk).write(to: url)
        try Tools.run("install-mbr", [url.path])
        return url
    }

    private func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    func testInstallMBRChainloadsOurVBR() throws {
        let image = try mbrImage()
        let marker = "VBR CHAINLOADED from LBA 0x00000800"
        let r = try Tools.boot(["--screen", "--timeout", "60", image.path])
        XCTAssertEqual(r.status, 35, r.stderr)
        XCTAssertTrue(r.stdout.contains(marker), r.stdout)
        XCTAssertTrue(r.stdout.contains("MBR"), "install-mbr's prompt is on the screen")
        let q = try QEMUReference.boot(image: image, floppy: false, marker: marker, in: dir)
        XCTAssertTrue(q.found, "QEMU did not show the marker; screen:\n\(q.screen)")
    }

    func testMemtestLoaderFromFloppy() throws {
        let image = dir.appendingPathComponent("memtest.flp")
        try FileManager.default.copyItem(atPath: "/boot/memtest86+ia32.bin", toPath: image.path)
        try Tools.run("truncate", ["-s", "1474560", image.path])
        let before = try Tools.sha256(image)
        let marker = "Loading Memtest86+"
        let r = try Tools.boot(["--floppy", "--expect", marker, "--timeout", "60", image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Tools.sha256(image), before)
        // The loader line is gone from the screen within moments, so the comparison with QEMU
        // uses the banner memtest86+ then draws and keeps.
        let banner = "Memtest86+ v6"
        let shown = try Tools.boot(["--floppy", "--expect", banner, "--screen", "--timeout", "60", image.path])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains(banner), shown.stdout)
        let q = try QEMUReference.boot(image: image, floppy: true, marker: banner, in: dir)
        XCTAssertTrue(q.found, "QEMU did not show the marker; screen:\n\(q.screen)")
    }
}
