import Foundation
import XCTest

/// Counts the reliability tests print at the end of the test run (crash points, crash
/// states, fault points, bad inputs), one line per workload and a total.
final class RunSummary: NSObject, XCTestObservation {
    nonisolated(unsafe) static let shared = RunSummary()
    nonisolated(unsafe) private static var registered = false

    private var lines: [String] = []
    private var totals: [String: Int] = [:]

    static func register() {
        guard !registered else { return }
        registered = true
        XCTestObservationCenter.shared.addTestObserver(shared)
    }

    func record(_ line: String, counts: [String: Int]) {
        print(line)
        lines.append(line)
        for (k, v) in counts { totals[k, default: 0] += v }
    }

    func testBundleDidFinish(_ testBundle: Bundle) {
        guard !lines.isEmpty else { return }
        print("=== reliability summary (\(SweepMode.long ? "long" : "CI") mode) ===")
        for line in lines { print("  " + line) }
        for key in totals.keys.sorted() { print("  total \(key): \(totals[key]!)") }
    }
}
