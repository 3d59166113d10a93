import Emulator
import Foundation
import XCTest

/// BIOS services and devices checked from inside a guest (testdata/boot/bios-services.asm):
/// int 11h/12h, int 15h 88h/E801h/E820h/C0h/24xxh, int 1Ah, int 13h 08h/48h, int 10h,
/// the BIOS data area, PIT channel 2 through port 61h, the 8042, the UART and CMOS.
final class BIOSServicesTests: XCTestCase {
    func testServicesAnswerLikeThisMachine() throws {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let code = try Tools.assemble("bios-services", into: dir)
        var options = MachineOptions()
        options.timeoutSeconds = 20
        options.memoryMiB = 32
        let machine = try Machine(disk: MemoryBlockDevice(code + [UInt8](repeating: 0, count: (1 << 20) - code.count)), options: options)
        let outcome = machine.run()
        let console = String(decoding: machine.debugConsoleOutput, as: UTF8.self)
        XCTAssertEqual(outcome, .debugExit((0x22 << 1) | 1), console)
        XCTAssertEqual(console, "BIOS OK")
    }
}
