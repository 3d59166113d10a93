/// Fills the BIOS data area (0x400) and the EBDA the way a PC BIOS leaves them after POST.
extension BIOS {
    func fillDataArea() {
        for a in 0x400..<0x500 { mem.poke(a, 0) }
        mem.write16(0x400, 0x3F8) // COM1
        var equipment: UInt16 = 0x0020 | 0x0200 // 80x25 colour, one serial port
        if machine.floppy != nil { equipment |= 0x0001 }
        mem.write16(0x410, equipment)
        mem.write16(0x40E, BIOS.ebdaSegment)
        mem.write16(0x413, 639)
        mem.write16(0x41A, 0x1E); mem.write16(0x41C, 0x1E)
        mem.write16(0x480, 0x1E); mem.write16(0x482, 0x3E)
        mem.poke(0x449, 0x03)
        mem.write16(0x44A, 80)
        mem.write16(0x44C, 0x1000)
        mem.write16(0x460, 0x0607)
        mem.write16(0x463, 0x3D4)
        mem.poke(0x465, 0x29)
        mem.poke(0x475, machine.hardDisk != nil ? 1 : 0)
        mem.poke(0x484, 24)
        mem.write16(0x485, 16)
        mem.poke(0x487, 0x60)
        mem.poke(0x488, 0xF9)
        mem.poke(0x489, 0x51)
        mem.poke(0x496, 0x10)
        // The tick counter starts at the RTC's time of day, as POST sets it.
        let cmos = machine.cmos
        func decimal(_ bcd: UInt8) -> UInt32 { UInt32(bcd >> 4) * 10 + UInt32(bcd & 0xF) }
        let seconds = decimal(cmos.read(0x04)) * 3600 + decimal(cmos.read(0x02)) * 60 + decimal(cmos.read(0x00))
        mem.write32(0x46C, UInt32(UInt64(seconds) * 1_193_182 / 65536))
        let ebda = Int(BIOS.ebdaSegment) << 4
        for a in ebda..<ebda + 0x400 { mem.poke(a, 0) }
        mem.poke(ebda, 1) // size in KiB
        // Clear the text screen to grey-on-black blanks.
        for i in 0..<(80 * 25) { mem.write16(VGAText.base + UInt32(i * 2), 0x0720) }
    }

    /// Programs the PICs (vectors 08h and 70h, IRQ 0-2 unmasked) and the PIT (18.2 Hz) as POST does.
    func initializeDevices() {
        let io = machine.io
        for (base, vector, cascade, mask) in [(UInt16(0x20), UInt32(0x08), UInt32(0x04), UInt32(0xF8)), (0xA0, 0x70, 0x02, 0xFF)] {
            io.write(base, size: 1, value: 0x11)
            io.write(base + 1, size: 1, value: vector)
            io.write(base + 1, size: 1, value: cascade)
            io.write(base + 1, size: 1, value: 0x01)
            io.write(base + 1, size: 1, value: mask)
        }
        io.write(0x43, size: 1, value: 0x36)
        io.write(0x40, size: 1, value: 0)
        io.write(0x40, size: 1, value: 0)
    }

    /// Timer tick counter at 0x46C, wrapping at midnight (0x1800B0 ticks).
    func timerTick(_ cpu: CPU) {
        var ticks = mem.read32(0x46C) &+ 1
        if ticks >= 0x1800B0 { ticks = 0; mem.poke(0x470, 1) }
        mem.write32(0x46C, ticks)
        if mem.bytes[0x440] > 0 { mem.poke(0x440, mem.bytes[0x440] - 1) }
        machine.pic.endOfInterrupt(0)
    }
}
