/// 8253/8254 programmable interval timer on virtual time. Channel 0 drives IRQ0;
/// channel 2's gate and output are reached through port 0x61.
public final class PIT: PortDevice {
    public static let hz: UInt64 = 1_193_182

    struct Channel {
        var reload: UInt32 = 0x10000
        var mode: UInt8 = 3
        var access: UInt8 = 3
        var startTick: UInt64 = 0
        var latched: UInt16?
        var readHigh = false, writeHigh = false
        var pendingLow: UInt8 = 0
        var armed = true

        func count(at tick: UInt64) -> UInt32 {
            let elapsed = tick &- startTick
            if mode == 0 || mode == 1 {
                return elapsed >= UInt64(reload) ? UInt32(truncatingIfNeeded: (UInt64(0x10000) &- (elapsed - UInt64(reload))) & 0xFFFF) : reload - UInt32(elapsed)
            }
            let step = mode == 3 ? 2 : 1
            return (reload - UInt32((elapsed * UInt64(step)) % UInt64(reload))) & 0xFFFF
        }

        func output(at tick: UInt64) -> Bool {
            let elapsed = tick &- startTick
            switch mode {
            case 0, 1: return elapsed >= UInt64(reload)
            case 3: return elapsed % UInt64(reload) < UInt64(reload + 1) / 2
            default: return elapsed % UInt64(reload) != UInt64(reload) - 1
            }
        }
    }

    var channels = [Channel(), Channel(), Channel()]
    /// Port 0x61 bits 0 (gate 2) and 1 (speaker data).
    var port61: UInt8 = 0
    private var refreshToggle = false
    /// Current virtual time in PIT ticks, refreshed from `clock` on every port access so a
    /// guest polling the counter sees it move between the machine's timer updates.
    public var now: UInt64 = 0
    public var clock: () -> UInt64 = { 0 }
    private var nextIRQ0: UInt64 = 0x10000
    let pic: PIC

    public init(pic: PIC) { self.pic = pic }

    /// Moves time forward, raising IRQ0 for every channel 0 period that ended.
    public func advance(to tick: UInt64) {
        now = tick
        let c = channels[0]
        if c.mode == 0 || c.mode == 1 {
            if c.armed && tick &- c.startTick >= UInt64(c.reload) {
                channels[0].armed = false
                pic.raise(0)
            }
            return
        }
        if tick >= nextIRQ0 {
            pic.raise(0)
            let period = UInt64(c.reload)
            let missed = (tick - nextIRQ0) / period
            nextIRQ0 += (missed + 1) * period
        }
    }

    /// When the next IRQ0 is due (for fast-forwarding a halted CPU).
    public var nextEventTick: UInt64 {
        let c = channels[0]
        if c.mode == 0 || c.mode == 1 { return c.armed ? c.startTick + UInt64(c.reload) : UInt64.max }
        return nextIRQ0
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        now = max(now, clock())
        if port == 0x61 {
            refreshToggle.toggle()
            let out2: UInt8 = (port61 & 1 != 0 && channels[2].output(at: now)) ? 0x20 : 0
            return UInt32(port61 & 0x0F | out2 | (refreshToggle ? 0x10 : 0))
        }
        let i = Int(port & 3)
        guard i < 3 else { return 0xFF }
        var c = channels[i]
        let v = c.latched ?? UInt16(truncatingIfNeeded: c.count(at: now))
        var result: UInt8
        switch c.access {
        case 1: result = UInt8(truncatingIfNeeded: v); c.latched = nil
        case 2: result = UInt8(truncatingIfNeeded: v >> 8); c.latched = nil
        default:
            result = c.readHigh ? UInt8(truncatingIfNeeded: v >> 8) : UInt8(truncatingIfNeeded: v)
            if c.readHigh { c.latched = nil } else if c.latched == nil { c.latched = v }
            c.readHigh.toggle()
        }
        channels[i] = c
        return UInt32(result)
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        now = max(now, clock())
        let v = UInt8(truncatingIfNeeded: value)
        if port == 0x61 {
            let gateRising = v & 1 != 0 && port61 & 1 == 0
            port61 = v & 0x0F
            if gateRising { channels[2].startTick = now }
            return
        }
        if port == 0x43 {
            let i = Int(v >> 6)
            guard i < 3 else { return } // read-back command: not needed by boot code
            if v & 0x30 == 0 {
                channels[i].latched = UInt16(truncatingIfNeeded: channels[i].count(at: now))
                channels[i].readHigh = false
                return
            }
            channels[i].access = (v >> 4) & 3
            channels[i].mode = (v >> 1) & 7 > 5 ? (v >> 1) & 3 : (v >> 1) & 7
            channels[i].readHigh = false
            channels[i].writeHigh = false
            channels[i].latched = nil
            return
        }
        let i = Int(port & 3)
        guard i < 3 else { return }
        var c = channels[i]
        var complete = false
        switch c.access {
        case 1: c.reload = UInt32(v); complete = true
        case 2: c.reload = UInt32(v) << 8; complete = true
        default:
            if c.writeHigh { c.reload = UInt32(c.pendingLow) | UInt32(v) << 8; complete = true } else { c.pendingLow = v }
            c.writeHigh.toggle()
        }
        if complete {
            if c.reload == 0 { c.reload = 0x10000 }
            c.startTick = now
            c.armed = true
            if i == 0 { nextIRQ0 = now + UInt64(c.reload) }
        }
        channels[i] = c
    }
}
