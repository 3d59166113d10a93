/// int 1Ah: tick counter and the RTC's time and date.
extension BIOS {
    func time(_ cpu: CPU) {
        let ah = cpu.reg8(4)
        let cmos = machine.cmos
        switch ah {
        case 0x00:
            let ticks = mem.read32(0x46C)
            cpu.setReg16(Reg.cx, UInt16(ticks >> 16)); cpu.setReg16(Reg.dx, UInt16(ticks & 0xFFFF))
            cpu.setReg8(0, mem.read8(0x470)); mem.poke(0x470, 0)
        case 0x01:
            mem.write32(0x46C, UInt32(cpu.reg16(Reg.cx)) << 16 | UInt32(cpu.reg16(Reg.dx)))
            mem.poke(0x470, 0)
        case 0x02:
            cpu.setReg8(5, cmos.read(0x04)); cpu.setReg8(1, cmos.read(0x02)); cpu.setReg8(6, cmos.read(0x00)); cpu.setReg8(2, 0)
            setReturnFlags(cpu, carry: false)
        case 0x04:
            cpu.setReg8(5, cmos.read(0x32)); cpu.setReg8(1, cmos.read(0x09)); cpu.setReg8(6, cmos.read(0x08)); cpu.setReg8(2, cmos.read(0x07))
            setReturnFlags(cpu, carry: false)
        case 0x03, 0x05: setReturnFlags(cpu, carry: false)
        default:
            // PCI BIOS (B1xxh) and everything else: not present.
            cpu.setReg8(4, 0x86)
            setReturnFlags(cpu, carry: true)
        }
    }
}
