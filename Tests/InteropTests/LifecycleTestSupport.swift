import Foundation
import XCTest
import ImageFormat

/// Shared steps of the lifecycle tests (snapshot, resize, amend, commit, rebase): every
/// result goes through `qemu-img check`, and guest bytes are read both through img's
/// format layer and through qemu-img.
enum Life {
    /// Runs `img io` with the given qemu-io style commands.
    static func io(_ path: String, _ commands: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        try Tool.must("img", ["io"] + commands.flatMap { ["-c", $0] } + [path], file: file, line: line)
    }

    /// qemu-img check must call the image clean (exit 0, no leaks, no errors), and so must
    /// img check once the repair engine is part of the build.
    static func qemuCheck(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try Tool.must("qemu-img", ["check", path], file: file, line: line)
        XCTAssertTrue(r.stdout.contains("No errors were found on the image."), r.stdout, file: file, line: line)
        try imgCheckIfPresent(path, file: file, line: line)
    }

    /// `img check` as well, once the repair engine's subcommand is part of the build.
    static func imgCheckIfPresent(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard try imgHasCheck() else { return }
        try Tool.must("img", ["check", path], file: file, line: line)
    }

    static func imgHasCheck() throws -> Bool {
        try Tool.img(["--help"]).stdout.split(separator: "\n").contains { $0.hasPrefix("  check ") }
    }

    /// The guest-visible bytes, read through img's format layer (with the backing chain).
    static func guest(_ path: String) throws -> [UInt8] {
        let device = try openImage(path: path, format: nil, writable: false, forceShare: true)
        defer { try? device.close() }
        return try device.read(count: Int(device.virtualSize), at: 0)
    }

    /// The guest-visible bytes as qemu-img reads them.
    static func qemuGuest(_ path: String, in dir: TempDir) throws -> [UInt8] {
        let out = dir.file("qemu-view-\(UUID().uuidString).raw")
        try Tool.must("qemu-img", ["convert", "-O", "raw", path, out])
        defer { try? FileManager.default.removeItem(atPath: out) }
        return [UInt8](fileBytes(out))
    }

    /// Both readers agree, and agree with `expected`.
    static func assertGuest(_ path: String, equals expected: [UInt8], in dir: TempDir, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let mine = try guest(path)
        XCTAssertTrue(mine == expected, "\(what): img reads different guest data", file: file, line: line)
        XCTAssertTrue(try qemuGuest(path, in: dir) == expected, "\(what): qemu-img reads different guest data",
                      file: file, line: line)
    }

    static func info(_ path: String) throws -> String { try Tool.must("qemu-img", ["info", "-U", path]).stdout }

    /// The snapshot table as img's format layer parses it.
    static func snapshots(_ path: String) throws -> [Qcow2Snapshot] { try withQcow2(path) { $0.snapshots } }

    static func activeL1Size(_ path: String) throws -> UInt32 { try withQcow2(path) { $0.header.l1Size } }

    /// Looks at one qcow2 file read-only, without its backing chain.
    static func withQcow2<T>(_ path: String, _ body: (Qcow2Image) throws -> T) throws -> T {
        var options = Qcow2OpenOptions()
        options.forceShare = true
        options.openBacking = false
        let image = try Qcow2Image.open(path: path, options: options)
        defer { try? image.close() }
        return try body(image)
    }

    /// Saves a real VM-state snapshot with QEMU itself (paused machine, savevm).
    static func qemuSaveVM(_ path: String, name: String) throws {
        _ = try qemuMonitor(path, "savevm \(name)")
    }

    /// Runs one monitor command against a paused machine with the image as its disk;
    /// returns what the monitor printed.
    static func qemuMonitor(_ path: String, _ command: String) throws -> String {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString)").path
        try "\(command)\nquit\n".write(toFile: script, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: script) }
        let r = try Tool.run("sh", ["-c", "qemu-system-x86_64 -nodefaults -display none -machine pc,accel=tcg -m 16 -S "
            + "-drive file='\(path)',if=ide,format=qcow2 -monitor stdio < '\(script)'"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout + r.stderr
    }
}
