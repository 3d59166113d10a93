import Foundation
import XCTest

/// Random damage to metadata never makes img check trap or hang, check without -r never
/// changes the file, and -r all always ends with a status qemu-img could also give.
final class CheckFuzzTests: XCTestCase {
    func testRandomMetadataDamage() throws {
        try Tool.requireQemu()
        let s = try CheckScenario("fuzz.qcow2", createArgs: [], size: "16M",
                                  io: ["write -P 1 0 256k", "write -c -P 2 1M 64k"])
        try Tool.must("qemu-img", ["snapshot", "-c", "s1", s.image])
        try Tool.must("img", ["io", "-c", "write -P 3 64k 64k", s.image])
        let pristine = fileBytes(s.image)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        let regions: [(Int, Int)] = [(0, 512), (0x10000, 64), (0x20000, 64), (0x30000, 16), (0x40000, 256), (0, pristine.count)]
        for round in 0..<20 {
            var damaged = pristine
            for _ in 0..<(1 + next(6)) {
                let (base, len) = regions[next(regions.count)]
                damaged[base + next(len)] = UInt8(next(256))
            }
            try damaged.write(to: URL(fileURLWithPath: s.image))
            let r = try Tool.img(["check", s.image])
            XCTAssertTrue([0, 1, 2, 3, 63].contains(r.status), "round \(round): check exited \(r.status)\n\(r.stderr.suffix(2000))")
            XCTAssertEqual(fileBytes(s.image), damaged, "round \(round): check without -r wrote to the file")
            let fix = try Tool.img(["check", "-r", "all", s.image])
            XCTAssertTrue([0, 1, 2, 3, 63].contains(fix.status), "round \(round): -r all exited \(fix.status)\n\(fix.stderr.suffix(2000))")
        }
    }
}
