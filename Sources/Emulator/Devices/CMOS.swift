#if canImport(Glibc)
import Glibc
#endif

/// MC146818 RTC and CMOS RAM (ports 0x70/0x71). The clock reads the host's UTC time;
/// the configuration bytes describe the machine as a BIOS setup would have stored them.
public final class CMOS: PortDevice {
    private var ram = [UInt8](repeating: 0, count: 128)
    private var index = 0

    public init(memoryBytes: Int, floppyType: UInt8) {
        ram[0x0A] = 0x26
        ram[0x0B] = 0x02 // 24-hour, BCD
        ram[0x0D] = 0x80 // battery good
        ram[0x10] = floppyType << 4
        ram[0x14] = 0x05 // floppy present, VGA, coprocessor absent
        ram[0x15] = 0x80; ram[0x16] = 0x02 // 640 KiB base memory
        let extKB = min(max(memoryBytes / 1024 - 1024, 0), 0xFFFF)
        ram[0x17] = UInt8(extKB & 0xFF); ram[0x18] = UInt8(extKB >> 8)
        ram[0x30] = ram[0x17]; ram[0x31] = ram[0x18]
        let above16M = min(max(memoryBytes - 16 << 20, 0) >> 16, 0xFFFF)
        ram[0x34] = UInt8(above16M & 0xFF); ram[0x35] = UInt8(above16M >> 8)
        ram[0x32] = 0x20
    }

    private func bcd(_ v: Int) -> UInt8 { UInt8((v / 10) << 4 | (v % 10)) }

    /// Clock registers are computed on read.
    private func value(_ i: Int) -> UInt8 {
        let t = time(nil)
        var tmv = tm()
        var tt = t
        gmtime_r(&tt, &tmv)
        switch i {
        case 0x00: return bcd(Int(tmv.tm_sec))
        case 0x02: return bcd(Int(tmv.tm_min))
        case 0x04: return bcd(Int(tmv.tm_hour))
        case 0x06: return bcd(Int(tmv.tm_wday) + 1)
        case 0x07: return bcd(Int(tmv.tm_mday))
        case 0x08: return bcd(Int(tmv.tm_mon) + 1)
        case 0x09: return bcd(Int(tmv.tm_year) % 100)
        case 0x32: return bcd((Int(tmv.tm_year) + 1900) / 100)
        case 0x0C: let v = ram[0x0C]; ram[0x0C] = 0; return v
        default: return ram[i]
        }
    }

    public func read(_ i: Int) -> UInt8 { value(i & 0x7F) }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        port == 0x71 ? UInt32(value(index)) : 0xFF
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        if port == 0x70 { index = Int(value & 0x7F) } else if index >= 0x0A { ram[index] = UInt8(truncatingIfNeeded: value) }
    }
}
