/// IN and OUT with an immediate port or DX (E4-E7, EC-EF).
extension CPU {
    func ioInstruction(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        let port = opcode >= 0xEC ? UInt16(truncatingIfNeeded: regs[Reg.dx]) : UInt16(fetch8())
        if opcode & 2 == 0 {
            setReg(Reg.ax, size, io.read(port, size: size) & maskOf(size))
        } else {
            io.write(port, size: size, value: getReg(Reg.ax, size))
        }
    }
}
