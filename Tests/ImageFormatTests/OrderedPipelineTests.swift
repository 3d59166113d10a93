import XCTest
@testable import ImageFormat
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline hands results over in job order by default, and as they finish with
/// inOrder: false (convert -W): a slow first job then no longer comes first.
final class OrderedPipelineTests: XCTestCase {
    /// Job 0 takes 300 ms, the others none; returns the order the consumer saw.
    func consumedOrder(inOrder: Bool) throws -> [Int] {
        var jobs = Array(0..<8)[...]
        var seen: [Int] = []
        try OrderedPipeline<Int, Int>().run(
            workers: 2, window: 8,
            makeWorker: { { job in
                if job == 0 { usleep(300_000) }
                return job
            } },
            next: { jobs.popFirst() },
            consume: { seen.append($0) },
            interrupted: { nil },
            inOrder: inOrder)
        return seen
    }

    func testResultsComeInJobOrderByDefault() throws {
        XCTAssertEqual(try consumedOrder(inOrder: true), Array(0..<8))
    }

    func testOutOfOrderHandsOverFinishedJobsFirst() throws {
        let order = try consumedOrder(inOrder: false)
        XCTAssertEqual(order.sorted(), Array(0..<8), "every job once")
        XCTAssertNotEqual(order.first, 0, "the slow job held back the others: \(order)")
    }
}
