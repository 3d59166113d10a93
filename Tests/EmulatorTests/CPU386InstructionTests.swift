import Emulator
import XCTest

/// 186 and 386 instructions the 8086 suite cannot cover, run one at a time on the 386
/// model in real mode (code at 0000:1000, stack at 0000:8000).
final class CPU386InstructionTests: XCTestCase {
    private var memory: Memory!
    private var cpu: CPU!

    override func setUp() {
        (memory, cpu) = makeRealMode386()
    }

    /// Loads `code` at 0:1000 and executes `steps` instructions.
    private func run(_ code: [UInt8], steps: Int = 1) {
        memory.load(code, at: 0x1000)
        cpu.eip = 0x1000
        for _ in 0..<steps { cpu.step() }
    }

    private var cf: Bool { cpu.flags & 1 != 0 }
    private var zf: Bool { cpu.flags & 0x40 != 0 }

    func testOperandSizePrefixGives32BitArithmetic() {
        cpu.setReg32(Reg.ax, 0xFFFF_FFFF)
        run([0x66, 0x83, 0xC0, 0x02]) // add eax, 2
        XCTAssertEqual(cpu.reg32(Reg.ax), 1)
        XCTAssertTrue(cf)
        XCTAssertEqual(cpu.ip, 0x1004)
    }

    func testAddressSizePrefixUsesScaledIndex() {
        cpu.setReg32(Reg.bx, 0x10000)
        cpu.setReg32(Reg.cx, 4)
        memory.write32(0x10010, 0xCAFE_BABE)
        run([0x66, 0x67, 0x8B, 0x04, 0x8B]) // mov eax, [ebx+ecx*4]
        XCTAssertEqual(cpu.reg32(Reg.ax), 0xCAFE_BABE)
    }

    func testMovzxMovsx() {
        cpu.setReg32(Reg.bx, 0x80)
        run([0x66, 0x0F, 0xB6, 0xC3, 0x66, 0x0F, 0xBE, 0xCB], steps: 2) // movzx eax, bl; movsx ecx, bl
        XCTAssertEqual(cpu.reg32(Reg.ax), 0x80)
        XCTAssertEqual(cpu.reg32(Reg.cx), 0xFFFF_FF80)
    }

    func testShldShrd() {
        cpu.setReg32(Reg.ax, 0x1234_5678)
        cpu.setReg32(Reg.dx, 0x9ABC_DEF0)
        run([0x66, 0x0F, 0xA4, 0xD0, 0x08]) // shld eax, edx, 8
        XCTAssertEqual(cpu.reg32(Reg.ax), 0x3456_789A)
        cpu.setReg32(Reg.ax, 0x1234_5678)
        run([0x66, 0x0F, 0xAC, 0xD0, 0x08]) // shrd eax, edx, 8
        XCTAssertEqual(cpu.reg32(Reg.ax), 0xF012_3456)
    }

    func testBitTestsAndScans() {
        cpu.setReg32(Reg.ax, 0x0000_0100)
        run([0x66, 0x0F, 0xBA, 0xE8, 0x03]) // bts eax, 3
        XCTAssertEqual(cpu.reg32(Reg.ax), 0x108)
        XCTAssertFalse(cf)
        run([0x66, 0x0F, 0xBC, 0xD8]) // bsf ebx, eax
        XCTAssertEqual(cpu.reg32(Reg.bx), 3)
        run([0x66, 0x0F, 0xBD, 0xD8]) // bsr ebx, eax
        XCTAssertEqual(cpu.reg32(Reg.bx), 8)
        // bt [mem], reg with an offset beyond the dword reaches the following memory.
        memory.write8(0x2005, 0x02)
        cpu.setReg32(Reg.cx, 41) // byte 5, bit 1
        cpu.setReg32(Reg.si, 0x2000)
        run([0x0F, 0xA3, 0x0C]) // bt [si], cx
        XCTAssertTrue(cf)
    }

    func testSetccAndJccNear() {
        cpu.setReg32(Reg.ax, 5)
        run([0x3C, 0x05, 0x0F, 0x94, 0xC1], steps: 2) // cmp al, 5; sete cl
        XCTAssertEqual(cpu.reg8(1), 1)
        run([0x3C, 0x05, 0x0F, 0x84, 0x00, 0x01], steps: 2) // cmp al, 5; je +0x100
        XCTAssertEqual(cpu.ip, 0x1006 + 0x100)
    }

    func testJccNearNotTakenAndBackward32() {
        cpu.setReg32(Reg.ax, 5)
        run([0x3C, 0x05, 0x0F, 0x85, 0x00, 0x01], steps: 2) // cmp al, 5; jne +0x100 (not taken)
        XCTAssertEqual(cpu.ip, 0x1006)
        run([0x3C, 0x05, 0x66, 0x0F, 0x84, 0xF0, 0xFF, 0xFF, 0xFF], steps: 2) // je -0x10 (32-bit)
        XCTAssertEqual(cpu.ip, 0x1009 - 0x10)
    }

    func testMovImmediateIncDecPushCallJumpThroughModRM() {
        run([0x66, 0xC7, 0x06, 0x00, 0x20, 0x78, 0x56, 0x34, 0x12]) // mov dword [0x2000], 0x12345678
        XCTAssertEqual(memory.read32(0x2000), 0x1234_5678)
        run([0xC6, 0xC3, 0x9A]) // mov bl, 0x9A
        XCTAssertEqual(cpu.reg8(3), 0x9A)
        cpu.flags = 0x203
        run([0x66, 0xFF, 0x0E, 0x00, 0x20]) // dec dword [0x2000]
        XCTAssertEqual(memory.read32(0x2000), 0x1234_5677)
        XCTAssertTrue(cf) // DEC keeps CF
        run([0xFE, 0xC3]) // inc bl
        XCTAssertEqual(cpu.reg8(3), 0x9B)
        run([0x66, 0xFF, 0x36, 0x00, 0x20]) // push dword [0x2000]
        XCTAssertEqual(cpu.reg16(Reg.sp), 0x7FFC)
        XCTAssertEqual(memory.read32(0x7FFC), 0x1234_5677)
        cpu.setReg32(Reg.bx, 0x3000)
        run([0xFF, 0xD3]) // call bx
        XCTAssertEqual(cpu.ip, 0x3000)
        XCTAssertEqual(memory.read16(0x7FFA), 0x1002)
        run([0xFF, 0xE3]) // jmp bx
        XCTAssertEqual(cpu.ip, 0x3000)
    }

    func testDwordMovesAndArithmeticThroughMemory() {
        cpu.setReg32(Reg.ax, 0x8765_4321)
        run([0x66, 0x89, 0x06, 0x00, 0x20]) // mov [0x2000], eax
        XCTAssertEqual(memory.read32(0x2000), 0x8765_4321)
        run([0x66, 0x8B, 0x1E, 0x00, 0x20]) // mov ebx, [0x2000]
        XCTAssertEqual(cpu.reg32(Reg.bx), 0x8765_4321)
        run([0x66, 0x89, 0xC1]) // mov ecx, eax
        XCTAssertEqual(cpu.reg32(Reg.cx), 0x8765_4321)
        run([0x66, 0x01, 0x06, 0x00, 0x20]) // add [0x2000], eax: 0x0ECA8642 with carry out
        XCTAssertEqual(memory.read32(0x2000), 0x0ECA_8642)
        XCTAssertTrue(cf)
        XCTAssertTrue(cpu.flags & 0x800 != 0) // two negatives gave a positive: OF
        run([0x66, 0x81, 0x06, 0x00, 0x20, 0xBE, 0x79, 0x35, 0xF1]) // add dword [0x2000], 0xF13579BE
        XCTAssertEqual(memory.read32(0x2000), 0x0000_0000)
        XCTAssertTrue(zf)
        XCTAssertTrue(cf)
        run([0x66, 0xC1, 0xE3, 0x04]) // shl ebx, 4
        XCTAssertEqual(cpu.reg32(Reg.bx), 0x7654_3210)
        XCTAssertFalse(cf) // the last bit out was 0 (bit 28 of 0x87654321)
    }

    func testDwordPushPopCallReturn() {
        cpu.setReg32(Reg.ax, 0xCAFE_F00D)
        run([0x66, 0x50, 0x66, 0x5B], steps: 2) // push eax; pop ebx
        XCTAssertEqual(cpu.reg32(Reg.bx), 0xCAFE_F00D)
        XCTAssertEqual(cpu.reg16(Reg.sp), 0x8000)
        run([0x66, 0x54, 0x66, 0x5C], steps: 2) // push esp (the old value); pop esp
        XCTAssertEqual(cpu.reg32(Reg.sp), 0x8000)
        run([0x66, 0xE8, 0x10, 0x00, 0x00, 0x00]) // call +0x10 (dword return address)
        XCTAssertEqual(cpu.ip, 0x1016)
        XCTAssertEqual(memory.read32(0x7FFC), 0x1006)
        memory.load([0x66, 0xC3], at: 0x1016) // ret (dword)
        cpu.step()
        XCTAssertEqual(cpu.ip, 0x1006)
        XCTAssertEqual(cpu.reg16(Reg.sp), 0x8000)
    }

    func testImulThreeOperand() {
        cpu.setReg32(Reg.bx, 7)
        run([0x6B, 0xC3, 0xFD]) // imul ax, bx, -3
        XCTAssertEqual(cpu.reg16(Reg.ax), UInt16(bitPattern: -21))
        XCTAssertFalse(cf)
    }

    func testEnterLeaveWithNesting() {
        cpu.setReg32(Reg.bp, 0x7000)
        memory.write16(0x6FFE, 0xAAAA)
        run([0xC8, 0x10, 0x00, 0x02]) // enter 16, 2
        // pushes BP (at 7FFE), one saved frame pointer (7FFC) and the new frame pointer (7FFA).
        XCTAssertEqual(cpu.reg16(Reg.bp), 0x7FFE)
        XCTAssertEqual(memory.read16(0x7FFC), 0xAAAA)
        XCTAssertEqual(memory.read16(0x7FFA), 0x7FFE)
        XCTAssertEqual(cpu.reg16(Reg.sp), 0x7FFA - 16)
        run([0xC9]) // leave
        XCTAssertEqual(cpu.reg16(Reg.sp), 0x8000)
        XCTAssertEqual(cpu.reg16(Reg.bp), 0x7000)
    }

    func testPushaPopaAndPushImmediate() {
        cpu.setReg32(Reg.ax, 0x1111); cpu.setReg32(Reg.di, 0x7777)
        run([0x60, 0x6A, 0xFE, 0x58, 0x61], steps: 4) // pusha; push -2; pop ax; popa
        XCTAssertEqual(cpu.reg16(Reg.ax), 0x1111)
        XCTAssertEqual(cpu.reg16(Reg.di), 0x7777)
        XCTAssertEqual(cpu.reg16(Reg.sp), 0x8000)
        run([0x6A, 0xFE, 0x58], steps: 2)
        XCTAssertEqual(cpu.reg16(Reg.ax), 0xFFFE)
    }

    func testShiftByImmediateMasksCount() {
        cpu.setReg32(Reg.ax, 0x0001)
        run([0xC1, 0xE0, 0x21]) // shl ax, 33 -> count 1 on the 186+
        XCTAssertEqual(cpu.reg16(Reg.ax), 2)
    }

    func testXaddCmpxchgBswap() {
        cpu.setReg32(Reg.ax, 5); cpu.setReg32(Reg.bx, 3)
        run([0x0F, 0xC1, 0xD8]) // xadd ax, bx
        XCTAssertEqual(cpu.reg16(Reg.ax), 8); XCTAssertEqual(cpu.reg16(Reg.bx), 5)
        cpu.setReg32(Reg.ax, 8); cpu.setReg32(Reg.cx, 9)
        memory.write16(0x3000, 8)
        cpu.setReg32(Reg.si, 0x3000)
        run([0x0F, 0xB1, 0x0C]) // cmpxchg [si], cx
        XCTAssertTrue(zf); XCTAssertEqual(memory.read16(0x3000), 9)
        cpu.setReg32(Reg.dx, 0x1122_3344)
        run([0x66, 0x0F, 0xCA]) // bswap edx
        XCTAssertEqual(cpu.reg32(Reg.dx), 0x4433_2211)
    }

    func testCpuidAndEflagsIDBit() {
        cpu.setReg32(Reg.ax, 0)
        run([0x0F, 0xA2])
        XCTAssertEqual(cpu.reg32(Reg.bx), 0x756E_6547) // "Genu"
        run([0x66, 0x9C, 0x66, 0x58], steps: 2) // pushfd; pop eax
        XCTAssertEqual(cpu.reg32(Reg.ax) & 0x0003_0000, 0, "VM and RF are never pushed")
    }

    func testBoundRaisesInterrupt5() {
        memory.write16(0x2000, 10); memory.write16(0x2002, 20)
        memory.write16(5 * 4, 0x4000); memory.write16(5 * 4 + 2, 0)
        cpu.setReg32(Reg.ax, 25); cpu.setReg32(Reg.si, 0x2000)
        run([0x62, 0x04]) // bound ax, [si]
        XCTAssertEqual(cpu.ip, 0x4000)
        XCTAssertEqual(memory.read16(0x7FFA), 0x1000, "#BR returns to the BOUND itself")
    }

    func testInvalidOpcodeRaisesUDOrStops() {
        memory.write16(6 * 4, 0x4100); memory.write16(6 * 4 + 2, 0)
        run([0x0F, 0x0B])
        XCTAssertEqual(cpu.ip, 0x4100)
        cpu.stopOnInvalidOpcode = true
        run([0x0F, 0x0B])
        XCTAssertEqual(cpu.stop, .unsupported("unsupported instruction 0F 0B at 0000:1000 in real mode"))
    }

    func testDivideErrorPointsAtTheDivide() {
        memory.write16(0, 0x4200); memory.write16(2, 0)
        cpu.setReg32(Reg.ax, 100); cpu.setReg32(Reg.bx, 0)
        run([0xF6, 0xF3]) // div bl
        XCTAssertEqual(cpu.ip, 0x4200)
        XCTAssertEqual(memory.read16(0x7FFA), 0x1000)
    }
}
