/// 8042 keyboard controller (ports 0x60/0x64): self-test, command byte, output port with the
/// A20 gate and reset line, and the keyboard's replies to the usual commands.
public final class KeyboardController: PortDevice {
    private var outputQueue: [UInt8] = []
    private var commandByte: UInt8 = 0x45
    private var pendingCommand: UInt8?
    private var selfTested = false
    let memory: Memory
    /// Called when the guest pulses the reset line.
    public var onReset: () -> Void = {}
    /// Set when a byte from the keyboard is ready (raises IRQ1 through the machine).
    public var onKeyboardData: () -> Void = {}

    public init(memory: Memory) { self.memory = memory }

    /// Queues scan codes as if typed.
    public func type(scanCodes: [UInt8]) {
        outputQueue.append(contentsOf: scanCodes)
        if !scanCodes.isEmpty { onKeyboardData() }
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        if port == 0x64 {
            return UInt32((outputQueue.isEmpty ? 0 : 1) | (selfTested ? 0x04 : 0) | 0x10 | (pendingCommand != nil ? 0x08 : 0))
        }
        return outputQueue.isEmpty ? 0 : UInt32(outputQueue.removeFirst())
    }

    private var outputPort: UInt8 { 0x01 | (memory.a20Enabled ? 0x02 : 0) }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        if port == 0x64 {
            switch v {
            case 0x20: outputQueue.append(commandByte)
            case 0x60, 0xD1, 0xD2: pendingCommand = v
            case 0xAA: selfTested = true; outputQueue.append(0x55)
            case 0xAB: outputQueue.append(0x00)
            case 0xAD: commandByte |= 0x10
            case 0xAE: commandByte &= ~0x10
            case 0xC0: outputQueue.append(0xFF)
            case 0xD0: outputQueue.append(outputPort)
            case 0xDD: memory.a20Enabled = false
            case 0xDF: memory.a20Enabled = true
            case 0xF0...0xFF: if v & 1 == 0 { onReset() }
            default: break
            }
            return
        }
        if let cmd = pendingCommand {
            pendingCommand = nil
            switch cmd {
            case 0x60: commandByte = v
            case 0xD1:
                memory.a20Enabled = v & 2 != 0
                if v & 1 == 0 { onReset() }
            default: outputQueue.append(v) // D2: echo as keyboard data
            }
            return
        }
        // A byte for the keyboard itself.
        switch v {
        case 0xFF: outputQueue.append(contentsOf: [0xFA, 0xAA])
        case 0xF2: outputQueue.append(contentsOf: [0xFA, 0xAB, 0x83])
        case 0xEE: outputQueue.append(0xEE)
        default: outputQueue.append(0xFA)
        }
    }
}
