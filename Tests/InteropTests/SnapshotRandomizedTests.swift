import Foundation
import XCTest
import ImageFormat

/// A fixed-seed random sequence of lifecycle operations (writes, snapshots, resizes, amends)
/// checked after every step against an in-memory model of what the guest must read and
/// against qemu-img check. The sequences that found bugs while this code was written (a
/// shrink right after a snapshot, compressed packing at narrow widths) are of this kind.
final class SnapshotRandomizedTests: XCTestCase {
    /// Deterministic generator (SplitMix64), so a failure reproduces from its seed.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func testRandomSequences() throws {
        try Tool.requireQemu()
        for (seed, clusterSize) in [(UInt64(1), 65536), (2, 4096), (3, 512)] {
            try runSequence(seed: seed, clusterSize: clusterSize, steps: 30)
        }
    }

    private func runSequence(seed: UInt64, clusterSize: Int, steps: Int) throws {
        let dir = try TempDir()
        let img = dir.file("r.qcow2")
        var rng = Rng(state: seed)
        var model = [UInt8](repeating: 0, count: 2 << 20)
        var snaps: [String: [UInt8]] = [:]
        var made = 0
        try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=\(clusterSize)", img, "\(model.count)"])
        for step in 0..<steps {
            let context = "seed \(seed) step \(step)"
            switch rng.below(9) {
            case 0, 1, 2:
                let offset = rng.below(model.count / 512) * 512
                let length = min([512, 4096, 65536, 200_704][rng.below(4)], model.count - offset)
                let pattern = UInt8(1 + rng.below(250))
                if rng.below(4) == 0 {
                    try Life.io(img, ["write -z \(offset) \(length)"])
                    model.replaceSubrange(offset..<(offset + length), with: [UInt8](repeating: 0, count: length))
                } else {
                    try Life.io(img, ["write -P \(pattern) \(offset) \(length)"])
                    model.replaceSubrange(offset..<(offset + length), with: [UInt8](repeating: pattern, count: length))
                }
            case 3:
                made += 1
                try Tool.must("img", ["snapshot", "-c", "s\(made)", img])
                snaps["s\(made)"] = model
            case 4:
                guard let name = snaps.keys.sorted().randomElement(using: &rng) else { continue }
                try Tool.must("img", ["snapshot", "-a", name, img])
                model = snaps[name]!
            case 5:
                guard let name = snaps.keys.sorted().randomElement(using: &rng) else { continue }
                try Tool.must("img", ["snapshot", "-d", name, img])
                snaps[name] = nil
            case 6:
                let add = [512, 65536, 1 << 20][rng.below(3)]
                try Tool.must("img", ["resize", "-q", img, "+\(add)"])
                model += [UInt8](repeating: 0, count: add)
            case 7:
                let size = (1 + rng.below(model.count / 512 - 1)) * 512
                try Tool.must("img", ["resize", "-q", "--shrink", img, "\(size)"])
                model.removeLast(model.count - size)
            default:
                let bits = [2, 4, 8, 16, 64][rng.below(5)]
                let r = try Tool.img(["amend", "-o", "refcount_bits=\(bits)", img])
                XCTAssertTrue(r.status == 0 || r.stderr.contains("Cannot decrease refcount entry width"), "\(context): \(r.stderr)")
            }
            try Life.qemuCheck(img)
            XCTAssertTrue(try Life.guest(img) == model, "\(context): guest data differs from the model")
        }
        try Life.assertGuest(img, equals: model, in: dir, "seed \(seed) final")
    }
}

extension SnapshotRandomizedTests.Rng: RandomNumberGenerator {}
