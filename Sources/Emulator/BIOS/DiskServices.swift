/// int 13h: CHS and EDD (41h-48h) services for floppy 00h and hard disk 80h.
extension BIOS {
    private func drive(_ dl: UInt8) -> Disk? {
        if dl == 0x00 { return machine.floppy }
        if dl == 0x80 { return machine.hardDisk }
        return nil
    }

    private func finish(_ cpu: CPU, _ dl: UInt8, status: UInt8) {
        cpu.setReg8(4, status)
        lastDiskStatus[Int(dl)] = status
        mem.poke(dl & 0x80 != 0 ? 0x474 : 0x441, status)
        setReturnFlags(cpu, carry: status != 0)
    }

    func disk(_ cpu: CPU) {
        let ah = cpu.reg8(4), dl = cpu.reg8(2)
        guard let d = drive(dl) else {
            // No such drive: also how DOS-era code counts drives.
            if ah == 0x15 { cpu.setReg8(4, 0); setReturnFlags(cpu, carry: false); return }
            finish(cpu, dl, status: dl & 0x80 != 0 ? 0x01 : 0x80)
            return
        }
        switch ah {
        case 0x00, 0x0D, 0x10, 0x11, 0x0C, 0x04, 0x16: finish(cpu, dl, status: 0)
        case 0x01:
            cpu.setReg8(4, lastDiskStatus[Int(dl)] ?? 0)
            setReturnFlags(cpu, carry: (lastDiskStatus[Int(dl)] ?? 0) != 0)
        case 0x02, 0x03: chsTransfer(cpu, d, write: ah == 3)
        case 0x08: parameters(cpu, d)
        case 0x15:
            if d.isFloppy { cpu.setReg8(4, 0x01) } else {
                cpu.setReg8(4, 0x03)
                cpu.setReg16(Reg.cx, UInt16(truncatingIfNeeded: d.sectorCount >> 16))
                cpu.setReg16(Reg.dx, UInt16(truncatingIfNeeded: d.sectorCount))
            }
            setReturnFlags(cpu, carry: false)
        case 0x41:
            guard cpu.reg16(Reg.bx) == 0x55AA, !d.isFloppy else { finish(cpu, dl, status: 0x01); return }
            cpu.setReg16(Reg.bx, 0xAA55)
            cpu.setReg16(Reg.cx, 0x0005) // fixed-disk access and EDD
            cpu.setReg8(4, 0x30)
            setReturnFlags(cpu, carry: false)
        case 0x42, 0x43: extendedTransfer(cpu, d, write: ah == 0x43)
        case 0x44, 0x47: finish(cpu, dl, status: 0)
        case 0x48: extendedParameters(cpu, d)
        default: finish(cpu, dl, status: 0x01)
        }
    }

    private func chsTransfer(_ cpu: CPU, _ d: Disk, write: Bool) {
        let count = Int(cpu.reg8(0))
        let cl = Int(cpu.reg8(1)), ch = Int(cpu.reg8(5))
        let cylinder = ch | (cl & 0xC0) << 2, sector = cl & 0x3F, head = Int(cpu.reg8(6))
        let dl = cpu.reg8(2)
        guard count > 0, sector >= 1, sector <= d.sectorsPerTrack, head < d.heads else {
            cpu.setReg8(0, 0); finish(cpu, dl, status: 0x01); return
        }
        let lba = d.lba(cylinder: cylinder, head: head, sector: sector)
        let buffer = cpu.realAddress(Seg.es, cpu.reg16(Reg.bx))
        if transfer(d, lba: lba, count: count, buffer: buffer, write: write) {
            cpu.setReg8(0, UInt8(count)); finish(cpu, dl, status: 0)
        } else {
            cpu.setReg8(0, 0); finish(cpu, dl, status: 0x04)
        }
    }

    /// Moves sectors between the disk and guest physical memory.
    func transfer(_ d: Disk, lba: UInt64, count: Int, buffer: UInt32, write: Bool) -> Bool {
        if write {
            let data = mem.slice(Int(buffer), count * Disk.sectorSize)
            return d.write(lba: lba, data: data[...])
        }
        var data: [UInt8] = []
        guard d.read(lba: lba, count: count, into: &data) else { return false }
        for i in 0..<data.count { mem.write8(buffer &+ UInt32(i), data[i]) }
        return true
    }

    private func parameters(_ cpu: CPU, _ d: Disk) {
        let drive = cpu.reg8(2)
        let maxCyl = d.cylinders - 1
        cpu.setReg8(5, UInt8(maxCyl & 0xFF))
        cpu.setReg8(1, UInt8(d.sectorsPerTrack & 0x3F) | UInt8((maxCyl >> 2) & 0xC0))
        cpu.setReg8(6, UInt8(d.heads - 1))
        if d.isFloppy {
            cpu.setReg8(3, d.floppyType)
            cpu.setReg8(2, 1)
            cpu.setSegmentReal(Seg.es, BIOS.romSegment)
            cpu.setReg16(Reg.di, BIOS.disketteTable)
        } else {
            cpu.setReg8(2, 1)
        }
        cpu.setReg8(0, 0)
        finish(cpu, drive, status: 0)
    }

    private func extendedTransfer(_ cpu: CPU, _ d: Disk, write: Bool) {
        let dap = cpu.realAddress(Seg.ds, cpu.reg16(Reg.si))
        let size = mem.read8(dap)
        let count = Int(mem.read16(dap + 2))
        var buffer = UInt32(mem.read16(dap + 6)) << 4 + UInt32(mem.read16(dap + 4))
        if mem.read32(dap + 4) == 0xFFFF_FFFF && size >= 0x18 { buffer = mem.read32(dap + 0x10) }
        let lba = UInt64(mem.read32(dap + 8)) | UInt64(mem.read32(dap + 12)) << 32
        let dl = cpu.reg8(2)
        guard size >= 0x10 else { finish(cpu, dl, status: 0x01); return }
        if count == 0 { finish(cpu, dl, status: 0); return }
        if transfer(d, lba: lba, count: count, buffer: buffer, write: write) {
            finish(cpu, dl, status: 0)
        } else {
            mem.write16(dap + 2, 0)
            finish(cpu, dl, status: 0x04)
        }
    }

    private func extendedParameters(_ cpu: CPU, _ d: Disk) {
        let buf = cpu.realAddress(Seg.ds, cpu.reg16(Reg.si))
        let size = mem.read16(buf)
        guard size >= 0x1A else { finish(cpu, cpu.reg8(2), status: 0x01); return }
        mem.write16(buf, 0x1A)
        mem.write16(buf + 2, 0x0002) // CHS information valid
        mem.write32(buf + 4, UInt32(d.cylinders))
        mem.write32(buf + 8, UInt32(d.heads))
        mem.write32(buf + 12, UInt32(d.sectorsPerTrack))
        mem.write32(buf + 16, UInt32(truncatingIfNeeded: d.sectorCount))
        mem.write32(buf + 20, UInt32(truncatingIfNeeded: d.sectorCount >> 32))
        mem.write16(buf + 24, UInt16(Disk.sectorSize))
        finish(cpu, cpu.reg8(2), status: 0)
    }
}
