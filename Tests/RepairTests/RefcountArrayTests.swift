import XCTest
@testable import Repair

final class RefcountArrayTests: XCTestCase {
    func testSaturatesAtWidthAndSpillsLargeCounts() {
        let narrow = RefcountArray(count: 10, maxValue: 3)
        XCTAssertTrue(narrow.increment(4)); XCTAssertTrue(narrow.increment(4)); XCTAssertTrue(narrow.increment(4))
        XCTAssertFalse(narrow.increment(4))
        XCTAssertEqual(narrow[4], 3)
        XCTAssertEqual(narrow[5], 0)

        let wide = RefcountArray(count: 200_000, maxValue: UInt64.max)
        for _ in 0..<70_000 { XCTAssertTrue(wide.increment(150_000)) }
        XCTAssertEqual(wide[150_000], 70_000)
        XCTAssertFalse(wide.chunkTouched(10))
        wide.set(150_000, 2)
        XCTAssertEqual(wide[150_000], 2)
        wide.grow(to: 300_000)
        XCTAssertTrue(wide.increment(299_999))
        XCTAssertEqual(wide[299_999], 1)
    }
}

final class RefcountArrayWideningTests: XCTestCase {
    func testNibbleChunkWidensKeepingNeighbours() {
        let a = RefcountArray(count: 100, maxValue: 1 << 20)
        for i in 0..<100 { for _ in 0..<(i % 14) { XCTAssertTrue(a.increment(UInt64(i))) } }
        for _ in 0..<20 { XCTAssertTrue(a.increment(7)) }
        for i in 0..<100 where i != 7 { XCTAssertEqual(a[UInt64(i)], UInt64(i % 14), "cluster \(i)") }
        XCTAssertEqual(a[7], 27)
        a.set(8, 0)
        XCTAssertEqual(a[8], 0)
        XCTAssertEqual(a[9], 9)
    }
}
