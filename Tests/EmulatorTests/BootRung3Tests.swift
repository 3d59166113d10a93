import Foundation
import XCTest

/// Rung 3: real boot code from Debian. install-mbr's MBR on a partitioned disk chainloading
/// our own VBR, and memtest86+'s loader booted from a floppy (images from the scripts in
/// testdata/boot). QEMU boots the same images and must show the same markers.
final class BootRung3Tests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try Tools.makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func build(_ script: String, _ name: String) throws -> URL {
        let image = dir.appendingPathComponent(name)
        try Tools.run("sh", [TestPaths.bootData.appendingPathComponent(script).path, image.path])
        return image
    }

    func testInstallMBRChainloadsOurVBR() throws {
        let image = try build("make-mbr-image.sh", "mbr.raw")
        let marker = "VBR CHAINLOADED from LBA 0x00000800"
        let r = try Tools.boot(["--screen", "--timeout", "60", image.path])
        XCTAssertEqual(r.status, 35, r.stderr)
        XCTAssertTrue(r.stdout.contains(marker), r.stdout)
        XCTAssertTrue(r.stdout.contains("MBR"), "install-mbr's prompt is on the screen")
        let q = try QEMUReference.boot(image: image, floppy: false, marker: marker, in: dir)
        XCTAssertTrue(q.found, "QEMU did not show the marker; screen:\n\(q.screen)")
    }

    func testMemtestLoaderFromFloppy() throws {
        let image = try build("make-memtest-floppy.sh", "memtest.flp")
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
