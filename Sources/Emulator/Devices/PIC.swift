/// A pair of cascaded 8259A interrupt controllers (master 0x20/0x21, slave 0xA0/0xA1).
/// Edge-triggered, fully nested; enough of the ICW/OCW protocol for BIOS-style setups.
public final class PIC: PortDevice {
    private final class Chip {
        var irr: UInt8 = 0, isr: UInt8 = 0, imr: UInt8 = 0xFF
        var vectorBase: UInt8
        var initStep = 0
        var expectICW4 = false
        var readISR = false
        var autoEOI = false
        init(base: UInt8) { vectorBase = base }

        /// Highest-priority requested line not masked and not blocked by one in service.
        func pendingLine() -> Int? {
            let req = irr & ~imr
            guard req != 0 else { return nil }
            for line in 0..<8 {
                if isr & (1 << line) != 0 { return nil }
                if req & (1 << line) != 0 { return line }
            }
            return nil
        }

        func write(_ cmdPort: Bool, _ v: UInt8) {
            if cmdPort {
                if v & 0x10 != 0 { // ICW1
                    initStep = 2; expectICW4 = v & 1 != 0; imr = 0; isr = 0; irr = 0; readISR = false
                } else if v & 0x18 == 0 { // OCW2
                    let cmd = v >> 5
                    if cmd == 1 || cmd == 5 { // non-specific EOI
                        for line in 0..<8 where isr & (1 << line) != 0 { isr &= ~(1 << line); break }
                    } else if cmd == 3 || cmd == 7 {
                        isr &= ~(1 << (v & 7))
                    }
                } else if v & 0x18 == 0x08 { // OCW3
                    if v & 2 != 0 { readISR = v & 1 != 0 }
                }
                return
            }
            switch initStep {
            case 2: vectorBase = v & 0xF8; initStep = 3
            case 3: initStep = expectICW4 ? 4 : 0
            case 4: autoEOI = v & 2 != 0; initStep = 0
            default: imr = v
            }
        }

        func read(_ cmdPort: Bool) -> UInt8 {
            cmdPort ? (readISR ? isr : irr) : imr
        }
    }

    private let master = Chip(base: 0x08)
    private let slave = Chip(base: 0x70)

    public init() {}

    public func raise(_ irq: Int) {
        if irq < 8 { master.irr |= 1 << irq } else { slave.irr |= 1 << (irq - 8); master.irr |= 1 << 2 }
    }

    /// Whether an interrupt would be delivered to a CPU with IF set.
    public var hasPending: Bool {
        if let line = master.pendingLine() {
            return line != 2 || slave.pendingLine() != nil
        }
        return false
    }

    /// Whether a request on master line `irq` could be delivered at all: the line is not
    /// masked and no line of equal or higher priority is in service (only the guest's own
    /// EOI or unmasking could change either).
    public func canDeliver(masterLine irq: Int) -> Bool {
        master.imr & (1 << irq) == 0 && master.isr & ((2 << irq) - 1) == 0
    }

    /// INTA cycle: returns the vector and moves the request to in-service.
    public func acknowledge() -> Int? {
        guard let line = master.pendingLine() else { return nil }
        if line == 2 {
            guard let s = slave.pendingLine() else { master.irr &= ~4; return nil }
            slave.irr &= ~(1 << s)
            if slave.irr & ~slave.imr == 0 { master.irr &= ~4 }
            if !slave.autoEOI { slave.isr |= 1 << s }
            if !master.autoEOI { master.isr |= 4 }
            return Int(slave.vectorBase) + s
        }
        master.irr &= ~(1 << line)
        if !master.autoEOI { master.isr |= 1 << line }
        return Int(master.vectorBase) + line
    }

    /// End of interrupt for `irq` as the BIOS handlers issue it.
    public func endOfInterrupt(_ irq: Int) {
        if irq >= 8 { slave.write(true, 0x20) }
        master.write(true, 0x20)
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        let chip = port & 0x80 != 0 ? slave : master
        return UInt32(chip.read(port & 1 == 0))
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let chip = port & 0x80 != 0 ? slave : master
        chip.write(port & 1 == 0, UInt8(truncatingIfNeeded: value))
    }
}
