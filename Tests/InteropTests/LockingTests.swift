import Foundation
import XCTest

/// QEMU-compatible locking: while qemu-io holds an image for writing, img refuses to write
/// it and to read it without -U; with -U reads work. Two img writers exclude each other.
final class LockingTests: XCTestCase {
    func testQemuWriterBlocksImg() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("busy.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", path, "4M"])
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["qemu-io", "-c", "write -P 7 0 64k", "-c", "sleep 4000", path]
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        // Wait until qemu-io has the image (its write has landed).
        var ready = false
        for _ in 0..<100 {
            if try Tool.img(["io", "-U", "-c", "read -P 7 0 64k", path]).status == 0 { ready = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(ready, "qemu-io never made its write visible")
        let write = try Tool.img(["io", "-c", "write 0 512", path])
        XCTAssertEqual(write.status, 1)
        XCTAssertTrue(write.stderr.contains("Failed to get") && write.stderr.contains("lock"), write.stderr)
        let read = try Tool.img(["info", path])
        XCTAssertEqual(read.status, 1, "a read without -U must be refused while a writer holds the image")
        XCTAssertTrue(read.stderr.contains("\"write\" lock"), read.stderr)
        try Tool.must("img", ["info", "-U", path])
        try Tool.must("img", ["map", "-U", path])
    }

    func testImgWriterBlocksQemu() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("mine.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", path, "4M"])
        // img io keeps the image open while it runs its commands; qemu-img meanwhile is refused.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: Tool.img)
        holder.arguments = ["io"] + Array(repeating: ["-c", "write -P 1 0 4M"], count: 400).flatMap { $0 } + [path]
        holder.standardOutput = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        // Wait until the holder has the image open: a plain qemu-img info is then refused.
        var opened = false
        for _ in 0..<200 where holder.isRunning {
            if try Tool.run("qemu-img", ["info", path]).stderr.contains("lock") { opened = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(opened && holder.isRunning, "the holder never had the image open long enough to test against")
        let qemu = try Tool.run("qemu-io", ["-c", "read 0 512", path])
        XCTAssertNotEqual(qemu.status, 0, "qemu-io opened an image img is writing")
        XCTAssertTrue(qemu.stderr.contains("lock"), qemu.stderr)
        let second = try Tool.img(["io", "-c", "write 0 512", path])
        XCTAssertNotEqual(second.status, 0, "a second img writer was let in")
        XCTAssertTrue(second.stderr.contains("lock"), second.stderr)
    }
}
