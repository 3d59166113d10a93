import Foundation
import XCTest

/// Persistent bitmaps in img info (human, JSON) and img io's info, as qemu-img lists them;
/// a hostile bitmap directory is an error naming the file and the structure, never a crash,
/// and leaves the file unchanged.
final class BitmapInfoTests: XCTestCase {
    func makeImage(_ dir: TempDir) throws -> String {
        let path = dir.file("bitmaps.qcow2")
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", path, "1G"])
        try Tool.must("qemu-img", ["bitmap", "--add", path, "b0"])
        try Tool.must("qemu-img", ["bitmap", "--add", "-g", "512", path, "a-longer-bitmap-name"])
        try Tool.must("qemu-img", ["bitmap", "--add", "--disable", path, "disabled"])
        return path
    }

    func testInfoListsBitmapsAsQemuImgDoes() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = try makeImage(dir)
        try Agreement.sameAsQemuImg("info", [path])
        try Agreement.sameAsQemuImg("info", ["--output", "json", path])
        let q = try Tool.must("qemu-io", ["-r", "-c", "info", path])
        let m = try Tool.must("img", ["io", "-r", "-c", "info", path])
        XCTAssertEqual(m.stdout, q.stdout)
    }

    /// Byte offset of the bitmaps header extension's data (nb_bitmaps, reserved,
    /// directory size, directory offset).
    static func extensionData(_ d: Data) -> Int? {
        var off = 112
        while off + 8 <= 65536 {
            let type = OverlapCheckTests.be64(d, off) >> 32, length = Int(OverlapCheckTests.be64(d, off) & 0xFFFF_FFFF)
            if type == 0 { return nil }
            if type == 0x2385_2875 { return off + 8 }
            off += 8 + (length + 7) / 8 * 8
        }
        return nil
    }

    func testHostileBitmapDirectoryIsAClearError() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let pristine = fileBytes(try makeImage(dir))
        guard let ext = Self.extensionData(pristine) else { return XCTFail("no bitmaps extension") }
        let directory = Int(OverlapCheckTests.be64(pristine, ext + 16))
        let damages: [(String, (inout Data) -> Void)] = [
            ("granularity 40", { $0[directory + 17] = 40 }),
            ("name size past the directory", { $0[directory + 18] = 0xFF; $0[directory + 19] = 0xFF }),
            ("extra data past the directory", { $0[directory + 20] = 0x7F }),
            ("70000 bitmaps", { d in d[ext] = 0; d[ext + 1] = 1; d[ext + 2] = 0x11; d[ext + 3] = 0x70 }),
            ("directory size 2^40", { $0[ext + 11] = 1 }),
            ("directory past the end of the file", { $0[ext + 18] = 0x10 }),
        ]
        for (name, damage) in damages {
            let path = dir.file("damaged.qcow2")
            var bytes = pristine
            damage(&bytes)
            try bytes.write(to: URL(fileURLWithPath: path))
            for args in [["info", path], ["measure", "-O", "qcow2", path]] {
                let r = try Tool.img(args)
                XCTAssertEqual(r.status, 1, "\(name): \(args) \(r.stdout)\(r.stderr)")
                XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains("bitmap"), "\(name): \(r.stderr)")
            }
            XCTAssertTrue(fileBytes(path) == bytes, "\(name): the file changed")
        }
    }
}
