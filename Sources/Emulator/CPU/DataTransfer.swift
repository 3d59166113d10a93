/// MOV, XCHG, LEA, LDS/LES/LSS/LFS/LGS, CBW/CWD, XLAT, MOV to and from segment registers.
extension CPU {
    /// C6/C7: MOV r/m, imm.
    func movRMImm(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        decodeModRM()
        writeRM(size, fetchImm(size))
    }

    /// A0-A3: MOV AL|eAX to and from a direct offset.
    func movMoffs(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        let off = adSize32 ? fetch32() : UInt32(fetch16())
        if opcode & 2 == 0 { setReg(Reg.ax, size, read(dataSeg, off, size)) } else { write(dataSeg, off, size, getReg(Reg.ax, size)) }
    }

    /// 86/87: XCHG r/m, reg.
    func xchgRM(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        decodeModRM()
        let a = readRM(size)
        writeRM(size, getReg(modrmReg, size))
        setReg(modrmReg, size, a)
    }

    func xchgAX(_ r: Int) {
        let a = getReg(Reg.ax, opSize)
        setReg(Reg.ax, opSize, getReg(r, opSize))
        setReg(r, opSize, a)
    }

    func lea() {
        decodeModRM()
        if modrmMod == 3 {
            // Undefined on the 8086 (it reuses the last address); #UD from the 186 on.
            if model == .i8086 { setReg(modrmReg, opSize, eaOff) } else { fault(6) }
            return
        }
        setReg(modrmReg, opSize, eaOff & maskOf(opSize))
    }

    /// LES/LDS/LSS/LFS/LGS: offset then selector from memory.
    func loadFarPointer(_ s: Int) {
        decodeModRM()
        if modrmMod == 3 && model != .i8086 { fault(6); return }
        let off = read(eaSeg, eaOff, opSize)
        let sel = UInt16(truncatingIfNeeded: read(eaSeg, nextOff(eaOff, UInt32(opSize)), 2))
        guard loadSegment(s, sel) else { return }
        setReg(modrmReg, opSize, off)
    }

    /// 8C: MOV r/m, Sreg (a register destination takes the full operand size).
    func movFromSeg() {
        decodeModRM()
        let s = model == .i8086 ? modrmReg & 3 : modrmReg
        if s > 5 { fault(6); return }
        writeRM(modrmMod == 3 ? opSize : 2, UInt32(segSel[s]))
    }

    /// 8E: MOV Sreg, r/m. (The 8086 even lets this load CS.)
    func movToSeg() {
        decodeModRM()
        let s = model == .i8086 ? modrmReg & 3 : modrmReg
        if s > 5 || (s == Seg.cs && model != .i8086) { fault(6); return }
        let v = UInt16(truncatingIfNeeded: readRM(2))
        if s == Seg.cs { setSegmentReal(Seg.cs, v); return }
        guard loadSegment(s, v) else { return }
        if s == Seg.ss { interruptShadow = true }
    }

    /// 98: CBW/CWDE. 99: CWD/CDQ.
    func convert(_ opcode: UInt8) {
        if opcode == 0x98 {
            if opSize32 { regs[Reg.ax] = UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: regs[Reg.ax]))) }
            else { setReg(Reg.ax, 2, UInt32(UInt16(bitPattern: Int16(Int8(truncatingIfNeeded: regs[Reg.ax]))))) }
        } else {
            let negative = getReg(Reg.ax, opSize) & signOf(opSize) != 0
            setReg(Reg.dx, opSize, negative ? 0xFFFF_FFFF : 0)
        }
    }

    func xlat() {
        let off = (adSize32 ? regs[Reg.bx] : regs[Reg.bx] & 0xFFFF) &+ getReg(Reg.ax, 1)
        setReg(Reg.ax, 1, read(dataSeg, adSize32 ? off : off & 0xFFFF, 1))
    }

    /// 62: BOUND reg, m: #BR (5) when the index lies outside [lower, upper].
    func bound() {
        decodeModRM()
        if modrmMod == 3 { fault(6); return }
        let idx = signExtend(getReg(modrmReg, opSize), opSize)
        let lower = signExtend(read(eaSeg, eaOff, opSize), opSize)
        let upper = signExtend(read(eaSeg, nextOff(eaOff, UInt32(opSize)), opSize), opSize)
        if idx < lower || idx > upper { fault(5) }
    }
}
