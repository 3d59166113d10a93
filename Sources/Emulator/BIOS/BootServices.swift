/// Loading the boot sector (POST's last step and int 19h).
extension BIOS {
    /// Reads sector 0 of the boot drive to 0:7C00, checks the 55AA signature and points the
    /// CPU at it with DL = drive. Returns an error text when the disk is not bootable.
    func loadBootSector(_ cpu: CPU) -> String? {
        let driveNumber: UInt8 = machine.bootFromFloppy ? 0x00 : 0x80
        guard let d = machine.bootFromFloppy ? machine.floppy : machine.hardDisk else { return "no boot drive" }
        var sector: [UInt8] = []
        guard d.read(lba: 0, count: 1, into: &sector) else { return "cannot read the boot sector" }
        guard sector[510] == 0x55 && sector[511] == 0xAA else {
            return "boot sector signature is \(hex8(sector[510]))\(hex8(sector[511])), not 55AA: not bootable"
        }
        mem.load(sector, at: 0x7C00)
        for s in [Seg.es, Seg.ss, Seg.ds, Seg.fs, Seg.gs] { cpu.setSegmentReal(s, 0) }
        cpu.setSegmentReal(Seg.cs, 0)
        cpu.eip = 0x7C00
        cpu.setReg32(Reg.sp, 0x7C00)
        cpu.setReg32(Reg.dx, UInt32(driveNumber))
        cpu.flags = 0x202
        return nil
    }

    func bootstrap(_ cpu: CPU) {
        if let problem = loadBootSector(cpu) { machine.guestFailure("int 19h: \(problem)") }
    }
}
