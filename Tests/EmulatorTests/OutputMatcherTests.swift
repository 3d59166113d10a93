import Emulator
import Foundation
import XCTest

/// The incremental search behind --expect and --expect-regex.
final class OutputMatcherTests: XCTestCase {
    func testTextSplitAcrossChecksIsFound() {
        let m = OutputMatcher(expect: "Welcome", expectRegex: nil)
        var stream = Array("...Wel".utf8)
        XCTAssertNil(m.check(stream, id: 0))
        stream += Array("come!".utf8)
        XCTAssertEqual(m.check(stream, id: 0), "Welcome")
    }

    func testStreamsAreSearchedSeparately() {
        let m = OutputMatcher(expect: "AB", expectRegex: nil)
        XCTAssertNil(m.check(Array("A".utf8), id: 0))
        XCTAssertNil(m.check(Array("B".utf8), id: 1), "text must not be glued across streams")
    }

    func testRegexAndScreenSnapshot() throws {
        let m = OutputMatcher(expect: nil, expectRegex: try Regex("SYSLINUX [0-9]+\\.[0-9]+"))
        XCTAssertNil(m.check(snapshot: "boot:"))
        XCTAssertEqual(m.check(snapshot: "x\nSYSLINUX 6.04 EDD"), "SYSLINUX 6.04")
        XCTAssertFalse(OutputMatcher(expect: nil, expectRegex: nil).isActive)
    }
}
