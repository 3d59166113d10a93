import Emulator
import Foundation
import XCTest

/// 386 features boot code relies on, exercised by testdata/boot/protected-mode.asm:
/// A20 (8042 and port 92h), CPUID, GDT/IDT, #GP/#NP with error codes, segment limits with
/// the faulting instruction rolled back, trap gates,
/// 4 GiB data segments, and the return to real mode.
final class ProtectedModeTests: XCTestCase {
    func testProtectedModeRoundTrip() throws {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let code = try Tools.assemble("protected-mode", into: dir)
        var options = MachineOptions()
        options.timeoutSeconds = 20
        let machine = try Machine(disk: MemoryBlockDevice(code + [UInt8](repeating: 0, count: 1 << 20)), options: options)
        let outcome = machine.run()
        let console = String(decoding: machine.debugConsoleOutput, as: UTF8.self)
        XCTAssertEqual(outcome, .debugExit((0x21 << 1) | 1), console)
        XCTAssertEqual(console, "A20 ok\r\nCPUID GenuineIntel\r\nPM32 ok\r\nEXCEPTIONS ok\r\nREAL MODE AGAIN\r\n")
        // (QEMU's TCG does not check data segment limits, so this guest fails there by design.)
        XCTAssertTrue(machine.screenText().hasPrefix("!"), "int 10h works again in real mode")
    }

    /// Ring 3 and back (testdata/boot/privilege.asm), also checked against QEMU.
    func testPrivilegeLevels() throws {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let code = try Tools.assemble("privilege", into: dir)
        let image = dir.appendingPathComponent("privilege.raw")
        try Tools.rawImage(code, size: 1 << 20, at: image)
        var options = MachineOptions()
        options.timeoutSeconds = 20
        let machine = try Machine(disk: MemoryBlockDevice([UInt8](try Data(contentsOf: image))), options: options)
        let outcome = machine.run()
        let console = String(decoding: machine.debugConsoleOutput, as: UTF8.self)
        XCTAssertEqual(outcome, .debugExit((0x23 << 1) | 1), console)
        XCTAssertEqual(console, "RING3 ok\r\nGP ok\r\nRING0 again\r\n")
        let q = try QEMUReference.boot(image: image, floppy: false, marker: "RING0 again", in: dir)
        XCTAssertTrue(q.found, "QEMU disagrees: \(q.serial)")
    }

    func testDebugConsoleCountsForExpect() throws {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let code = try Tools.assemble("protected-mode", into: dir)
        let image = dir.appendingPathComponent("pm.raw")
        try Tools.rawImage(code, size: 1 << 20, at: image)
        let r = try Tools.boot(["--expect", "EXCEPTIONS ok", image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

/// int 16h with scripted keys, and the wait when there are none.
final class KeyboardTests: XCTestCase {
    private func run(keys: String) throws -> (RunOutcome, String) {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let code = try Tools.assemble("keyboard", into: dir)
        var options = MachineOptions()
        options.keys = keys
        options.maxInstructions = 5_000_000
        let machine = try Machine(disk: MemoryBlockDevice(code + [UInt8](repeating: 0, count: 32 * 1024)), options: options)
        let outcome = machine.run()
        return (outcome, String(decoding: machine.debugConsoleOutput, as: UTF8.self))
    }

    func testScriptedKeysAreRead() throws {
        let (outcome, console) = try run(keys: "Hi there\r")
        XCTAssertEqual(outcome, .debugExit((0x12 << 1) | 1))
        XCTAssertEqual(console, "Hi there")
    }

    func testNoKeysMeansNoKeys() throws {
        let (outcome, _) = try run(keys: "")
        guard case .guestFailed(let m) = outcome else { return XCTFail("expected the guest to give up, got \(outcome)") }
        XCTAssertTrue(m.contains("HLT with interrupts disabled"), m)
    }
}
