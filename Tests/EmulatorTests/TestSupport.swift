import Foundation
import ImageFormat
import XCTest

/// Runs external tools (nasm, qemu-img, ...) and the img binary for the boot tests.
enum Tools {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Runs `tool` found on PATH; a missing tool is a test failure, not a skip.
    @discardableResult
    static func run(_ tool: String, _ args: [String], cwd: URL? = nil, check: Bool = true) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool.hasPrefix("/") ? tool : "/usr/bin/env")
        p.arguments = tool.hasPrefix("/") ? args : [tool] + args
        if let cwd { p.currentDirectoryURL = cwd }
        // install-mbr and mkfs.fat live in /usr/sbin, which a CI user's PATH may lack.
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = (env["PATH"].map { $0 + ":" } ?? "") + "/usr/sbin:/sbin"
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let r = Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                       stderr: String(decoding: errData, as: UTF8.self))
        if check && r.status != 0 {
            throw ToolError.failed("\(tool) \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)")
        }
        return r
    }

    /// The img executable built next to the test bundle.
    static var img: String {
        var dir = Bundle(for: BundleMarker.self).bundleURL.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("img").path) {
            dir = TestPaths.repoRoot.appendingPathComponent(".build/debug")
        }
        return dir.appendingPathComponent("img").path
    }

    static func boot(_ args: [String]) throws -> Result {
        try run(img, ["boot"] + args, check: false)
    }

    static func makeTempDir() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("img-emu-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Assembles testdata/boot/<name>.asm with NASM.
    static func assemble(_ name: String, into dir: URL, defines: [String] = []) throws -> [UInt8] {
        let out = dir.appendingPathComponent(name + ".bin")
        try run("nasm", ["-f", "bin"] + defines.map { "-D" + $0 } + ["-o", out.path, TestPaths.bootData.appendingPathComponent(name + ".asm").path])
        return [UInt8](try Data(contentsOf: out))
    }

    /// Writes `content` at the start of a raw image of `size` bytes.
    static func rawImage(_ content: [UInt8], size: Int, at url: URL) throws {
        var bytes = content
        bytes += [UInt8](repeating: 0, count: max(0, size - bytes.count))
        try Data(bytes).write(to: url)
    }

    static func sha256(_ url: URL) throws -> String {
        try run("sha256sum", [url.path]).stdout.split(separator: " ").first.map(String.init) ?? ""
    }
}

private final class BundleMarker {}

enum ToolError: Error { case failed(String) }

/// A raw BlockDevice over bytes in memory, for driving Machine without files.
final class MemoryBlockDevice: BlockDevice {
    var bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    var filename: String { "memory" }
    var formatName: String { "raw" }
    var virtualSize: UInt64 { UInt64(bytes.count) }
    var isWritable: Bool { false }
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard offset + UInt64(buffer.count) <= virtualSize else { throw ImageError.invalidArgument("read past end") }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(offset)..<Int(offset) + buffer.count]))
        }
    }
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws { throw ImageError.invalidArgument("read-only") }
    func writeZeroes(at offset: UInt64, length: UInt64, mayUnmap: Bool) throws { throw ImageError.invalidArgument("read-only") }
    func discard(at offset: UInt64, length: UInt64) throws {}
    func flush() throws {}
    func blockStatus(at offset: UInt64, length: UInt64) throws -> [Extent] {
        [Extent(start: offset, length: length, depth: 0, present: true, zero: false, data: true)]
    }
    func close() throws {}
}
