/// Port 0x92 ("fast A20"): bit 1 is the A20 gate, bit 0 pulses a CPU reset.
public final class SystemControlPort: PortDevice {
    let memory: Memory
    public var onReset: () -> Void = {}

    public init(memory: Memory) { self.memory = memory }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        memory.a20Enabled ? 0x02 : 0x00
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        memory.a20Enabled = value & 2 != 0
        if value & 1 != 0 { onReset() }
    }
}
