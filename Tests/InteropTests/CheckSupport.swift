import Foundation
import XCTest

/// Builds damaged images and runs `img check` and `qemu-img check` on identical copies.
struct CheckScenario {
    let dir: TempDir
    let image: String

    init(_ name: String, createArgs: [String], size: String = "64M", io: [String] = []) throws {
        dir = try TempDir()
        image = dir.file(name)
        try Tool.must("img", ["create", "-q", "-f", "qcow2"] + createArgs + [image, size])
        if !io.isEmpty { try Tool.must("img", ["io"] + io.flatMap { ["-c", $0] } + [image]) }
    }

    /// Overwrites bytes of the image file at `offset` (big-endian integers or raw bytes).
    func poke(_ offset: UInt64, _ bytes: [UInt8]) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: image))
        try h.seek(toOffset: offset)
        h.write(Data(bytes))
        try h.close()
    }
    func poke64(_ offset: UInt64, _ v: UInt64) throws { try poke(offset, (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) }) }
    func poke32(_ offset: UInt64, _ v: UInt32) throws { try poke(offset, (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) }) }
    func poke16(_ offset: UInt64, _ v: UInt16) throws { try poke(offset, [UInt8(v >> 8), UInt8(v & 0xFF)]) }

    func headerField64(_ offset: Int) -> UInt64 {
        let d = fileBytes(image)
        return (0..<8).reduce(0) { ($0 << 8) | UInt64(d[offset + $1]) }
    }

    func copy(_ suffix: String) throws -> String {
        let path = image + "." + suffix
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: image, toPath: path)
        return path
    }

    /// Normalized combined output: program prefix and file name made comparable.
    static func normalize(_ r: Tool.Result, path: String) -> String {
        (r.stderr + r.stdout).replacingOccurrences(of: path, with: "FILE")
            .replacingOccurrences(of: "qemu-img: ", with: "PROG: ").replacingOccurrences(of: "img: ", with: "PROG: ")
    }

    /// Runs both checkers with the same arguments on two copies; asserts the same exit code
    /// and (when `sameText`) the same messages. Returns img's exit status.
    @discardableResult
    func compare(_ args: [String] = [], sameText: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> Int32 {
        let mine = try copy("img"), theirs = try copy("qemu")
        let q = try Tool.run("qemu-img", ["check"] + args + [theirs])
        let i = try Tool.img(["check"] + args + [mine])
        XCTAssertEqual(i.status, q.status, "exit codes differ for check \(args)\nimg:\n\(i.stderr)\(i.stdout)\nqemu-img:\n\(q.stderr)\(q.stdout)", file: file, line: line)
        if sameText {
            XCTAssertEqual(Self.normalize(i, path: mine), Self.normalize(q, path: theirs), "outputs differ for check \(args)", file: file, line: line)
        }
        return i.status
    }

    /// Guest contents as raw bytes (nil when qemu-img cannot read the image).
    func guestBytes(_ path: String) throws -> Data? {
        let raw = path + ".raw"
        let r = try Tool.run("qemu-img", ["convert", "-U", "-O", "raw", path, raw])
        defer { try? FileManager.default.removeItem(atPath: raw) }
        return r.status == 0 ? fileBytes(raw) : nil
    }

    /// img check -r all on the image itself; then both checkers must call it clean and every
    /// guest byte readable before must read the same.
    func repairAndVerify(expectClean: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = try guestBytes(image)
        let r = try Tool.img(["check", "-r", "all", image])
        if expectClean {
            XCTAssertEqual(r.status, 0, "img check -r all: \(r.stderr)\(r.stdout)", file: file, line: line)
            try Tool.must("qemu-img", ["check", image], file: file, line: line)
            try Tool.must("img", ["check", image], file: file, line: line)
            let info = try Tool.must("qemu-img", ["info", "--output=json", image], file: file, line: line)
            XCTAssertTrue(info.stdout.contains("\"dirty-flag\": false"), file: file, line: line)
            XCTAssertFalse(info.stdout.contains("\"corrupt\": true"), file: file, line: line)
        }
        if let before {
            let after = try guestBytes(image)
            XCTAssertEqual(after, before, "guest data changed by the repair", file: file, line: line)
        }
    }
}
