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
    /// check could not finish) fails. With `repairFirst` (lazy-refcounts images, which QEMU
    /// repairs on a read-write open; crashes during a repair) the state is repaired first
    /// and must then check clean.
    static func check(_ path: String, repairFirst: Bool) throws -> Verdict {
        if repairFirst {
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
        return try readAll(image)
    }

    /// Every guest byte. Ranges block status calls zero are not read (they are filled with
    /// zeroes), which keeps debug-build sweeps fast and holds block status to the data.
    static func readAll(_ image: BlockDevice) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Int(image.virtualSize))
        for extent in try image.blockStatus(at: 0, length: image.virtualSize) where extent.present && !extent.zero {
            try bytes.withUnsafeMutableBytes { buf in
                let range = Int(extent.start)..<Int(extent.start + extent.length)
                try image.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[range]), at: extent.start)
            }
        }
        return bytes
    }

    /// A later read-write open works and closes cleanly.
    static func reopenWritable(_ path: String) throws {
        let image = try openImage(path: path, format: "qcow2", writable: true, forceShare: false)
        try image.close()
    }
}

/// Runs a program to completion, capturing its combined output. posix_spawn directly:
/// a sweep runs thousands of short checks and Foundation's Process costs ~40 ms each.
enum Proc {
    struct Result { var status: Int32; var output: String }

    static func run(_ program: String, _ args: [String]) throws -> Result {
        let outPath = NSTemporaryDirectory() + "img-proc-\(getpid())-\(UUID().uuidString).out"
        defer { unlink(outPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([program] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, nil, argv, environ)
        guard rc == 0 else { throw ImageError.io(path: program, operation: "run", errno: rc) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        // Exit code when the child exited, 128 + signal when a signal ended it.
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Result(status: code, output: output)
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
