import Foundation
import ImageFormat
import Repair

/// Judges one image file after a crash or a fault with img's own checker (the Repair
/// module, in process), cross-checked against `qemu-img check` on a sample of states.
enum ImageJudge {
    struct Verdict {
        var ok: Bool
        var detail: String
    }

    /// Passes when img check finds leaks at most. A refcount above its references is a
    /// leak even where it makes an active entry's COPIED flag disagree with the stored
    /// refcount, which img check and qemu-img check count as an error ("ERROR OFLAG_COPIED
    /// ... refcount=2" on a cluster they also report as "Leaked cluster ... refcount=2
    /// reference=1"): a crash between raising refcounts and clearing COPIED (snapshot
    /// create) or between setting COPIED and lowering refcounts (delete) leaves such
    /// states, whatever the order, as QEMU's own snapshot code does. Such a state passes
    /// when every error is a COPIED flag on a leaked cluster and `-r all` (on a scratch
    /// copy) then leaves it clean. With `repairFirst` (lazy-refcounts images, which a
    /// read-write open repairs; crashes during a repair) the state is repaired with
    /// `-r all` first and must then check clean. Only `repairFirst` changes the file.
    static func check(_ path: String, repairFirst: Bool) throws -> Verdict {
        if QemuCrossCheck.due() {
            if let disagreement = try QemuCrossCheck.compare(path) { return Verdict(ok: false, detail: disagreement) }
        }
        if repairFirst { return try repaired(path) }
        let first = try imgCheck(path, fix: [])
        guard first.aborted == nil, first.result.checkErrors == 0 else {
            return Verdict(ok: false, detail: "img check could not finish: \(first.text)")
        }
        if first.result.corruptions == 0 { return Verdict(ok: true, detail: "img check: \(first.text)") }
        guard let clusterBits = try? CheckLayout.load(HostFile(path: path, mode: .readOnly)).clusterBits,
              CopiedFlagErrors(first.lines, clusterBits: clusterBits).onlyOnLeakedClusters(errors: first.result.corruptions) else {
            return Verdict(ok: false, detail: "img check: \(first.text)")
        }
        let scratch = path + ".repair"
        defer { unlink(scratch) }
        try Files.write(try Files.read(path), to: scratch)
        let verdict = try repaired(scratch)
        return Verdict(ok: verdict.ok, detail: "img check: \(first.text)\n" + verdict.detail)
    }

    /// `img check -r all` succeeds and a second check finds the file clean.
    static func repaired(_ path: String) throws -> Verdict {
        let repair = try imgCheck(path, fix: .all)
        guard repair.aborted == nil, repair.result.checkErrors == 0 else {
            return Verdict(ok: false, detail: "img check -r all failed: \(repair.text)")
        }
        let again = try imgCheck(path, fix: [])
        return Verdict(ok: again.clean, detail: "after -r all, img check: \(again.text)")
    }

    struct CheckRun {
        var result = CheckResult()
        var aborted: String?
        var lines: [String] = []
        var clean: Bool { aborted == nil && result.corruptions == 0 && result.leaks == 0 && result.checkErrors == 0 }
        var text: String {
            let head = "\(result.corruptions) errors, \(result.leaks) leaks, \(result.checkErrors) check errors"
                + (aborted.map { ", aborted: \($0)" } ?? "")
            return ([head] + lines.prefix(20)).joined(separator: "\n")
        }
    }

    /// `img check [-r ...]` in process, with its messages kept.
    static func imgCheck(_ path: String, fix: FixMode) throws -> CheckRun {
        var run = CheckRun()
        let file = try HostFile(path: path, mode: fix.isEmpty ? .readOnly : .readWrite)
        defer { file.closeDescriptor() }
        do {
            run.result = try Qcow2Checker.check(file: file, fix: fix, log: { run.lines.append($0) })
        } catch let e as CheckAborted {
            run.result = e.result
            run.aborted = e.reason
        } catch {
            run.aborted = "\(error)"
        }
        return run
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
