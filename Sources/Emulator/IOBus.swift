/// A device that answers I/O port accesses. Devices are classes so the bus can keep a
/// port-indexed table of them; port I/O is rare enough that the dynamic call is fine.
public protocol PortDevice: AnyObject {
    func portRead(_ port: UInt16, size: Int) -> UInt32
    func portWrite(_ port: UInt16, size: Int, value: UInt32)
}

/// Routes the 64 Ki I/O ports to devices; unclaimed ports read as all ones.
public final class IOBus {
    /// Per port, 1 + the index of its device in `devices`, or 0: a byte table is quick to
    /// build and to free (a table of 64 Ki references cost a millisecond to release at exit).
    private var deviceOfPort = [UInt8](repeating: 0, count: 0x10000)
    private var devices: [PortDevice] = []
    /// Port accesses so far: each costs the guest about a microsecond of (virtual) time,
    /// as an ISA bus cycle does, which keeps port-polling delay loops short.
    public private(set) var accessCount: UInt64 = 0

    public init() {}

    private func number(of device: PortDevice) -> UInt8 {
        if let i = devices.firstIndex(where: { $0 === device }) { return UInt8(i + 1) }
        precondition(devices.count < 255, "too many port devices")
        devices.append(device)
        return UInt8(devices.count)
    }

    public func attach(_ device: PortDevice, ports: [UInt16]) {
        let n = number(of: device)
        for p in ports { deviceOfPort[Int(p)] = n }
    }

    public func attach(_ device: PortDevice, range: ClosedRange<UInt16>) {
        let n = number(of: device)
        for p in range { deviceOfPort[Int(p)] = n }
    }

    public func read(_ port: UInt16, size: Int) -> UInt32 {
        accessCount &+= 1
        let n = Int(deviceOfPort[Int(port)])
        if n != 0 { return devices[n - 1].portRead(port, size: size) }
        return size == 1 ? 0xFF : size == 2 ? 0xFFFF : 0xFFFF_FFFF
    }

    public func write(_ port: UInt16, size: Int, value: UInt32) {
        accessCount &+= 1
        let n = Int(deviceOfPort[Int(port)])
        if n != 0 { devices[n - 1].portWrite(port, size: size, value: value) }
    }
}
