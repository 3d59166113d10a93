import Emulator
import XCTest

/// REP MOVS and REP STOS take a bulk copy or fill over plain RAM; these cases pin down the
/// results the element-by-element definition gives, including the ones (overlap that
/// repeats a pattern, 16-bit index wrap) where a bulk copy would be wrong.
final class RepStringBulkTests: XCTestCase {
    private var memory: Memory!
    private var cpu: CPU!

    override func setUp() {
        (memory, cpu) = makeRealMode386()
    }

    private func run(_ code: [UInt8]) {
        memory.load(code, at: 0x1000)
        cpu.eip = 0x1000
        cpu.step()
    }

    private func bytes(_ at: Int, _ count: Int) -> [UInt8] { memory.slice(at, count) }

    func testRepStoswFillsAndStopsAtCount() {
        memory.load([UInt8](repeating: 0xEE, count: 16), at: 0x3FFE)
        cpu.setReg32(Reg.ax, 0xBEEF)
        cpu.setReg32(Reg.di, 0x4000)
        cpu.setReg32(Reg.cx, 0x1234_0005)
        run([0xF3, 0xAB]) // rep stosw
        XCTAssertEqual(bytes(0x3FFE, 14), [0xEE, 0xEE] + Array([[0xEF, 0xBE]].repeated(5)) + [0xEE, 0xEE])
        XCTAssertEqual(cpu.reg32(Reg.di), 0x400A)
        XCTAssertEqual(cpu.reg32(Reg.cx), 0x1234_0000, "only CX counts with 16-bit addressing")
        XCTAssertEqual(cpu.ip, 0x1002)
    }

    func testRepMovsdWith32BitAddressing() {
        let source: [UInt8] = (0..<32).map { UInt8($0 * 3) }
        memory.load(source, at: 0x12_0000)
        cpu.setReg32(Reg.si, 0x12_0000)
        cpu.setReg32(Reg.di, 0x13_0000)
        cpu.setReg32(Reg.cx, 8)
        run([0x66, 0x67, 0xF3, 0xA5]) // rep movsd (a32)
        XCTAssertEqual(bytes(0x13_0000, 32), source)
        XCTAssertEqual(cpu.reg32(Reg.si), 0x12_0020)
        XCTAssertEqual(cpu.reg32(Reg.di), 0x13_0020)
        XCTAssertEqual(cpu.reg32(Reg.cx), 0)
    }

    func testOverlappingForwardMoveRepeatsThePattern() {
        memory.load([0xAB, 0xCD, 0, 0, 0, 0, 0, 0], at: 0x5000)
        cpu.setReg32(Reg.si, 0x5000)
        cpu.setReg32(Reg.di, 0x5002)
        cpu.setReg32(Reg.cx, 6)
        run([0xF3, 0xA4]) // rep movsb, destination inside the source
        XCTAssertEqual(bytes(0x5000, 8), [0xAB, 0xCD, 0xAB, 0xCD, 0xAB, 0xCD, 0xAB, 0xCD])
    }

    func testSixteenBitIndexWrapsInsideTheSegment() {
        cpu.setSegmentReal(Seg.es, 0x2000)
        memory.load([UInt8](repeating: 0x11, count: 4), at: 0x20000)
        cpu.setReg32(Reg.ax, 0x77)
        cpu.setReg32(Reg.di, 0xFFFE)
        cpu.setReg32(Reg.cx, 4)
        run([0xF3, 0xAA]) // rep stosb across offset FFFF
        XCTAssertEqual(bytes(0x2FFFE, 2), [0x77, 0x77])
        XCTAssertEqual(bytes(0x20000, 4), [0x77, 0x77, 0x11, 0x11])
        XCTAssertEqual(cpu.reg32(Reg.di), 2)
    }

    func testDirectionFlagSetMovesDownward() {
        memory.load([1, 2, 3, 4], at: 0x6000)
        cpu.setReg32(Reg.si, 0x6003)
        cpu.setReg32(Reg.di, 0x7003)
        cpu.setReg32(Reg.cx, 4)
        run([0xFD, 0xF3, 0xA4]) // std; rep movsb
        cpu.step()
        XCTAssertEqual(bytes(0x7000, 4), [1, 2, 3, 4])
        XCTAssertEqual(cpu.reg32(Reg.di), 0x6FFF)
    }
}

private extension Array where Element == [UInt8] {
    /// The single element's bytes repeated `times` times.
    func repeated(_ times: Int) -> [UInt8] { (0..<times).flatMap { _ in self[0] } }
}
