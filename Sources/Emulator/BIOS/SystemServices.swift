/// int 15h: memory size queries (E820, E801, 88h), A20 (24xxh), configuration (C0h),
/// EBDA (C1h), wait (86h), block move (87h).
extension BIOS {
    func system(_ cpu: CPU) {
        let ax = cpu.reg16(Reg.ax), ah = cpu.reg8(4)
        let memoryBytes = machine.memory.size
        switch ax {
        case 0x2400, 0x2401:
            mem.a20Enabled = ax == 0x2401
            cpu.setReg8(4, 0); setReturnFlags(cpu, carry: false); return
        case 0x2402:
            cpu.setReg16(Reg.ax, mem.a20Enabled ? 1 : 0); setReturnFlags(cpu, carry: false); return
        case 0x2403:
            cpu.setReg16(Reg.ax, 0); cpu.setReg16(Reg.bx, 3); setReturnFlags(cpu, carry: false); return
        case 0xE820: memoryMap(cpu); return
        case 0xE801:
            let above1M = max(0, memoryBytes - (1 << 20))
            let low = UInt16(min(above1M / 1024, 0x3C00))
            let high = UInt16(min(max(0, memoryBytes - (16 << 20)) >> 16, 0xFFFF))
            cpu.setReg16(Reg.ax, low); cpu.setReg16(Reg.cx, low)
            cpu.setReg16(Reg.bx, high); cpu.setReg16(Reg.dx, high)
            setReturnFlags(cpu, carry: false); return
        default: break
        }
        switch ah {
        case 0x88:
            cpu.setReg16(Reg.ax, UInt16(min(max(0, memoryBytes / 1024 - 1024), 0xFFFF)))
            setReturnFlags(cpu, carry: false)
        case 0xC0:
            cpu.setSegmentReal(Seg.es, BIOS.romSegment)
            cpu.setReg16(Reg.bx, BIOS.configTable)
            cpu.setReg8(4, 0)
            setReturnFlags(cpu, carry: false)
        case 0xC1:
            cpu.setSegmentReal(Seg.es, BIOS.ebdaSegment)
            setReturnFlags(cpu, carry: false)
        case 0x86:
            let micros = UInt64(cpu.reg16(Reg.cx)) << 16 | UInt64(cpu.reg16(Reg.dx))
            machine.skipTime(nanoseconds: micros * 1000)
            cpu.setReg8(4, 0)
            setReturnFlags(cpu, carry: false)
        case 0x87: blockMove(cpu)
        case 0x4F: setReturnFlags(cpu, carry: true)
        case 0x90, 0x91: cpu.setReg8(4, 0); setReturnFlags(cpu, carry: false)
        default:
            cpu.setReg8(4, 0x86)
            setReturnFlags(cpu, carry: true)
        }
    }

    /// The E820 table: conventional memory, EBDA, BIOS ROM, extended memory.
    private func memoryMapEntries() -> [(UInt64, UInt64, UInt32)] {
        let size = UInt64(machine.memory.size)
        return [
            (0, 0x9FC00, 1),
            (0x9FC00, 0x400, 2),
            (0xF0000, 0x10000, 2),
            (0x100000, size - 0x100000, 1),
        ]
    }

    private func memoryMap(_ cpu: CPU) {
        let entries = memoryMapEntries()
        let index = Int(cpu.reg32(Reg.bx))
        guard cpu.reg32(Reg.dx) == 0x534D_4150, index < entries.count, cpu.reg32(Reg.cx) >= 20 else {
            cpu.setReg8(4, 0x86); setReturnFlags(cpu, carry: true); return
        }
        let (base, length, type) = entries[index]
        let at = cpu.realAddress(Seg.es, cpu.reg16(Reg.di))
        mem.write32(at, UInt32(truncatingIfNeeded: base)); mem.write32(at + 4, UInt32(truncatingIfNeeded: base >> 32))
        mem.write32(at + 8, UInt32(truncatingIfNeeded: length)); mem.write32(at + 12, UInt32(truncatingIfNeeded: length >> 32))
        mem.write32(at + 16, type)
        if cpu.reg32(Reg.cx) >= 24 { mem.write32(at + 20, 1); cpu.setReg32(Reg.cx, 24) } else { cpu.setReg32(Reg.cx, 20) }
        cpu.setReg32(Reg.ax, 0x534D_4150)
        cpu.setReg32(Reg.bx, index + 1 < entries.count ? UInt32(index + 1) : 0)
        setReturnFlags(cpu, carry: false)
    }

    /// AH=87h: copy CX words between the source (GDT+10h) and destination (GDT+18h)
    /// descriptors of the table at ES:SI.
    private func blockMove(_ cpu: CPU) {
        let gdt = cpu.realAddress(Seg.es, cpu.reg16(Reg.si))
        func base(_ d: UInt32) -> UInt32 { UInt32(mem.read16(d + 2)) | UInt32(mem.read8(d + 4)) << 16 | UInt32(mem.read8(d + 7)) << 24 }
        let src = base(gdt + 0x10), dst = base(gdt + 0x18)
        let bytes = UInt32(cpu.reg16(Reg.cx)) * 2
        let saved = mem.a20Mask
        mem.a20Mask = 0xFFFF_FFFF
        for i in 0..<bytes { mem.write8(dst &+ i, mem.read8(src &+ i)) }
        mem.a20Mask = saved
        cpu.setReg8(4, 0)
        setReturnFlags(cpu, carry: false, zero: true)
    }
}
