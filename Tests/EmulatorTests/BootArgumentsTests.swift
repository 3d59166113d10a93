import Foundation
import XCTest

/// `img boot` reads common command lines without ArgumentParser and hands everything else
/// to it: both routes must behave the same, with the messages of the full command tree.
final class BootArgumentsTests: XCTestCase {
    private var dir: URL!
    private var image: URL!

    override func setUpWithError() throws {
        dir = try Tools.makeTempDir()
        image = dir.appendingPathComponent("spin.raw")
        try Tools.rawImage(try Tools.assemble("guest-failures", into: dir, defines: ["CASE=2"]), size: 65536, at: image)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    func testFastAndFullRoutesGiveTheSameResults() throws {
        // Each pair: a form the fast reader takes, and one only ArgumentParser takes.
        let pairs: [([String], [String])] = [
            (["--max-instructions", "5000", "--memory", "8", "-U"], ["--max-instructions=5000", "--memory=8", "-U"]),
            (["--expect", "NEVER", "--max-instructions", "5000"], ["--expect=NEVER", "--max-instructions", "5000"]),
            (["--timeout", "5", "--max-instructions", "100", "--screen"], ["--timeout=5", "--max-instructions=100", "--screen"]),
        ]
        for (fast, full) in pairs {
            let a = try Tools.boot(fast + [image.path]), b = try Tools.boot(full + [image.path])
            XCTAssertEqual(a.status, 1, "\(fast): \(a.stderr)")
            XCTAssertEqual(a.status, b.status, "\(fast) against \(full)")
            XCTAssertEqual(a.stdout, b.stdout, "\(fast) against \(full)")
            XCTAssertEqual(a.stderr, b.stderr, "\(fast) against \(full)")
        }
    }

    func testErrorsKeepTheFullTreeMessages() throws {
        // A validation error from the run itself (bad regular expression).
        let regex = try Tools.boot(["--expect-regex", "(", image.path])
        XCTAssertEqual(regex.status, 64)
        XCTAssertTrue(regex.stderr.contains("bad --expect-regex"), regex.stderr)
        XCTAssertTrue(regex.stderr.contains("Usage: img "), regex.stderr)
        // Rejected by validate(): the fast reader falls back to the parser's message.
        let memory = try Tools.boot(["--memory", "1", image.path])
        XCTAssertEqual(memory.status, 64)
        XCTAssertTrue(memory.stderr.contains("--memory must be between 2 and 3072 MiB"), memory.stderr)
        XCTAssertTrue(memory.stderr.contains("Usage: img boot"), memory.stderr)
        // Repeated and unknown options.
        XCTAssertEqual(try Tools.boot(["--bogus", image.path]).status, 64)
        XCTAssertEqual(try Tools.boot([image.path, image.path]).status, 64)
    }
}
