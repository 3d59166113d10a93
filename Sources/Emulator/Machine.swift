#if canImport(Glibc)
import Glibc
#endif
import ImageFormat
import ImageFormat

/// How a run ended.
public enum RunOutcome: Equatable, Sendable {
    /// The expected text or pattern appeared (the matching text).
    case matched(String)
    case timedOut
    case budgetExhausted
    /// Triple fault, unsupported instruction, halt with interrupts off, reset, ...
    case guestFailed(String)
    /// The guest wrote to port 0xF4; the value is the exit status (V << 1) | 1.
    case debugExit(Int32)
}

public struct MachineOptions: Sendable {
    public var memoryMiB = 32
    public var bootFromFloppy = false
    public var maxInstructions: UInt64? = nil
    public var timeoutSeconds: Double? = nil
    public var expect: String? = nil
    public var expectRegex: String? = nil
    /// Keys waiting in the BIOS keyboard buffer at boot (ASCII; "\r" is Enter). Without
    /// them the keyboard stays silent.
    public var keys: String = ""
    public init() {}
}

/// A PC: 386 CPU, memory, the ISA devices and the Swift BIOS, booting one disk.
public final class Machine {
    public let memory: Memory
    public let io = IOBus()
    public let cpu: CPU
    public let pic = PIC()
    public let pit: PIT
    public let cmos: CMOS
    public let uart = UART()
    public let keyboardController: KeyboardController
    public let systemControl: SystemControlPort
    public let debugPorts = DebugPorts()
    public let vga: VGAText
    public let floppy: Disk?
    public let hardDisk: Disk?
    public let bootFromFloppy: Bool
    let options: MachineOptions
    private(set) var bios: BIOS!

    /// Serial (COM1), debug console (0xE9/0x402) and BIOS teletype output so far.
    public private(set) var serialOutput: [UInt8] = []
    public private(set) var consoleOutput: [UInt8] = []
    public var onSerialByte: (UInt8) -> Void = { _ in }
    /// Receives one line per executed instruction when set.
    public var traceSink: ((String) -> Void)?

    private var outcome: RunOutcome?
    private var outputChanged = false
    private var skippedNanoseconds: UInt64 = 0
    private let matcher: OutputMatcher
    /// Virtual time runs at 100 ns per instruction (a 10 MIPS, 386-class machine): timer-driven
    /// waits in boot menus then cost few host instructions.
    static let nanosecondsPerInstruction: UInt64 = 100

    public init(disk: BlockDevice, options: MachineOptions) throws {
        self.options = options
        memory = Memory(size: max(2, options.memoryMiB) << 20)
        // SeaBIOS and most late BIOSes hand over with the A20 gate open.
        memory.a20Enabled = true
        cpu = CPU(model: .i386, memory: memory, io: io)
        cpu.stopOnInvalidOpcode = true
        pit = PIT(pic: pic)
        bootFromFloppy = options.bootFromFloppy
        let d = Disk(device: disk, floppy: options.bootFromFloppy)
        floppy = options.bootFromFloppy ? d : nil
        hardDisk = options.bootFromFloppy ? nil : d
        cmos = CMOS(memoryBytes: memory.size, floppyType: floppy?.floppyType ?? 0)
        keyboardController = KeyboardController(memory: memory)
        systemControl = SystemControlPort(memory: memory)
        vga = VGAText(memory: memory)
        let regex = try options.expectRegex.map { try Regex($0) }
        matcher = OutputMatcher(expect: options.expect, expectRegex: regex)
        wireDevices()
        bios = BIOS(machine: self)
        cpu.trapHandler = bios
    }

    private func wireDevices() {
        io.attach(pic, ports: [0x20, 0x21, 0xA0, 0xA1])
        io.attach(pit, ports: [0x40, 0x41, 0x42, 0x43, 0x61])
        io.attach(cmos, ports: [0x70, 0x71])
        io.attach(uart, range: 0x3F8...0x3FF)
        io.attach(keyboardController, ports: [0x60, 0x64])
        io.attach(systemControl, ports: [0x92])
        io.attach(debugPorts, ports: [0xE9, 0x402, 0xF4, 0x80])
        io.attach(vga, range: 0x3B0...0x3DF)
        uart.output = { [unowned self] b in
            serialOutput.append(b); outputChanged = true; onSerialByte(b)
        }
        debugPorts.onConsoleByte = { [unowned self] _ in outputChanged = true }
        debugPorts.onExit = { [unowned self] status in
            if outcome == nil { outcome = .debugExit(status) }
            cpu.halt(.debugExit(status))
        }
        keyboardController.onReset = { [unowned self] in guestFailure("the guest reset the CPU through the keyboard controller") }
        systemControl.onReset = { [unowned self] in guestFailure("the guest reset the CPU through port 92h") }
        keyboardController.onKeyboardData = { [unowned self] in pic.raise(1) }
        // unowned(unsafe): the machine owns the PIT, and the timer is read on every port
        // access to it (a checked unowned reference cost a retain and release each time).
        pit.clock = { [unowned(unsafe) self] in pitTick }
    }

    /// Stops the run: the guest did something we report as a failure.
    func guestFailure(_ message: String) {
        if outcome == nil { outcome = .guestFailed(message) }
        cpu.halt(.requested)
    }

    func recordConsole(_ b: UInt8) {
        consoleOutput.append(b)
        outputChanged = true
    }

    func skipTime(nanoseconds: UInt64) { skippedNanoseconds &+= nanoseconds }

    /// Port accesses cost a microsecond each, on top of the instruction's own time.
    static let extraNanosecondsPerPortAccess: UInt64 = 900

    private var virtualNanoseconds: UInt64 {
        cpu.instructionCount &* Machine.nanosecondsPerInstruction &+ skippedNanoseconds
            &+ io.accessCount &* Machine.extraNanosecondsPerPortAccess
    }

    private var pitTick: UInt64 {
        let ns = virtualNanoseconds
        return ns / 1_000_000_000 * PIT.hz + (ns % 1_000_000_000) * PIT.hz / 1_000_000_000
    }

    public func screenText() -> String { vga.screenText() }

    public var debugConsoleOutput: [UInt8] { debugPorts.console }

    /// Runs POST (data area, vectors, boot sector) and then the guest until an outcome.
    public func run() -> RunOutcome {
        bios.installROM()
        bios.fillDataArea()
        bios.initializeDevices()
        bios.scriptKeys(options.keys)
        if let problem = bios.loadBootSector(cpu) { return .guestFailed(problem) }
        return runLoop()
    }

    private func runLoop() -> RunOutcome {
        let started = monotonicClock()
        let budget = options.maxInstructions ?? UInt64.max
        let slice: UInt64 = 4096
        var slices = 0
        while true {
            if let o = outcome { return o }
            if let s = cpu.stop { return outcome(for: s) }
            if cpu.flags & F.if != 0 && !cpu.interruptShadow && pic.hasPending, let vector = pic.acknowledge() {
                cpu.interrupt(vector, software: false)
                // The next instruction shares the count the delivery ran at.
                cpu.faultDepth = 0
            }
            if cpu.halted {
                if cpu.flags & F.if == 0 {
                    return .guestFailed("HLT with interrupts disabled at \(cpu.locationDescription)")
                }
                let next = pit.nextEventTick
                // The timer is the only interrupt source that fires on its own; scripted keys
                // are queued before the boot, so they are pending already or never.
                if next == UInt64.max || (!pic.hasPending && !pic.canDeliver(masterLine: 0)) {
                    return .guestFailed("HLT with no interrupt source left at \(cpu.locationDescription)")
                }
                let now = pitTick
                if next > now { skipTime(nanoseconds: (next - now) * 1_000_000_000 / PIT.hz + 1) }
            } else {
                let remaining = budget &- cpu.instructionCount
                if remaining == 0 { return .budgetExhausted }
                let n = min(slice, remaining)
                if traceSink != nil { traceSlice(n) } else { runSlice(n) }
            }
            cpu.interruptShadow = false
            pit.advance(to: pitTick)
            slices += 1
            if outputChanged || slices & 63 == 0 {
                outputChanged = false
                if let m = matchExpected(includeScreen: slices & 63 == 0 && vga.takeScreenChange()) { return .matched(m) }
            }
            if slices & 255 == 0, let limit = options.timeoutSeconds, monotonicClock() - started > limit {
                if let m = matchExpected(includeScreen: true) { return .matched(m) }
                return .timedOut
            }
        }
    }

    @inline(__always) private func runSlice(_ n: UInt64) {
        cpu.run(n)
    }

    private func outcome(for s: StopReason) -> RunOutcome {
        if let o = outcome { return o }
        switch s {
        case .debugExit(let v): return .debugExit(v)
        case .tripleFault(let m), .unsupported(let m): return .guestFailed(m)
        case .requested: return .guestFailed("stopped")
        }
    }

    private func matchExpected(includeScreen: Bool) -> String? {
        guard matcher.isActive else { return nil }
        if let m = matcher.check(serialOutput, id: 0) ?? matcher.check(debugPorts.console, id: 1)
            ?? matcher.check(consoleOutput, id: 2) {
            return m
        }
        return includeScreen ? matcher.check(snapshot: vga.screenText()) : nil
    }

    /// Checks the final state once more (for text that appeared in the last slice).
    public func finalMatch() -> String? { matchExpected(includeScreen: true) }
}
