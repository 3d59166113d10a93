/// The BIOS, written in Swift. Every interrupt vector points at a tiny ROM stub at
/// F000:1000+8n whose first instruction is the trap opcode 0F FF n; the CPU hands the trap
/// to `trap(_:vector:)`, the Swift service runs, and the stub's IRET returns to the caller.
public final class BIOS: TrapHandler {
    static let romSegment: UInt16 = 0xF000
    static let stubBase: UInt16 = 0x1000
    static let disketteTable: UInt16 = 0xEFC7
    static let configTable: UInt16 = 0xE6F5
    static let ebdaSegment: UInt16 = 0x9FC0

    /// The machine owns the BIOS: a strong reference back would keep every Machine alive.
    /// unowned(unsafe): the machine outlives its BIOS, and every BIOS call reads it (a
    /// checked unowned reference cost a retain and a release each time).
    unowned(unsafe) let machine: Machine
    var mem: Memory { machine.memory }
    var lastDiskStatus: [Int: UInt8] = [:]

    init(machine: Machine) { self.machine = machine }

    static func stubOffset(_ vector: Int) -> UInt16 { stubBase + UInt16(vector * 8) }

    /// Writes the ROM (stubs, tables, reset vector, date) and the interrupt vector table.
    func installROM() {
        let rom = UInt32(BIOS.romSegment) << 4
        for v in 0..<256 {
            // Vectors the BIOS serves trap to Swift; the rest (1Ch user tick, DOS range,
            // ...) just return.
            let serviced = v < 0x1C || (0x70...0x77).contains(v)
            var stub: [UInt8] = serviced ? [0x0F, 0xFF, UInt8(v), 0xCF] : [0xCF]
            if v == 0x08 { stub = [0x0F, 0xFF, 0x08, 0xCD, 0x1C, 0xCF] } // timer: chain to int 1Ch
            let at = rom + UInt32(BIOS.stubOffset(v))
            for (i, b) in stub.enumerated() { mem.poke(Int(at) + i, b) }
            mem.write16(UInt32(v * 4), BIOS.stubOffset(v))
            mem.write16(UInt32(v * 4 + 2), BIOS.romSegment)
        }
        // int 1Eh: diskette parameter table (1.44 MB values).
        let dpt: [UInt8] = [0xAF, 0x02, 0x25, 0x02, 18, 0x1B, 0xFF, 0x6C, 0xF6, 0x0F, 0x08]
        for (i, b) in dpt.enumerated() { mem.poke(Int(rom) + Int(BIOS.disketteTable) + i, b) }
        mem.write16(0x1E * 4, BIOS.disketteTable)
        // int 1Dh, 1Fh, 41h, 46h: no tables.
        for v in [0x1D, 0x1F, 0x41, 0x46] { mem.write16(UInt32(v * 4), 0); mem.write16(UInt32(v * 4 + 2), 0) }
        // int 15h/C0h system configuration table: model FC, second PIC, RTC, EBDA, 15h/4Fh.
        let config: [UInt8] = [8, 0, 0xFC, 0x01, 0x00, 0x74, 0x40, 0, 0, 0]
        for (i, b) in config.enumerated() { mem.poke(Int(rom) + Int(BIOS.configTable) + i, b) }
        // Reset vector: JMP F000:stub(19h); BIOS date and model byte.
        let reset = Int(rom) + 0xFFF0
        let jmp: [UInt8] = [0xEA, UInt8(BIOS.stubOffset(0x19) & 0xFF), UInt8(BIOS.stubOffset(0x19) >> 8), 0x00, 0xF0]
        for (i, b) in jmp.enumerated() { mem.poke(reset + i, b) }
        for (i, c) in "11/26/26".utf8.enumerated() { mem.poke(Int(rom) + 0xFFF5 + i, c) }
        mem.poke(Int(rom) + 0xFFFE, 0xFC)
        mem.romStart = 0xF0000
    }

    public func trap(_ cpu: CPU, vector: UInt8) {
        switch vector {
        case 0x00: machine.guestFailure("divide error (int 0) with no guest handler, at \(returnAddress(cpu))")
        case 0x06: machine.guestFailure("invalid opcode (int 6) with no guest handler, at \(returnAddress(cpu))")
        case 0x08: timerTick(cpu)
        case 0x09: keyboardIRQ(cpu)
        case 0x0A...0x0F: machine.pic.endOfInterrupt(0)
        case 0x70...0x77: machine.pic.endOfInterrupt(8)
        case 0x10: video(cpu)
        case 0x11: cpu.setReg16(Reg.ax, mem.read16(0x410))
        case 0x12: cpu.setReg16(Reg.ax, mem.read16(0x413))
        case 0x13: disk(cpu)
        case 0x14: cpu.setReg8(4, 0x80) // serial services: report timeout, use the UART directly
        case 0x15: system(cpu)
        case 0x16: keyboard(cpu)
        case 0x17: cpu.setReg8(4, 0x30)
        case 0x18: machine.guestFailure("no bootable device: the guest called int 18h")
        case 0x19: bootstrap(cpu)
        case 0x1A: time(cpu)
        default: break
        }
    }

    /// CS:IP of the instruction after the INT that reached the BIOS.
    func returnAddress(_ cpu: CPU) -> String {
        let sp = UInt32(cpu.reg16(Reg.sp))
        let ss = cpu.segmentBase(Seg.ss)
        return "\(hex16(mem.read16(ss &+ sp &+ 2))):\(hex16(mem.read16(ss &+ sp)))"
    }

    /// Sets CF (and optionally ZF) both live and in the FLAGS image the stub's IRET restores.
    func setReturnFlags(_ cpu: CPU, carry: Bool? = nil, zero: Bool? = nil) {
        let addr = cpu.segmentBase(Seg.ss) &+ ((UInt32(cpu.reg16(Reg.sp)) &+ 4) & 0xFFFF)
        var image = mem.read16(addr)
        if let c = carry { cpu.setFlag(F.cf, c); image = c ? image | 1 : image & ~1 }
        if let z = zero { cpu.setFlag(F.zf, z); image = z ? image | 0x40 : image & ~0x40 }
        mem.write16(addr, image)
    }

    /// Makes the stub's trap run again after the next interrupt (for services that wait).
    func waitAndRetry(_ cpu: CPU) {
        cpu.eip = cpu.eip &- 3
        cpu.flags |= F.if
        cpu.halted = true
    }
}

extension CPU {
    /// Linear address of seg:off in real mode.
    func realAddress(_ seg: Int, _ off: UInt16) -> UInt32 { segBase[seg] &+ UInt32(off) }
}
