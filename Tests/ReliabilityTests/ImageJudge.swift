import Foundation
import ImageFormat

/// Judges one image file after a crash or a fault. The consistency check is this one
/// function so it can switch from qemu-img's check to img's own once that lands.
enum ImageJudge {
    struct Verdict {
        var ok: Bool
        var detail: String
    }

    /// `qemu-img check`: exit 0 (clean) or 3 (leaks only) passes; 2 (corruption) or 1 (the
    /// check could not finish) fails. Lazy-refcounts images are repaired first, as QEMU
    /// does on a read-write open, and must then check clean.
    static func check(_ path: String, lazyRefcounts: Bool) throws -> Verdict {
        if lazyRefcounts {
            let repair = try Proc.run("qemu-img", ["check", "-q", "-r", "all", "-f", "qcow2", path])
            guard repair.status == 0 || repair.status == 3 else {
                return Verdict(ok: false, detail: "qemu-img check -r all exited \(repair.status): \(repair.output)")
            }
            let again = try Proc.run("qemu-img", ["check", "-f", "qcow2", path])
            return Verdict(ok: again.status == 0, detail: "after repair, qemu-img check exited \(again.status): \(again.output)")
        }
        let r = try Proc.run("qemu-img", ["check", "-f", "qcow2", path])
        return Verdict(ok: r.status == 0 || r.status == 3, detail: "qemu-img check exited \(r.status): \(r.output)")
    }

    /// The guest disk as img reads it, opened read-only with its backing chain.
    static func readGuest(_ path: String) throws -> [UInt8] {
        let image = try openImage(path: path, format: "qcow2", writable: false, forceShare: false)
        defer { try? image.close() }
        return try image.read(count: Int(image.virtualSize), at: 0)
    }

    /// A later read-write open works and closes cleanly.
    static func reopenWritable(_ path: String) throws {
        let image = try openImage(path: path, format: "qcow2", writable: true, forceShare: false)
        try image.close()
    }
}

/// Runs a program to completion, capturing its combined output.
enum Proc {
    struct Result { var status: Int32; var output: String }

    static func run(_ program: String, _ args: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

/// A fresh temporary directory, removed afterwards.
final class ScratchDir {
    let path: String
    init(_ label: String) throws {
        path = NSTemporaryDirectory() + "img-reliability-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Reads and writes whole files as byte arrays.
enum Files {
    static func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
