import Foundation
import XCTest

/// Every img command on main against an image a QEMU process holds for writing (qemu-io
/// sleeping, or a stopped qemu-system-x86_64 with the image as its IDE disk): writing
/// commands and reads without -U are refused with a message naming the "write" lock and
/// the file stays byte-for-byte the same; reads with -U work. A new command is one row.
final class LockingMatrixTests: XCTestCase {
    enum Kind { case writes, reads, sharedRead }

    /// `P` stands for the image path.
    static let rows: [(args: [String], kind: Kind)] = [
        (["io", "-c", "write -P 9 0 512", "P"], .writes),
        (["io", "-c", "discard 0 64k", "P"], .writes),
        (["create", "-q", "-f", "qcow2", "P", "1M"], .writes),
        (["create", "-q", "-f", "raw", "P", "1M"], .writes),
        (["info", "P"], .reads),
        (["info", "--output", "json", "P"], .reads),
        (["map", "P"], .reads),
        (["io", "-c", "read 0 512", "P"], .reads),
        (["info", "-U", "P"], .sharedRead),
        (["map", "-U", "P"], .sharedRead),
        (["io", "-U", "-c", "read -P 7 0 512", "P"], .sharedRead),
    ]

    func testQemuIoHoldsQcow2() throws {
        try matrix(format: "qcow2") { path in ["qemu-io", "-f", "qcow2", "-c", "sleep 1000000", path] }
    }

    func testQemuIoHoldsRaw() throws {
        try matrix(format: "raw") { path in ["qemu-io", "-f", "raw", "-c", "sleep 1000000", path] }
    }

    func testQemuSystemHoldsQcow2() throws {
        try matrix(format: "qcow2") { path in
            ["qemu-system-x86_64", "-display", "none", "-S", "-nodefaults", "-m", "16",
             "-drive", "file=\(path),format=qcow2,if=ide"]
        }
    }

    func matrix(format: String, holder command: (String) -> [String]) throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let path = dir.file("busy.\(format)")
        try Tool.must("img", ["create", "-q", "-f", format, path, "4M"])
        try Tool.must("img", ["io", "-f", format, "-c", "write -P 7 0 64k", path])
        let args = command(path)
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = args
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { holder.terminate(); holder.waitUntilExit() }
        // The holder has the image once its lock bytes are set (a plain info is refused;
        // qemu-img itself does not refuse for raw images held by qemu-io, img does).
        var held = false
        for _ in 0..<200 where holder.isRunning {
            if try Tool.img(["info", "-f", format, path]).stderr.contains("lock") { held = true; break }
            usleep(50_000)
        }
        XCTAssertTrue(held, "\(args[0]) never took the image lock")
        guard held else { return }
        let before = fileBytes(path)
        for row in Self.rows {
            let rowArgs = row.args.map { $0 == "P" ? path : $0 }
            let r = try Tool.img(rowArgs)
            let label = "img \(rowArgs.joined(separator: " ")) while \(args[0]) holds it"
            switch row.kind {
            case .writes, .reads:
                XCTAssertEqual(r.status, 1, "\(label) was not refused\n\(r.stdout)\(r.stderr)")
                XCTAssertTrue(r.stderr.contains("\"write\" lock") && r.stderr.contains(path),
                              "\(label): the message does not name the lock and the file\n\(r.stderr)")
            case .sharedRead:
                XCTAssertEqual(r.status, 0, "\(label) failed\n\(r.stdout)\(r.stderr)")
            }
            XCTAssertTrue(fileBytes(path) == before, "\(label) changed the image")
        }
        XCTAssertTrue(holder.isRunning, "\(args[0]) exited during the test")
        print("locking matrix (\(args[0]), \(format)): \(Self.rows.count) img commands")
    }
}
