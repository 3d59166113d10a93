/// Emulator-only ports: 0xE9 and 0x402 collect a debug console (Bochs/QEMU debugcon),
/// 0xF4 ends the run with status (value << 1) | 1 like QEMU's isa-debug-exit.
public final class DebugPorts: PortDevice {
    public var console: [UInt8] = []
    public var onConsoleByte: (UInt8) -> Void = { _ in }
    public var onExit: (Int32) -> Void = { _ in }

    public init() {}

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        port == 0xE9 ? 0xE9 : 0xFF
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        switch port {
        case 0xF4: onExit(Int32(truncatingIfNeeded: (value & maskOf(size)) << 1 | 1))
        case 0x80: break // POST codes
        default:
            let b = UInt8(truncatingIfNeeded: value)
            console.append(b)
            onConsoleByte(b)
        }
    }
}
