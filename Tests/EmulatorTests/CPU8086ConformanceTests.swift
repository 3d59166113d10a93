import Emulator
import Foundation
import XCTest

/// Runs the SingleStepTests 8086 suite (one instruction per test) against the 8086 model.
final class CPU8086ConformanceTests: XCTestCase {
    private let regNames = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"]
    private let segNames = ["es", "cs", "ss", "ds"]

    func testSingleStepSuite() throws {
        let dir = TestPaths.suite8086
        let metaData = try Data(contentsOf: dir.appendingPathComponent("metadata.json"))
        let meta = try XCTUnwrap((try JSONSerialization.jsonObject(with: metaData) as? [String: Any])?["opcodes"] as? [String: Any])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".json.gz") }.sorted()
        XCTAssertGreaterThan(files.count, 300, "8086 suite not found at \(dir.path)")

        let memory = Memory(size: 1 << 20)
        memory.a20Mask = 0xFFFFF
        let cpu = CPU(model: .i8086, memory: memory, io: IOBus())
        var total = 0, passed = 0
        var failures: [(String, Int)] = []
        var firstFailure: [String: String] = [:]

        for file in files {
            let name = String(file.dropLast(".json.gz".count))
            let mask = flagsMask(meta, name)
            let json = try gunzip(try Data(contentsOf: dir.appendingPathComponent(file)))
            let tests = try XCTUnwrap(try JSONSerialization.jsonObject(with: json) as? [[String: Any]])
            var filePassed = 0
            for t in tests {
                total += 1
                if let problem = run(cpu, memory, t, mask) {
                    // SST_DETAIL=F6.7 (an opcode file) lists every failure of that file.
                    if ProcessInfo.processInfo.environment["SST_DETAIL"] == name { print("  \(t["name"] ?? "?"): \(problem)") }
                    if firstFailure[name] == nil { firstFailure[name] = "\(t["name"] ?? "?"): \(problem)" }
                } else {
                    filePassed += 1
                }
            }
            passed += filePassed
            if filePassed < tests.count { failures.append((name, tests.count - filePassed)) }
            XCTAssertGreaterThan(filePassed, 0, "opcode \(name) never passes")
        }
        let rate = Double(passed) / Double(max(total, 1)) * 100
        print("8086 suite: \(passed)/\(total) passed (\(String(format: "%.2f", rate))%) over \(files.count) opcode files")
        for (name, count) in failures {
            print("  \(name): \(count) failing, e.g. \(firstFailure[name] ?? "")")
        }
        XCTAssertGreaterThanOrEqual(rate, 99.5)
    }

    private func flagsMask(_ meta: [String: Any], _ name: String) -> UInt32 {
        let parts = name.split(separator: ".")
        guard let op = meta[String(parts[0])] as? [String: Any] else { return 0xFFFF }
        if parts.count > 1, let regs = op["reg"] as? [String: Any], let r = regs[String(parts[1])] as? [String: Any] {
            return UInt32(r["flags-mask"] as? Int ?? 0xFFFF)
        }
        return UInt32(op["flags-mask"] as? Int ?? 0xFFFF)
    }

    /// Executes one test; returns a description of the first mismatch or nil.
    private func run(_ cpu: CPU, _ memory: Memory, _ t: [String: Any], _ mask: UInt32) -> String? {
        guard let initial = t["initial"] as? [String: Any], let final = t["final"] as? [String: Any],
              let iregs = initial["regs"] as? [String: Int], let fregs = final["regs"] as? [String: Int] else { return "bad test" }
        for (i, n) in regNames.enumerated() { cpu.setReg32(i, UInt32(iregs[n]!)) }
        for (i, n) in segNames.enumerated() { cpu.setSegmentReal(i, UInt16(iregs[n]!)) }
        cpu.ip = UInt16(iregs["ip"]!)
        cpu.flags = UInt32(iregs["flags"]!)
        cpu.halted = false
        for pair in initial["ram"] as? [[Int]] ?? [] { memory.write8(UInt32(pair[0]), UInt8(pair[1])) }
        cpu.step()

        var expect = iregs
        for (k, v) in fregs { expect[k] = v }
        for (i, n) in regNames.enumerated() where Int(cpu.reg16(i)) != expect[n]! {
            return "\(n)=\(hex(Int(cpu.reg16(i)))) expected \(hex(expect[n]!))"
        }
        for (i, n) in segNames.enumerated() where Int(cpu.segment(i)) != expect[n]! {
            return "\(n)=\(hex(Int(cpu.segment(i)))) expected \(hex(expect[n]!))"
        }
        if Int(cpu.ip) != expect["ip"]! { return "ip=\(hex(Int(cpu.ip))) expected \(hex(expect["ip"]!))" }
        if cpu.flags & mask != UInt32(expect["flags"]!) & mask {
            return "flags=\(hex(Int(cpu.flags))) expected \(hex(expect["flags"]!)) mask \(hex(Int(mask)))"
        }
        for pair in final["ram"] as? [[Int]] ?? [] where Int(memory.read8(UInt32(pair[0]))) != pair[1] {
            return "ram[\(hex(pair[0]))]=\(hex(Int(memory.read8(UInt32(pair[0]))))) expected \(hex(pair[1]))"
        }
        return nil
    }

    private func hex(_ v: Int) -> String { String(v, radix: 16) }
}
