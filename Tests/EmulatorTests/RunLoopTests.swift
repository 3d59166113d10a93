import Emulator
import Foundation
import XCTest

/// The run loop executes slices of instructions with one budget test per instruction; an
/// instruction needing attention (limit fault, halt, stop) cuts the slice. Tracing runs
/// the same guest one `step()` at a time. Both must stop after exactly the same number of
/// instructions in the same state, wherever the budget ends.
final class RunLoopTests: XCTestCase {
    private func state(_ code: [UInt8], budget: UInt64, traced: Bool, hostCode: Bool) throws -> String {
        var options = MachineOptions()
        options.maxInstructions = budget
        options.timeoutSeconds = 20
        let machine = try Machine(disk: MemoryBlockDevice(code + [UInt8](repeating: 0, count: (1 << 20) - code.count)), options: options)
        if traced { machine.traceSink = { _ in } }
        machine.cpu.useHostCode = hostCode
        let outcome = machine.run()
        let cpu = machine.cpu
        let regs = (0..<8).map { String(cpu.reg32($0), radix: 16) }.joined(separator: " ")
        return "\(outcome) count=\(cpu.instructionCount) eip=\(String(cpu.eip, radix: 16)) cs=\(cpu.segment(Seg.cs)) "
            + "flags=\(String(cpu.flags, radix: 16)) \(regs) console=\(machine.debugConsoleOutput.count)"
    }

    /// `hostCode`: whether compiled blocks may also get host code (sliced runs only).
    private func compare(_ name: String, budgets: [UInt64], hostCode: Bool = true) throws {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let code = try Tools.assemble(name, into: dir)
        for budget in budgets {
            let sliced = try state(code, budget: budget, traced: false, hostCode: hostCode)
            XCTAssertEqual(sliced, try state(code, budget: budget, traced: true, hostCode: false), "\(name), budget \(budget)")
            if sliced.hasPrefix("budgetExhausted") { XCTAssertTrue(sliced.contains("count=\(budget) "), sliced) }
        }
    }

    /// Every budget through the protected-mode guest (562 instructions: limit faults
    /// rolled back, exceptions, far transfers, the debug exit).
    func testProtectedModeGuestAtEveryBudget() throws {
        try compare("protected-mode", budgets: Array(1...600))
    }

    /// The BIOS-services guest halts for timer interrupts (halts cut slices, time is
    /// skipped) and calls the BIOS through traps: 10879 instructions to its debug exit.
    func testHaltingGuestAcrossSlices() throws {
        try compare("bios-services", budgets: Array(stride(from: 1, through: 11_000, by: 97)) + [50_000_000])
    }

    /// 32-bit code runs as compiled blocks when sliced and through the interpreter when
    /// stepped: the two must agree at every budget through the blocks guest (3771
    /// instructions: every specialized form, branches, calls, loops within one block, code
    /// rewriting its own block, A20 changes that drop the running block).
    func testCompiledBlocksAgreeWithTheInterpreter() throws {
        try compare("blocks", budgets: Array(1...200) + Array(stride(from: 201, through: 3850, by: 7))
                        + Array(2600...3771) + [50_000_000])
    }

    /// Blocks with host code (x86-64 hosts) against the interpreter: the host-code guest
    /// (28748 instructions) has every form it compiles at the start of a block, carry
    /// chains, conditional jumps on each kind of flag record, and stores the host code
    /// leaves to the runner (into code, the ROM, a 16-bit stack); its blocks run as
    /// micro-ops for 4 passes, then as host code.
    func testHostCodeAgreesWithTheInterpreter() throws {
        try compare("host-code", budgets: Array(stride(from: 1, through: 28_750, by: 29)) + [50_000_000])
    }

    /// The same two guests with host code off: the micro-ops that host code usually runs
    /// must stay exact for hosts without it.
    func testCompiledBlocksWithoutHostCodeAgreeWithTheInterpreter() throws {
        try compare("blocks", budgets: Array(stride(from: 1, through: 3800, by: 5)) + [50_000_000], hostCode: false)
        try compare("host-code", budgets: Array(stride(from: 1, through: 28_750, by: 83)) + [50_000_000], hostCode: false)
    }

    /// The host-code guest's checksum of results and defined flags is QEMU's.
    func testHostCodeComputesWhatQEMUComputes() throws {
        try expectChecksum("host-code", "ABED5288")
    }

    /// The blocks guest checks its own results and prints a checksum of its registers on
    /// the debug console; qemu-system-x86_64 prints the same one.
    func testCompiledBlocksComputeWhatQEMUComputes() throws {
        try expectChecksum("blocks", "6B3A787D")
    }

    /// img boot and qemu-system-x86_64 both print `checksum` for the guest `name`.
    private func expectChecksum(_ name: String, _ checksum: String) throws {
        let dir = try Tools.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let image = dir.appendingPathComponent("\(name).raw")
        try Tools.rawImage(try Tools.assemble(name, into: dir), size: 1 << 20, at: image)
        let r = try Tools.boot(["-f", "raw", "--expect", checksum, image.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let q = try QEMUReference.boot(image: image, floppy: false, marker: checksum, in: dir)
        XCTAssertTrue(q.found, "QEMU printed \(q.serial)")
    }
}
