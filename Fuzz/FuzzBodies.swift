// Shared by the libFuzzer targets (scripts/fuzz.sh links them with instrumented ImageFormat,
// Repair and Emulator modules) and by FuzzRegressionTests.
import Emulator
import ImageFormat
import Repair
#if canImport(Glibc)
import Glibc
#endif

/// What each fuzz target does with one input, written to a scratch file first.
enum FuzzBodies {
    /// Guest bytes one input may make the read-all target read (bounds time and memory).
    static let readBudget: UInt64 = 32 << 20

    /// Writes the input to a per-process scratch file and runs `body` on its path.
    static func withFile(_ data: UnsafePointer<UInt8>?, _ size: Int, _ body: (String) -> Void) {
        let path = "/tmp/img-fuzz-\(getpid()).img"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        var done = 0
        while done < size, let data {
            let n = write(fd, data + done, size - done)
            if n <= 0 { break }
            done += n
        }
        close(fd)
        body(path)
    }

    static func openDevice(_ path: String) -> BlockDevice? {
        var options = ImageOpenOptions()
        // The backing file an input names could be anything on this host (a FIFO would hang).
        options.qcow2.openBacking = false
        return try? openImage(path: path, format: nil, options: options)
    }

    /// open + info: the fields `img info` prints, and the map of the whole disk.
    static func openInfo(path: String) {
        guard let image = openDevice(path) else { return }
        defer { try? image.close() }
        var sink = image.virtualSize
        if let q = image as? Qcow2Image {
            sink &+= UInt64(q.snapshots.count) &+ UInt64(q.featureNames.count) &+ UInt64(q.clusterSize)
            sink &+= UInt64(q.backingFileName?.count ?? 0) &+ UInt64(q.backingFormat?.count ?? 0)
            sink &+= q.isDirty ? 1 : 0
            if let bitmaps = try? q.persistentBitmaps() { sink &+= UInt64(bitmaps.count) }
        }
        if let extents = try? image.blockStatus(at: 0, length: image.virtualSize) { sink &+= UInt64(extents.count) }
        blackHole(sink)
    }

    /// open + read of every cluster that holds data, up to `readBudget` bytes.
    static func openReadAll(path: String) {
        guard let image = openDevice(path) else { return }
        defer { try? image.close() }
        guard let extents = try? image.blockStatus(at: 0, length: image.virtualSize) else { return }
        var budget = readBudget
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for e in extents where e.present && !e.zero {
            var pos = e.start
            let end = e.start + min(e.length, budget)
            while pos < end {
                let n = Int(min(UInt64(buffer.count), end - pos))
                let ok = buffer.withUnsafeMutableBytes { buf in
                    (try? image.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<n]), at: pos)) != nil
                }
                if !ok { break }
                pos += UInt64(n)
            }
            budget -= min(e.length, budget)
            if budget == 0 { break }
        }
        blackHole(UInt64(buffer[0]))
    }

    /// img check without repair: the file is opened read-only, as `img check` does.
    static func check(path: String) {
        guard let file = try? HostFile(path: path, mode: .readOnly) else { return }
        defer { file.closeDescriptor() }
        let result = try? Qcow2Checker.check(file: file, fix: [], log: { _ in })
        blackHole(UInt64(result?.corruptions ?? 0))
    }

    /// img check -r all on the scratch copy of the input, then the check that follows it.
    static func repairAll(path: String) {
        guard let file = try? HostFile(path: path, mode: .readWrite) else { return }
        defer { file.closeDescriptor() }
        guard let repaired = try? Qcow2Checker.check(file: file, fix: .all, log: { _ in }) else { return }
        let again = try? Qcow2Checker.check(file: file, fix: [], log: { _ in })
        blackHole(UInt64(repaired.corruptionsFixed) &+ UInt64(again?.corruptions ?? 0))
    }

    /// Instructions one boot may run: enough for the BIOS to load the boot sector and the
    /// guest to read every sector of a small disk through the format layer (the
    /// boot-read-disk seed needs a few hundred), little enough to keep inputs fast.
    static let bootInstructions: UInt64 = 50_000

    /// img boot's disk path: the emulator boots the input as its hard disk, reading sectors
    /// through the format layer (writes go to the emulator's in-memory overlay).
    static func boot(path: String) {
        guard let image = openDevice(path) else { return }
        defer { try? image.close() }
        var options = MachineOptions()
        options.memoryMiB = 2
        options.maxInstructions = bootInstructions
        // The budget counts instructions only: a guest halted with its timer interrupt masked
        // runs none and ends at this wall-clock limit (img boot's --timeout), kept short.
        options.timeoutSeconds = 0.25
        guard let machine = try? Machine(disk: image, options: options) else { return }
        let outcome = machine.run()
        blackHole(UInt64(machine.serialOutput.count) &+ (outcome == .budgetExhausted ? 1 : 0))
    }

    @inline(never)
    static func blackHole(_ value: UInt64) {
        if value == 0x1234_5678_9ABC_DEF0 { print("") }
    }
}
