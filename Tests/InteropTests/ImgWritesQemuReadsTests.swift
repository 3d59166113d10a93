import Foundation
import XCTest

/// Images made by `img create` and written by `img io` pass `qemu-img check`, and their
/// contents (qemu-img convert -O raw) equal those of the same workload run by qemu-io on an
/// image qemu-img created with the same options.
final class ImgWritesQemuReadsTests: XCTestCase {
    func testMatrix() throws {
        try Tool.requireQemu()
        var checked = 0
        for v in Qcow2Variant.all {
            let dir = try TempDir()
            let mine = dir.file("img.qcow2"), ref = dir.file("qemu.qcow2")
            try Tool.must("img", ["create", "-q", "-f", "qcow2", "-o", v.createOptions, mine, String(v.virtualSize)])
            try Tool.must("qemu-img", ["create", "-q", "-f", "qcow2", "-o", v.createOptions, ref, String(v.virtualSize)])
            let cmds = v.workload.flatMap { ["-c", $0] }
            try Tool.must("img", ["io"] + cmds + [mine])
            try Tool.must("qemu-io", cmds + [ref])
            let check = try Tool.run("qemu-img", ["check", mine])
            XCTAssertEqual(check.status, 0, "\(v): qemu-img check failed:\n\(check.stdout)\(check.stderr)")
            XCTAssertTrue(check.stdout.contains("No errors were found"), "\(v): \(check.stdout)")
            try Tool.must("qemu-img", ["convert", "-O", "raw", mine, dir.file("img.raw")])
            try Tool.must("qemu-img", ["convert", "-O", "raw", ref, dir.file("qemu.raw")])
            XCTAssertTrue(fileBytes(dir.file("img.raw")) == fileBytes(dir.file("qemu.raw")),
                          "\(v): guest contents differ from qemu-io's for the same workload")
            checked += 1
        }
        print("img-writes/qemu-reads: \(checked) option combinations checked")
        XCTAssertEqual(checked, Qcow2Variant.all.count)
    }
}
