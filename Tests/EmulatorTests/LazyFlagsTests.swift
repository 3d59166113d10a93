import Emulator
import XCTest

/// Arithmetic flags are recorded lazily and a conditional instruction right after the
/// operation evaluates them from the record. Each case runs an ALU instruction followed by
/// SETcc BL for all sixteen conditions and checks SETcc against the conditions computed
/// here from FLAGS as read after the operation alone (which folds the record).
final class LazyFlagsTests: XCTestCase {
    private let values: [UInt32] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000,
                                    0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1234_5678, 0xFEDC_BA98, 0x0000_0010]

    /// ALU forms on AL/AX/EAX with CL/CX/ECX: opcode bytes per operand size (1, 2, 4).
    private func encodings() -> [(String, [Int: [UInt8]])] {
        var forms: [(String, [Int: [UInt8]])] = []
        for (name, base) in [("add", 0x00), ("or", 0x08), ("adc", 0x10), ("sbb", 0x18), ("and", 0x20),
                             ("sub", 0x28), ("xor", 0x30), ("cmp", 0x38)] as [(String, UInt8)] {
            forms.append((name, [1: [base, 0xC8], 2: [base + 1, 0xC8], 4: [0x66, base + 1, 0xC8]]))
        }
        forms.append(("inc", [1: [0xFE, 0xC0], 2: [0x40], 4: [0x66, 0x40]]))
        forms.append(("dec", [1: [0xFE, 0xC8], 2: [0x48], 4: [0x66, 0x48]]))
        forms.append(("neg", [1: [0xF6, 0xD8], 2: [0xF7, 0xD8], 4: [0x66, 0xF7, 0xD8]]))
        // Shifts by CL (the count is the second value): SHL, SHR, SAR.
        for (name, modrm) in [("shl", 0xE0), ("shr", 0xE8), ("sar", 0xF8)] as [(String, UInt8)] {
            forms.append((name, [1: [0xD2, modrm], 2: [0xD3, modrm], 4: [0x66, 0xD3, modrm]]))
        }
        return forms
    }

    private func expected(_ cc: Int, _ f: UInt32) -> Bool {
        let cf = f & 1 != 0, pf = f & 4 != 0, zf = f & 0x40 != 0, sf = f & 0x80 != 0, of = f & 0x800 != 0
        let r: Bool
        switch cc >> 1 {
        case 0: r = of
        case 1: r = cf
        case 2: r = zf
        case 3: r = cf || zf
        case 4: r = sf
        case 5: r = pf
        case 6: r = sf != of
        default: r = zf || sf != of
        }
        return cc & 1 == 0 ? r : !r
    }

    private let rig = makeRealMode386()

    /// Runs `code` at 0:1000 from the given registers and carry; returns the CPU.
    private func run(_ code: [UInt8], a: UInt32, b: UInt32, carry: Bool, steps: Int) -> CPU {
        let (memory, cpu) = rig
        memory.load(code, at: 0x1000)
        cpu.eip = 0x1000
        cpu.setReg32(Reg.ax, a)
        cpu.setReg32(Reg.cx, b)
        cpu.setReg32(Reg.bx, 0)
        cpu.flags = carry ? 0x203 : 0x202
        for _ in 0..<steps { cpu.step() }
        return cpu
    }

    func testConditionsAfterArithmeticMatchFoldedFlags() {
        var checked = 0
        for (name, bySize) in encodings() {
            for (size, op) in bySize {
                for a in values {
                    for b in values.prefix(9) + [a, a &+ 1] {
                        for carry in [false, true] {
                            let flags = run(op, a: a, b: b, carry: carry, steps: 1).flags
                            for cc in 0..<16 {
                                let code = op + [0x0F, 0x90 + UInt8(cc), 0xC3] // SETcc BL
                                let cpu = run(code, a: a, b: b, carry: carry, steps: 2)
                                let got = cpu.reg8(3) != 0
                                if got != expected(cc, flags) {
                                    XCTFail("\(name) size \(size) a=\(String(a, radix: 16)) b=\(String(b, radix: 16)) cf=\(carry) cc=\(cc): SETcc \(got), flags \(String(flags, radix: 16))")
                                    return
                                }
                                checked += 1
                            }
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 10_000)
    }

    /// CLC, STC and CMC change CF of a pending operation and keep its other flags.
    func testCarryInstructionsAfterArithmetic() {
        var checked = 0
        for (name, bySize) in encodings() {
            for (size, op) in bySize {
                for a in values where a & 3 == 0 || a > 0xFFFF {
                    let b = a &+ 0x8001
                    let flags = run(op, a: a, b: b, carry: true, steps: 1).flags
                    for (carryOp, newCF) in [(UInt8(0xF8), false), (0xF9, true), (0xF5, flags & 1 == 0)] {
                        let folded = flags & ~1 | (newCF ? 1 : 0)
                        for cc in 0..<16 {
                            let cpu = run(op + [carryOp, 0x0F, 0x90 + UInt8(cc), 0xC3], a: a, b: b, carry: true, steps: 3)
                            if (cpu.reg8(3) != 0) != expected(cc, folded) {
                                XCTFail("\(name) size \(size) a=\(String(a, radix: 16)) then \(String(carryOp, radix: 16)) cc=\(cc)")
                                return
                            }
                            checked += 1
                        }
                        let cpu = run(op + [carryOp], a: a, b: b, carry: true, steps: 2)
                        XCTAssertEqual(cpu.flags, folded, "\(name) size \(size) a=\(String(a, radix: 16)) then \(String(carryOp, radix: 16))")
                    }
                }
            }
        }
        XCTAssertGreaterThan(checked, 1_000)
    }

    /// Shifts record CF, OF and a clear AF with their result; FLAGS read back exactly.
    func testShiftFlagsReadBack() {
        let cases: [([UInt8], UInt32, UInt32)] = [
            ([0xD0, 0xE0], 0x18, 0x004),              // shl al, 1: 30, PF
            ([0xD0, 0xE8], 0x81, 0x801),              // shr al, 1: 40, CF OF
            ([0xD0, 0xF8], 0x90, 0x080),              // sar al, 1: C8, SF
            ([0x66, 0xD1, 0xE0], 0x8000_0010, 0x801), // shl eax, 1: 20, CF OF
            ([0xD0, 0xE0], 0x80, 0x845),              // shl al, 1: 00, CF OF ZF PF
        ]
        for (code, a, arith) in cases {
            let cpu = run(code, a: a, b: 0, carry: false, steps: 1)
            XCTAssertEqual(cpu.flags & 0x8D5, arith, "\(code) on \(String(a, radix: 16))")
        }
    }

    /// REPE CMPSB and REPNE SCASB stop on ZF, which the repeat reads from the pending
    /// comparison.
    func testRepeatedCompareStopsOnZF() {
        let (memory, _) = rig
        memory.load(Array("abcdXf".utf8), at: 0x3000)
        memory.load(Array("abcdef".utf8), at: 0x4000)
        var cpu = run([0xF3, 0xA6], a: 0, b: 6, carry: false, steps: 0) // repe cmpsb, CX = 6
        cpu.setReg32(Reg.si, 0x3000)
        cpu.setReg32(Reg.di, 0x4000)
        cpu.step() // stops after comparing 'X' with 'e'
        XCTAssertEqual(cpu.reg16(Reg.cx), 1)
        XCTAssertEqual(cpu.reg16(Reg.si), 0x3005)
        XCTAssertEqual(cpu.flags & 0x40, 0)
        cpu = run([0xF2, 0xAE], a: UInt32(UInt8(ascii: "d")), b: 6, carry: false, steps: 0) // repne scasb
        cpu.setReg32(Reg.di, 0x4000)
        cpu.step() // stops on the 'd'
        XCTAssertEqual(cpu.reg16(Reg.di), 0x4004)
        XCTAssertEqual(cpu.reg16(Reg.cx), 2)
        XCTAssertEqual(cpu.flags & 0x40, 0x40)
    }

    /// ADC after INC uses the carry INC kept, not the carry out of INC's own addition.
    func testIncKeepsCarryForTheNextAdc() {
        // clc; inc ax (FFFF -> 0 carries out, but CF stays 0); adc cx, 0 -> cx unchanged
        var cpu = run([0xF8, 0x40, 0x83, 0xD1, 0x00], a: 0xFFFF, b: 5, carry: true, steps: 3)
        XCTAssertEqual(cpu.reg16(Reg.ax), 0)
        XCTAssertEqual(cpu.reg16(Reg.cx), 5)
        // stc; dec ax (5 -> 4, no borrow, CF stays 1); adc cx, 0 -> cx + 1
        cpu = run([0xF9, 0x48, 0x83, 0xD1, 0x00], a: 5, b: 5, carry: false, steps: 3)
        XCTAssertEqual(cpu.reg16(Reg.cx), 6)
    }
}
