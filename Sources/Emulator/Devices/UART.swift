/// 16550A UART as COM1 (0x3F8-0x3FF). Transmission is instant: every byte written to
/// THR goes to `output`. Received bytes come from `input`. No interrupts are raised.
public final class UART: PortDevice {
    public var output: (UInt8) -> Void = { _ in }
    public var input: [UInt8] = []
    private var ier: UInt8 = 0, lcr: UInt8 = 0, mcr: UInt8 = 0, scratch: UInt8 = 0, fcr: UInt8 = 0
    private var divisor: UInt16 = 12
    let base: UInt16

    public init(base: UInt16 = 0x3F8) { self.base = base }

    private var dlab: Bool { lcr & 0x80 != 0 }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        switch port - base {
        case 0:
            if dlab { return UInt32(divisor & 0xFF) }
            return input.isEmpty ? 0 : UInt32(input.removeFirst())
        case 1: return dlab ? UInt32(divisor >> 8) : UInt32(ier)
        case 2: return fcr & 1 != 0 ? 0xC1 : 0x01
        case 3: return UInt32(lcr)
        case 4: return UInt32(mcr)
        case 5: return 0x60 | (input.isEmpty ? 0 : 1)
        case 6: return mcr & 0x10 != 0 ? UInt32((mcr & 0x0F) << 4) : 0xB0
        default: return UInt32(scratch)
        }
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        switch port - base {
        case 0:
            if dlab { divisor = (divisor & 0xFF00) | UInt16(v) } else if mcr & 0x10 != 0 { input.append(v) } else { output(v) }
        case 1: if dlab { divisor = (divisor & 0xFF) | UInt16(v) << 8 } else { ier = v & 0x0F }
        case 2: fcr = v
        case 3: lcr = v
        case 4: mcr = v & 0x1F
        case 7: scratch = v
        default: break
        }
    }
}
