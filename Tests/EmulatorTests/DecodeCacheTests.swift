import Emulator
import XCTest

/// The interpreter keeps decoded instructions; code that changes after it ran must run as
/// changed. Each case executes code, rewrites it through one memory write path (a guest
/// store, a REP MOVS bulk copy, an int 13h disk read) and executes it again.
final class DecodeCacheTests: XCTestCase {
    private func runUntilHalt(_ cpu: CPU, limit: Int = 1000) {
        for _ in 0..<limit where !cpu.halted { cpu.step() }
        XCTAssertTrue(cpu.halted, "the code did not reach HLT")
    }

    func testLoopPatchingItsOwnNextInstruction() {
        let (memory, cpu) = makeRealMode386()
        memory.load([
            0xB9, 0x02, 0x00,             // 1000: mov cx, 2
            0x43,                         // 1003: inc bx   (patched to 46: inc si)
            0xC6, 0x06, 0x03, 0x10, 0x46, // 1004: mov byte [1003h], 46h
            0xE2, 0xF8,                   // 1009: loop 1003h
            0xF4,                         // 100B: hlt
        ], at: 0x1000)
        runUntilHalt(cpu)
        XCTAssertEqual(cpu.reg16(Reg.bx), 1, "the first pass runs INC BX")
        XCTAssertEqual(cpu.reg16(Reg.si), 1, "the second pass runs the patched INC SI")
    }

    func testPatchedAddressFormAndWordStore() {
        let (memory, cpu) = makeRealMode386()
        memory.load([
            0xB9, 0x02, 0x00,             // 1000: mov cx, 2
            0x89, 0xC3,                   // 1003: mov bx, ax  (patched to 89 CE: mov si, cx)
            0xC7, 0x06, 0x03, 0x10, 0x89, 0xCE, // 1005: mov word [1003h], CE89h
            0xE2, 0xF6,                   // 100B: loop 1003h
            0xF4,                         // 100D: hlt
        ], at: 0x1000)
        cpu.setReg32(Reg.ax, 0x1234)
        runUntilHalt(cpu)
        XCTAssertEqual(cpu.reg16(Reg.bx), 0x1234)
        XCTAssertEqual(cpu.reg16(Reg.si), 1, "MOV SI, CX ran with CX = 1 on the second pass")
    }

    func testRepMovsCopiesNewCodeOverCalledRoutine() {
        let (memory, cpu) = makeRealMode386()
        memory.load([0x43, 0xC3], at: 0x2000) // inc bx; ret
        memory.load([0x46, 0xC3], at: 0x3000) // inc si; ret
        memory.load([
            0xE8, 0xFD, 0x0F,             // 1000: call 2000h
            0xBE, 0x00, 0x30,             // 1003: mov si, 3000h
            0xBF, 0x00, 0x20,             // 1006: mov di, 2000h
            0xB9, 0x02, 0x00,             // 1009: mov cx, 2
            0xFC,                         // 100C: cld
            0xF3, 0xA4,                   // 100D: rep movsb
            0xE8, 0xEE, 0x0F,             // 100F: call 2000h
            0xF4,                         // 1012: hlt
        ], at: 0x1000)
        runUntilHalt(cpu)
        XCTAssertEqual(cpu.reg16(Reg.bx), 1, "the first call runs INC BX")
        XCTAssertEqual(cpu.reg16(Reg.si), 0x3003, "the second call runs the copied INC SI")
    }

    func testDiskReadLoadsNewCodeOverCalledRoutine() throws {
        var disk = [UInt8](repeating: 0, count: 1 << 20)
        let boot: [UInt8] = [
            0x31, 0xC0,       // xor ax, ax
            0x8E, 0xC0,       // mov es, ax
            0xBB, 0x00, 0x80, // mov bx, 8000h
            0xB8, 0x01, 0x02, // mov ax, 0201h: read one sector
            0xB9, 0x02, 0x00, // mov cx, 0002h: cylinder 0, sector 2
            0x30, 0xF6,       // xor dh, dh: head 0 (DL is the boot drive)
            0xCD, 0x13,       // int 13h
            0xFF, 0xD3,       // call bx
            0xBB, 0x00, 0x80, // mov bx, 8000h
            0xB8, 0x01, 0x02, // mov ax, 0201h
            0xB9, 0x03, 0x00, // mov cx, 0003h: sector 3
            0xCD, 0x13,       // int 13h
            0xFF, 0xD3,       // call bx
            0xB0, 0x00,       // mov al, 0
            0xE6, 0xF4,       // out 0F4h, al: exit with status 1
            0xF4,             // hlt
        ]
        disk.replaceSubrange(0..<boot.count, with: boot)
        disk[510] = 0x55; disk[511] = 0xAA
        disk.replaceSubrange(512..<517, with: [0xB0, 0x41, 0xE6, 0xE9, 0xC3])  // mov al, 'A'; out 0E9h, al; ret
        // nop; mov al, 'B'; out 0E9h, al; ret: the opcodes move, so a stale decode of the
        // first routine would not print 'B'.
        disk.replaceSubrange(1024..<1030, with: [0x90, 0xB0, 0x42, 0xE6, 0xE9, 0xC3])
        var options = MachineOptions()
        options.maxInstructions = 100_000
        let machine = try Machine(disk: MemoryBlockDevice(disk), options: options)
        let outcome = machine.run()
        XCTAssertEqual(outcome, .debugExit(1))
        XCTAssertEqual(String(decoding: machine.debugConsoleOutput, as: UTF8.self), "AB")
    }
}
