import Foundation
import XCTest

/// Rungs 4 and 5: SYSLINUX from a FAT16 partition and GRUB's boot.img + core.img, each image
/// built by a script in testdata/boot from Debian packages, booted by img and by QEMU.
final class BootRung4And5Tests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws { dir = try Tools.makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func build(_ script: String, marker: String) throws -> URL {
        let image = dir.appendingPathComponent(script + ".raw")
        try Tools.run("sh", [TestPaths.bootData.appendingPathComponent(script + ".sh").path, image.path, marker])
        return image
    }

    func testSyslinuxShowsBannerAndSayLine() throws {
        let marker = "RUNG4 SAY from syslinux.cfg"
        let image = try build("make-syslinux-image", marker: marker)
        let before = try Tools.sha256(image)
        let r = try Tools.boot(["--expect", marker, "--screen", "--timeout", "60", image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("SYSLINUX 6."), r.stdout)
        XCTAssertTrue(r.stdout.contains(marker), r.stdout)
        // The SERIAL directive sends SYSLINUX's console, from its boot: prompt on, to COM1.
        // Without --expect the run ends when the instruction budget runs out (SYSLINUX
        // waits for a key; about 15 million instructions get it there): exit 1.
        let serial = try Tools.boot(["--serial", "--max-instructions", "60000000", "--timeout", "120", image.path])
        XCTAssertEqual(serial.status, 1, serial.stderr)
        XCTAssertTrue(serial.stdout.contains("SYSLINUX 6.") && serial.stdout.contains("boot:"), serial.stdout)
        XCTAssertEqual(try Tools.sha256(image), before)
        let q = try QEMUReference.boot(image: image, floppy: false, marker: marker, in: dir)
        XCTAssertTrue(q.found, "QEMU did not show the marker; screen:\n\(q.screen)")
    }

    func testGrubCoreImageRunsEarlyConfig() throws {
        let marker = "RUNG5 GRUB early config"
        let image = try build("make-grub-image", marker: marker)
        let before = try Tools.sha256(image)
        let r = try Tools.boot(["--expect", marker, "--screen", "--timeout", "60", image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Welcome to GRUB!"), r.stdout)
        XCTAssertTrue(r.stdout.contains(marker), r.stdout)
        XCTAssertEqual(try Tools.sha256(image), before)
        let q = try QEMUReference.boot(image: image, floppy: false, marker: marker, in: dir)
        XCTAssertTrue(q.found, "QEMU did not show the marker; screen:\n\(q.screen)")
    }

    /// Beyond the rung: GRUB in normal mode loads its modules and grub.cfg from a FAT
    /// partition through int 13h and draws its menu.
    func testGrubNormalModeShowsMenuFromFAT() throws {
        let marker = "RUNG5 menu entry from grub.cfg"
        let image = try build("make-grub-menu-image", marker: marker)
        let r = try Tools.boot(["--expect", marker, "--screen", "--timeout", "120", image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("GNU GRUB  version"), r.stdout)
        let q = try QEMUReference.boot(image: image, floppy: false, marker: marker, in: dir)
        XCTAssertTrue(q.found, "QEMU did not show the marker; screen:\n\(q.screen)")
    }
}
