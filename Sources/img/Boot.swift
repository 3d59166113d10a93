import ArgumentParser
import Emulator
#if canImport(Glibc)
import Glibc
#endif
import ImageFormat

/// `img boot`: boots an image in the built-in PC emulator and reports what the guest did.
struct Boot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot an image in the built-in PC emulator (guest writes are discarded).",
        discussion: """
        Exit status: 0 when the expected text appears on the screen, COM1 or the debug console; \
        1 on timeout or when the instruction budget runs out; 2 when the guest fails (triple fault, \
        unsupported instruction, HLT with interrupts off). A guest write of V to port 0xF4 exits \
        with (V<<1)|1.
        """)

    @Option(name: .short, help: ArgumentHelp("Image format (raw or qcow2); probed when omitted.", valueName: "fmt"))
    var format: String?
    @Option(help: ArgumentHelp("Succeed when this text appears.", valueName: "text"))
    var expect: String?
    @Option(name: .customLong("expect-regex"), help: ArgumentHelp("Succeed when this regular expression matches.", valueName: "re"))
    var expectRegex: String?
    @Option(help: ArgumentHelp("Give up after this many seconds of wall time.", valueName: "seconds"))
    var timeout: Double = 30
    @Option(name: .customLong("max-instructions"), help: ArgumentHelp("Give up after this many guest instructions.", valueName: "n"))
    var maxInstructions: UInt64?
    @Option(help: ArgumentHelp("Guest memory in MiB.", valueName: "mib"))
    var memory: Int = 32
    @Flag(help: "Boot the image as the first floppy drive instead of the first hard disk.")
    var floppy = false
    @Flag(help: "Print the final 80x25 text screen.")
    var screen = false
    @Flag(help: "Stream the guest's COM1 output to standard output.")
    var serial = false
    @Option(help: ArgumentHelp("Write an instruction trace (CS:IP, bytes, registers) to this file.", valueName: "file"))
    var trace: String?
    @Flag(name: .customShort("U"), help: "Open the image even if another process holds its lock.")
    var forceShare = false
    @Argument(help: "The image file.")
    var filename: String

    func validate() throws {
        guard memory >= 2 && memory <= 3072 else { throw ValidationError("--memory must be between 2 and 3072 MiB") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let device: BlockDevice
        do {
            device = try openImage(path: filename, format: format, writable: false, forceShare: forceShare)
        } catch {
            fputs("img boot: \(error)\n", stderr)
            throw ExitCode(2)
        }
        defer { try? device.close() }
        var options = MachineOptions()
        options.memoryMiB = memory
        options.bootFromFloppy = floppy
        options.maxInstructions = maxInstructions
        options.timeoutSeconds = timeout
        options.expect = expect
        options.expectRegex = expectRegex
        let machine: Machine
        do {
            machine = try Machine(disk: device, options: options)
        } catch {
            throw ValidationError("bad --expect-regex: \(error)")
        }
        if serial {
            machine.onSerialByte = { b in putchar(Int32(b)); if b == 10 { fflush(stdout) } }
        }
        let traceWriter = try trace.map { try TraceWriter(path: $0) }
        if let writer = traceWriter { machine.traceSink = { writer.append($0) } }
        var outcome = machine.run()
        traceWriter?.close()
        // Text printed just before a debug-port exit still counts as seen.
        if case .debugExit = outcome, let m = machine.finalMatch() { outcome = .matched(m) }
        if screen { print(machine.screenText()) }
        switch outcome {
        case .matched:
            throw ExitCode(0)
        case .timedOut, .budgetExhausted:
            if machine.finalMatch() != nil { throw ExitCode(0) }
            let why = outcome == .timedOut ? "timed out after \(timeout) s" : "instruction budget exhausted"
            fputs("img boot: \(why)\(expect != nil || expectRegex != nil ? " without seeing the expected text" : "")\n", stderr)
            throw ExitCode(1)
        case .guestFailed(let message):
            fputs("img boot: guest failure: \(message)\n", stderr)
            throw ExitCode(2)
        case .debugExit(let status):
            throw ExitCode(status)
        }
    }
}

/// Buffers trace lines and writes them in large chunks.
final class TraceWriter {
    private let handle: UnsafeMutablePointer<FILE>
    private var pending = ""

    init(path: String) throws {
        guard let h = fopen(path, "w") else {
            throw ValidationError("cannot create trace file \(path): \(String(cString: strerror(errno)))")
        }
        handle = h
    }

    func append(_ line: String) {
        pending += line
        pending += "\n"
        if pending.utf8.count > 1 << 16 { flush() }
    }

    private func flush() {
        fputs(pending, handle)
        pending = ""
    }

    func close() {
        flush()
        fclose(handle)
    }
}
