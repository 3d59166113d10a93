import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import ImageFormat

/// qemu-img compare: exit 0 identical, 1 different, 2 open error, 3 block status error,
/// 4 read error. Mismatch offsets are reported at 512-byte sector starts, as qemu-img does.
struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check whether two images have the same content.")

    @Option(name: .customShort("f"), help: "Format of the first image.")
    var format1: String?
    @Option(name: .customShort("F"), help: "Format of the second image.")
    var format2: String?
    @Flag(name: .customShort("s"), help: "Strict: sizes and allocation status must match too.")
    var strict = false
    @Flag(name: .customShort("p"), help: "Show progress on stderr.")
    var progress = false
    @Flag(name: .customShort("q"), help: "Quiet: report only through the exit status.")
    var quiet = false
    @Flag(name: .customShort("U"), help: "Open the images without taking QEMU's locks (force share).")
    var forceShare = false
    @Argument(help: "First image.") var filename1: String
    @Argument(help: "Second image.") var filename2: String

    static let bufferSize: UInt64 = 2 << 20

    func run() throws {
        let code = compare()
        if code != 0 { throw ExitCode(code) }
    }

    private func say(_ line: String) { if !quiet { print(line) } }

    private struct Failure: Error { var code: Int32; var message: String? }

    private func compare() -> Int32 {
        let a: BlockDevice, b: BlockDevice
        do {
            a = try openImage(path: filename1, format: format1, writable: false, forceShare: forceShare)
            b = try openImage(path: filename2, format: format2, writable: false, forceShare: forceShare)
        } catch {
            Console.error("\(error)")
            return 2
        }
        defer { try? a.close(); try? b.close() }
        let bar = ProgressLine(enabled: progress && !quiet, stream: stderr, showRate: true)
        defer { bar.finish() }
        do {
            try compareContents(a, b, bar)
            say("Images are identical.")
            return 0
        } catch let f as Failure {
            if let m = f.message { f.code == 1 ? say(m) : Console.error(m) }
            return f.code
        } catch {
            Console.error("\(error)")
            return 4
        }
    }

    private func compareContents(_ a: BlockDevice, _ b: BlockDevice, _ bar: ProgressLine) throws {
        let size1 = a.virtualSize, size2 = b.virtualSize
        let common = min(size1, size2), total = max(size1, size2)
        if strict && size1 != size2 { throw Failure(code: 1, message: "Strict mode: Image size mismatch!") }
        let ca = try cursor(a, filename1), cb = try cursor(b, filename2)
        var offset: UInt64 = 0
        while offset < common {
            let s1 = try status(ca, offset, end: size1, name: filename1)
            let s2 = try status(cb, offset, end: size2, name: filename2)
            var chunk = min(s1.length, s2.length)
            if strict, try !sameStatus(s1, s2) || ca.reachesEnd(at: offset, end: size1) != cb.reachesEnd(at: offset, end: size2) {
                throw Failure(code: 1, message: "Strict mode: Offset \(offset) block status mismatch!")
            }
            let zero1 = s1.zero && !s1.data, zero2 = s2.zero && !s2.data
            if !(zero1 && zero2) {
                chunk = min(chunk, Compare.bufferSize)
                if s1.present == s2.present {
                    if s1.present { try compareRange(a, b, offset, Int(chunk)) }
                } else {
                    let (dev, name) = s1.present ? (a, filename1) : (b, filename2)
                    try requireZero(dev, name, offset, Int(chunk))
                }
            }
            offset += chunk
            bar.update(done: offset, total: total)
        }
        guard size1 != size2 else { return }
        say("Warning: Image size mismatch!")
        let (over, name) = size1 > size2 ? (a, filename1) : (b, filename2)
        let overCursor = try cursor(over, name)
        while offset < total {
            let s = try status(overCursor, offset, end: total, name: name)
            var chunk = s.length
            if s.present && !(s.zero && !s.data) {
                chunk = min(chunk, Compare.bufferSize)
                try requireZero(over, name, offset, Int(chunk))
            }
            offset += chunk
            bar.update(done: offset, total: total)
        }
    }

    private func cursor(_ dev: BlockDevice, _ name: String) throws -> BlockStatusCursor {
        do { return try BlockStatusCursor(dev) } catch {
            throw Failure(code: 3, message: "Sector allocation test failed for \(name)")
        }
    }

    private func status(_ c: BlockStatusCursor, _ offset: UInt64, end: UInt64, name: String) throws -> Extent {
        do { return try c.extent(at: offset, end: end) } catch {
            throw Failure(code: 3, message: "Sector allocation test failed for \(name)")
        }
    }

    /// The parts of block status qemu-img's strict mode compares.
    private func sameStatus(_ x: Extent, _ y: Extent) -> Bool {
        x.present == y.present && x.zero == y.zero && x.data == y.data && (x.hostOffset != nil) == (y.hostOffset != nil)
    }

    private func read(_ dev: BlockDevice, _ name: String, _ offset: UInt64, _ count: Int) throws -> [UInt8] {
        do { return try dev.read(count: count, at: offset) } catch {
            throw Failure(code: 4, message: "Error while reading offset \(offset) of \(name): \(error)")
        }
    }

    private func compareRange(_ a: BlockDevice, _ b: BlockDevice, _ offset: UInt64, _ count: Int) throws {
        let x = try read(a, filename1, offset, count), y = try read(b, filename2, offset, count)
        guard x != y else { return }
        if let i = x.indices.first(where: { x[$0] != y[$0] }) { throw mismatch(offset, i) }
    }

    private func requireZero(_ dev: BlockDevice, _ name: String, _ offset: UInt64, _ count: Int) throws {
        let x = try read(dev, name, offset, count)
        if let i = x.firstIndex(where: { $0 != 0 }) { throw mismatch(offset, i) }
    }

    private func mismatch(_ offset: UInt64, _ index: Int) -> Failure {
        let at = offset + UInt64(index)
        return Failure(code: 1, message: "Content mismatch at offset \(at - at % 512)!")
    }
}
