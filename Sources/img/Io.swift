import ArgumentParser
import ImageFormat

struct Io: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run qemu-io style commands against an image.",
        discussion: """
        Commands: read [-P pattern] [-v] [-q] OFF LEN; write [-P pattern] [-z] [-u] [-c] [-q] OFF LEN; \
        discard [-q] OFF LEN; flush; map; info. Offsets and lengths take k, M, G suffixes.
        """)

    @OptionGroup var image: ImageOptions
    @Option(name: .customShort("c"), parsing: .singleValue, help: "A command to run (repeatable).")
    var commands: [String] = []
    @Flag(name: .customShort("r"), help: "Open read-only.")
    var readOnly = false
    @Argument(help: "The image file.")
    var filename: String

    func run() throws {
        var failed = false
        try runReportingErrors {
            let device = try image.open(filename, writable: !readOnly && !image.forceShare)
            let shell = IoShell(device: device)
            for command in commands {
                if !shell.execute(command) { failed = true }
            }
            try device.close()
        }
        if failed { throw ExitCode(1) }
    }
}

/// The qemu-io command interpreter: prints what qemu-io prints, returns false on failure.
final class IoShell {
    let device: BlockDevice
    init(device: BlockDevice) { self.device = device }

    struct Flags {
        var pattern: UInt8?
        var verbose = false, quiet = false, zero = false, compressed = false, unmap = false
        var positional: [String] = []
    }

    func execute(_ line: String) -> Bool {
        let words = line.split(separator: " ").map(String.init)
        guard let name = words.first else { return true }
        do {
            var flags = Flags()
            var i = 1
            while i < words.count {
                let w = words[i]
                switch w {
                case "-P":
                    guard i + 1 < words.count else { throw CLIError("\(name): -P needs a pattern") }
                    let text = words[i + 1]
                    let v = text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
                    guard let v, (0...0xFF).contains(v) else {
                        print("\(text) is not a valid pattern byte")
                        return false
                    }
                    flags.pattern = UInt8(v); i += 1
                case "-v": flags.verbose = true
                case "-q": flags.quiet = true
                case "-z": flags.zero = true
                case "-c": flags.compressed = true
                case "-u": flags.unmap = true
                default: flags.positional.append(w)
                }
                i += 1
            }
            switch name {
            case "read", "r": return try read(flags)
            case "write", "w": return try write(flags)
            case "discard", "d": return try discard(flags)
            case "flush", "f": try device.flush(); return true
            case "map": return try map()
            case "info": return try info()
            default:
                print("command \"\(name)\" not found")
                return false
            }
        } catch let e as CLIError {
            print(e.message)
        } catch let e as ImageError {
            print("\(name) failed: \(e.description)")
        } catch {
            print("\(name) failed: \(error)")
        }
        return false
    }

    private func range(_ flags: Flags) throws -> (UInt64, Int) {
        guard flags.positional.count == 2, let off = SizeParser.parse(flags.positional[0]),
              let len = SizeParser.parse(flags.positional[1]) else {
            throw CLIError("offset and length expected")
        }
        guard len <= 1 << 31 else { throw CLIError("length cannot exceed 2147483648, given \(len)") }
        return (off, Int(len))
    }

    private func report(_ verb: String, _ offset: UInt64, _ count: Int, start: Double, quiet: Bool) {
        guard !quiet else { return }
        let seconds = max(monotonicSeconds() - start, 1e-9)
        print("\(verb) \(count)/\(count) bytes at offset \(offset)")
        let rate = ioSize(Double(count) / seconds)
        let whole = Int(seconds)
        let frac = Int((seconds - Double(whole)) * 100)
        print("\(ioSize(Double(count))), 1 ops; \(cFormat("%02d.%02d", whole, frac)) sec (\(rate)/sec and \(cFormat("%.4f", 1 / seconds)) ops/sec)")
    }

    private func read(_ flags: Flags) throws -> Bool {
        let (off, len) = try range(flags)
        let start = monotonicSeconds()
        let bytes = try device.read(count: len, at: off)
        var ok = true
        if let p = flags.pattern, let bad = bytes.firstIndex(where: { $0 != p }) {
            _ = bad
            print("Pattern verification failed at offset \(off), \(len) bytes")
            ok = false
        }
        if flags.verbose { dump(bytes, base: off) }
        report("read", off, len, start: start, quiet: flags.quiet)
        return ok
    }

    private func write(_ flags: Flags) throws -> Bool {
        let (off, len) = try range(flags)
        let start = monotonicSeconds()
        if flags.zero {
            try device.writeZeroes(at: off, length: UInt64(len), mayUnmap: flags.unmap)
        } else {
            let bytes = [UInt8](repeating: flags.pattern ?? 0xCD, count: len)
            if flags.compressed {
                guard let q = device as? Qcow2Image else { throw CLIError("write failed: Operation not supported") }
                try bytes.withUnsafeBytes { buf in
                    var done = 0
                    while done < len {
                        let n = min(q.clusterSize, len - done)
                        try q.writeCompressed(UnsafeRawBufferPointer(rebasing: buf[done..<(done + n)]), at: off + UInt64(done))
                        done += n
                    }
                }
            } else {
                try device.write(bytes, at: off)
            }
        }
        report("wrote", off, len, start: start, quiet: flags.quiet)
        return true
    }

    private func discard(_ flags: Flags) throws -> Bool {
        let (off, len) = try range(flags)
        let start = monotonicSeconds()
        try device.discard(at: off, length: UInt64(len))
        report("discard", off, len, start: start, quiet: flags.quiet)
        return true
    }

    /// Allocation in the top layer only, as qemu-io's map shows it.
    private func map() throws -> Bool {
        var runs: [(start: UInt64, length: UInt64, allocated: Bool)] = []
        for e in try device.blockStatus(at: 0, length: device.virtualSize) {
            let allocated = e.depth == 0 && e.present
            if let last = runs.last, last.allocated == allocated {
                runs[runs.count - 1].length += e.length
            } else {
                runs.append((e.start, e.length, allocated))
            }
        }
        for r in runs {
            print("\(ioSize(Double(r.length))) (0x\(String(r.length, radix: 16))) bytes \(r.allocated ? "    allocated" : "not allocated") at offset \(ioSize(Double(r.start))) (0x\(String(r.start, radix: 16)))")
        }
        return true
    }

    private func info() throws -> Bool {
        print("format name: \(device.formatName)")
        if let q = device as? Qcow2Image {
            print("cluster size: \(ioSize(Double(q.clusterSize)))")
            print("vm state offset: \(ioSize(Double(q.l2CoverageBytes * UInt64(q.header.l1Size))))")
            if let data = try ImageInfoReport(device: q).formatSpecific() {
                print("Format specific information:")
                ImageInfoReport.humanLines(.object(data), indent: 1).forEach { print($0) }
            }
        }
        return true
    }

    private func dump(_ bytes: [UInt8], base: UInt64) {
        var i = 0
        while i < bytes.count {
            let chunk = bytes[i..<min(i + 16, bytes.count)]
            let hexPart = chunk.map { cFormat("%02x", $0) }.joined(separator: " ")
            let text = String(chunk.map { (0x20..<0x7F).contains($0) ? Character(UnicodeScalar($0)) : "." })
            print(cFormat("%08llx:  ", base + UInt64(i)) + hexPart + "  " + text)
            i += 16
        }
    }
}
