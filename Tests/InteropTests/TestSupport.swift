import Foundation
import XCTest

/// Helpers for tests that run the `img` binary and QEMU's tools side by side.
enum Tool {
    /// The package root (…/Tests/InteropTests/TestSupport.swift → three levels up).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The img executable built next to the test bundle.
    static let img: String = {
        let bundle = Bundle.allBundles.first { $0.bundlePath.hasSuffix(".xctest") }?.bundleURL
            ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let dir = bundle.deletingLastPathComponent()
        return dir.appendingPathComponent("img").path
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutData: Data
    }

    /// Runs a program to completion. Test programs are found on PATH (qemu-img, qemu-io...).
    @discardableResult
    static func run(_ program: String, _ args: [String], cwd: String? = nil) throws -> Result {
        let p = Process()
        if program.hasPrefix("/") {
            p.executableURL = URL(fileURLWithPath: program)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = [program] + args
        }
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), stdoutData: outData)
    }

    /// Runs img with arguments.
    @discardableResult
    static func img(_ args: [String], cwd: String? = nil) throws -> Result { try run(img, args, cwd: cwd) }

    /// Runs and fails the test (with both outputs) unless the status is `expect`.
    @discardableResult
    static func must(_ program: String, _ args: [String], expect: Int32 = 0, cwd: String? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws -> Result {
        let r = try run(program == "img" ? img : program, args, cwd: cwd)
        XCTAssertEqual(r.status, expect, "\(program) \(args.joined(separator: " ")) exited \(r.status)\nstdout: \(r.stdout)\nstderr: \(r.stderr)",
                       file: file, line: line)
        return r
    }

    /// Fails loudly when a QEMU tool is missing: the test command installs them, so a
    /// missing tool is a broken setup, never a reason to skip.
    static func requireQemu(file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run("qemu-img", ["--version"])
        if r.status != 0 { XCTFail("qemu-img is not installed (apt-get install qemu-utils)", file: file, line: line); throw XCTSkip("no qemu-img") }
    }
}

extension Tool {
    /// The bytes of a 4 MiB qcow2 (64 KiB clusters) made by img with its first cluster
    /// written: the layout the bad-image tests poke (header 0, refcount table 0x10000,
    /// refcount block 0x20000, L1 0x30000, L2 0x40000, data 0x50000).
    static func smallTemplateImage(in dir: TempDir) throws -> Data {
        let template = dir.file("template.qcow2")
        try must("img", ["create", "-q", "-f", "qcow2", template, "4M"])
        try must("img", ["io", "-c", "write -P 0x42 0 64k", template])
        return fileBytes(template)
    }
}

/// A fresh temporary directory per test, removed afterwards.
final class TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "img-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// SHA-256-free content fingerprint good enough to prove a file did not change.
func fileBytes(_ path: String) -> Data { (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data() }
