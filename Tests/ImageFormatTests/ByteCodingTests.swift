import XCTest
@testable import ImageFormat

final class ByteCodingTests: XCTestCase {
    func testBigEndianRoundTrip() {
        var b = [UInt8](repeating: 0, count: 16)
        b.setBE(UInt64(0x0102030405060708), at: 4)
        XCTAssertEqual(b[4], 1)
        XCTAssertEqual(b[11], 8)
        XCTAssertEqual(b.be(UInt64.self, at: 4), 0x0102030405060708)
        XCTAssertEqual(b.be(UInt32.self, at: 4), 0x01020304)
        XCTAssertNil(b.be(UInt64.self, at: 9), "a short read returns nil, never traps")
        XCTAssertNil(b.be(UInt16.self, at: -1))
    }

    func testCheckedArithmetic() {
        XCTAssertNil(checkedAdd(UInt64.max, 1))
        XCTAssertNil(checkedMul(UInt64.max / 2, 3))
        XCTAssertEqual(checkedAdd(1, 2), 3)
        XCTAssertEqual(alignUp(513, 512), 1024)
    }
}
