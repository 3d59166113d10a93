import XCTest

/// The basic loop: img creates and writes, qemu-img checks and reads back.
final class SmokeTests: XCTestCase {
    func testCreateWriteCheckCompare() throws {
        try Tool.requireQemu()
        let dir = try TempDir()
        let mine = dir.file("a.qcow2"), theirs = dir.file("b.qcow2")
        try Tool.must("img", ["create", "-q", "-f", "qcow2", mine, "4M"])
        try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", theirs, "4M"])
        let cmds = ["-c", "write -P 1 0 64k", "-c", "write -P 2 100000 3000", "-c", "write -z 1M 64k",
                    "-c", "write -c -P 4 3M 64k", "-c", "discard 2M 64k"]
        try Tool.must("img", ["io"] + cmds + [mine])
        try Tool.must("qemu-io", cmds + [theirs])
        try Tool.must("qemu-img", ["check", mine])
        try Tool.must("qemu-img", ["compare", mine, theirs])
    }
}
