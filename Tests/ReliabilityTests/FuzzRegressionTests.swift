import Foundation
import XCTest

/// Replays the fuzz seeds and every minimized finding in testdata/fuzz-regressions through
/// every fuzz target's body (Fuzz/FuzzBodies.swift, linked here: open + info, open + read
/// all, check, check -r all, boot): none may crash or hang, and the targets that only read
/// never change the file.
final class FuzzRegressionTests: XCTestCase {
    override class func setUp() { RunSummary.register() }

    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("testdata")

    func inputs(_ folder: String) throws -> [String] {
        let dir = Self.testdata.appendingPathComponent(folder).path
        return try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { !$0.hasPrefix(".") && $0 != "README" }.sorted().map { dir + "/" + $0 }
    }

    func testSeedsAndRegressions() throws {
        let seeds = try inputs("fuzz-seeds"), regressions = try inputs("fuzz-regressions")
        XCTAssertGreaterThan(seeds.count, 10, "the seed corpus is missing")
        let scratch = try ScratchDir("fuzz-replay")
        for input in seeds + regressions {
            // A copy: the bodies open the file, and an input must never be changed by reading.
            let path = scratch.file("input")
            let before = try Files.read(input)
            try Files.write(before, to: path)
            if seeds.contains(input) {
                let device = FuzzBodies.openDevice(path)
                XCTAssertNotNil(device, "seed \(input) does not open: the targets would fuzz only the error path")
                try device?.close()
            }
            // Every target's body; each must finish well within the fuzzer's 10 s per input.
            let readers: [(String, (String) -> Void)] = [
                ("open+info", FuzzBodies.openInfo), ("open+read", FuzzBodies.openReadAll),
                ("check", FuzzBodies.check), ("boot", FuzzBodies.boot),
            ]
            for (name, body) in readers {
                let start = Date()
                body(path)
                let seconds = Date().timeIntervalSince(start)
                XCTAssertLessThan(seconds, 10, "\(name) of \(input) took \(seconds) s (a hang the fuzzer would report)")
                XCTAssertEqual(try Files.read(path), before, "\(input) changed during \(name), which only reads")
            }
            // check -r all writes: on its own copy.
            let start = Date()
            FuzzBodies.repairAll(path: path)
            let seconds = Date().timeIntervalSince(start)
            XCTAssertLessThan(seconds, 10, "check -r all of \(input) took \(seconds) s (a hang the fuzzer would report)")
        }
        RunSummary.shared.record("fuzz replay: \(seeds.count) seeds and \(regressions.count) regression inputs through 5 targets, no crash or hang",
                                 counts: ["fuzz inputs replayed": seeds.count + regressions.count])
    }
}
