/// A device that answers I/O port accesses. Devices are classes so the bus can keep a
/// port-indexed table of them; port I/O is rare enough that the dynamic call is fine.
public protocol PortDevice: AnyObject {
    func portRead(_ port: UInt16, size: Int) -> UInt32
    func portWrite(_ port: UInt16, size: Int, value: UInt32)
}

/// Routes the 64 Ki I/O ports to devices; unclaimed ports read as all ones.
public final class IOBus {
    private var table = [PortDevice?](repeating: nil, count: 0x10000)
    /// Port accesses so far: each costs the guest about a microsecond of (virtual) time,
    /// as an ISA bus cycle does, which keeps port-polling delay loops short.
    public private(set) var accessCount: UInt64 = 0

    public init() {}

    public func attach(_ device: PortDevice, ports: [UInt16]) {
        for p in ports { table[Int(p)] = device }
    }

    public func attach(_ device: PortDevice, range: ClosedRange<UInt16>) {
        for p in range { table[Int(p)] = device }
    }

    public func read(_ port: UInt16, size: Int) -> UInt32 {
        accessCount &+= 1
        if let d = table[Int(port)] { return d.portRead(port, size: size) }
        return size == 1 ? 0xFF : size == 2 ? 0xFFFF : 0xFFFF_FFFF
    }

    public func write(_ port: UInt16, size: Int, value: UInt32) {
        accessCount &+= 1
        table[Int(port)]?.portWrite(port, size: size, value: value)
    }
}
