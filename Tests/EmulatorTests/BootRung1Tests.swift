import Emulator
import Foundation
import XCTest

/// Rung 1: our own NASM boot sector printing through int 10h and COM1, reading sectors with
/// int 13h CHS and EDD calls, leaving through port 0xF4; from raw and from a compressed qcow2
/// with a backing file. The image files must not change.
final class BootRung1Tests: XCTestCase {
    private var dir: URL!
    private let marker = "RUNG1 OK: CHS and LBA reads verified, write kept"

    override func setUpWithError() throws { dir = try Tools.makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func rawImage() throws -> URL {
        let url = dir.appendingPathComponent("rung1.raw")
        try Tools.rawImage(try Tools.assemble("rung1", into: dir), size: 1 << 20, at: url)
        return url
    }

    func testRawImagePrintsOnScreenAndSerialAndExitsThroughPortF4() throws {
        let image = try rawImage()
        let before = try Tools.sha256(image)
        let r = try Tools.boot(["--screen", "--serial", image.path])
        XCTAssertEqual(r.status, 33, r.stderr)
        // Once from the COM1 stream, once from the final screen.
        XCTAssertEqual(r.stdout.components(separatedBy: marker).count - 1, 2, r.stdout)
        XCTAssertTrue(r.stdout.contains("Hello from the rung 1 boot sector"))
        XCTAssertEqual(try Tools.sha256(image), before)
    }

    func testExpectedTextGivesExitZero() throws {
        let image = try rawImage()
        let r = try Tools.boot(["-f", "raw", "--expect", "RUNG1 OK", image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let miss = try Tools.boot(["--expect", "never printed", image.path])
        XCTAssertEqual(miss.status, 33, "the debug-exit status wins when the text never appears")
    }

    func testCompressedQcow2WithBackingFile() throws {
        let raw = try rawImage()
        let base = dir.appendingPathComponent("base.qcow2"), top = dir.appendingPathComponent("top.qcow2")
        try Tools.run("qemu-img", ["convert", "-c", "-f", "raw", "-O", "qcow2", raw.path, base.path])
        try Tools.run("qemu-img", ["create", "-f", "qcow2", "-b", base.path, "-F", "qcow2", top.path])
        let hashes = try [base, top].map(Tools.sha256)
        let r = try Tools.boot(["--serial", "--expect-regex", "RUNG1 OK: [A-Z]+ and LBA", top.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(marker), r.stdout)
        XCTAssertEqual(try [base, top].map(Tools.sha256), hashes, "booting must not modify the images")
    }

    func testTraceNamesEveryInstruction() throws {
        let image = try rawImage()
        let trace = dir.appendingPathComponent("trace.txt")
        let r = try Tools.boot(["--trace", trace.path, image.path])
        XCTAssertEqual(r.status, 33, r.stderr)
        let lines = try String(contentsOf: trace, encoding: .utf8).split(separator: "\n")
        XCTAssertGreaterThan(lines.count, 100)
        // The first instruction is the boot sector's CLI at 0000:7C00, with the registers.
        XCTAssertTrue(lines[0].hasPrefix("0000:00007C00 FA "), String(lines[0]))
        XCTAssertTrue(lines[0].contains("EDX=00000080"), String(lines[0]))
        // The last one is the OUT to port F4h (E6 F4).
        XCTAssertTrue(lines.last!.contains(" E6F4 "), String(lines.last!))
    }

    func testFloppyBoot() throws {
        let url = dir.appendingPathComponent("rung1.flp")
        try Tools.rawImage(try Tools.assemble("rung1", into: dir), size: 1_474_560, at: url)
        // Floppies have no EDD support, so the boot sector reports failure after the CHS part.
        let r = try Tools.boot(["--floppy", "--serial", url.path])
        XCTAssertEqual(r.status, (0x7F << 1) | 1)
        XCTAssertTrue(r.stdout.contains("Hello from the rung 1 boot sector"))
        XCTAssertTrue(r.stdout.contains("RUNG1 FAILED"))
    }

    // MARK: guest failures, through Machine directly over an in-memory disk

    private func machine(case n: Int, budget: UInt64? = nil) throws -> Machine {
        let sector = try Tools.assemble("guest-failures", into: dir, defines: ["CASE=\(n)"])
        var options = MachineOptions()
        options.maxInstructions = budget
        options.timeoutSeconds = 20
        return try Machine(disk: MemoryBlockDevice(sector + [UInt8](repeating: 0, count: 512 * 63)), options: options)
    }

    func testHaltWithInterruptsOffIsAGuestFailure() throws {
        guard case .guestFailed(let m) = try machine(case: 1).run() else { return XCTFail("expected a guest failure") }
        XCTAssertTrue(m.contains("HLT with interrupts disabled at 0000:7C05 in real mode"), m)
    }

    /// Interrupts on, but the timer masked at the PIC: nothing can wake the CPU, so the
    /// boot fails as a guest failure instead of running into the timeout.
    func testHaltWithTheTimerMaskedIsAGuestFailure() throws {
        guard case .guestFailed(let m) = try machine(case: 5).run() else { return XCTFail("expected a guest failure") }
        XCTAssertTrue(m.contains("HLT with no interrupt source left at 0000:7C09"), m)
    }

    func testSpinningGuestExhaustsTheBudget() throws {
        XCTAssertEqual(try machine(case: 2, budget: 200_000).run(), .budgetExhausted)
    }

    func testTripleFault() throws {
        guard case .guestFailed(let m) = try machine(case: 3).run() else { return XCTFail("expected a guest failure") }
        XCTAssertTrue(m.contains("triple fault"), m)
    }

    func testUnsupportedInstructionIsNamed() throws {
        guard case .guestFailed(let m) = try machine(case: 4).run() else { return XCTFail("expected a guest failure") }
        XCTAssertTrue(m.contains("0F 0B") && m.contains("0000:7C04") && m.contains("real mode"), m)
    }

    func testDiskWithout55AAIsNotBootable() throws {
        let url = dir.appendingPathComponent("blank.raw")
        try Tools.rawImage([0xEB, 0xFE], size: 65536, at: url)
        let r = try Tools.boot([url.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("not 55AA"), r.stderr)
    }

    func testCLIExitStatusesForFailures() throws {
        let url = dir.appendingPathComponent("spin.raw")
        try Tools.rawImage(try Tools.assemble("guest-failures", into: dir, defines: ["CASE=2"]), size: 65536, at: url)
        XCTAssertEqual(try Tools.boot(["--max-instructions", "100000", url.path]).status, 1)
        try Tools.rawImage(try Tools.assemble("guest-failures", into: dir, defines: ["CASE=1"]), size: 65536, at: url)
        let r = try Tools.boot([url.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("HLT with interrupts disabled"), r.stderr)
    }
}
