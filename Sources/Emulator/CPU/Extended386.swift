/// Two-byte (0F xx) opcodes of the 386 and a few later ones boot code probes for:
/// MOVZX/MOVSX, SETcc, Jcc near, bit tests and scans, SHLD/SHRD, CPUID, RDTSC, CMOVcc, BSWAP.
extension CPU {
    func twoByte() {
        let op = decoded.pointee.opcode2
        // Range cases are tested in order: the ones boot code runs most come first.
        switch op {
        case 0x80...0x8F: jccNear(Int(op & 0xF))
        case 0xAC, 0xAD: doubleShift(left: false, byCL: op == 0xAD)
        case 0xB6, 0xB7, 0xBE, 0xBF: moveExtend(op)
        case 0xA4, 0xA5: doubleShift(left: true, byCL: op == 0xA5)
        case 0x00: group6()
        case 0x01: group7()
        case 0x02, 0x03: loadAccessRights(limit: op == 0x03)
        case 0x06:
            if protectedMode && cpl != 0 { fault(13, errorCode: 0) } else { cr0 &= ~8 }
        case 0x08, 0x09: break // INVD/WBINVD: no caches to manage
        case 0x1F: decodeModRM() // multi-byte NOP
        case 0x20...0x23: moveControl(op)
        case 0x31: // RDTSC: virtual cycles are retired instructions
            regs[Reg.ax] = UInt32(truncatingIfNeeded: instructionCount)
            regs[Reg.dx] = UInt32(truncatingIfNeeded: instructionCount >> 32)
        case 0x40...0x4F:
            decodeModRM()
            let v = readRM(opSize)
            if condition(Int(op & 0xF)) { setReg(modrmReg, opSize, v) }
        case 0x90...0x9F:
            decodeModRM()
            writeRM(1, condition(Int(op & 0xF)) ? 1 : 0)
        case 0xA0: pushSeg(Seg.fs)
        case 0xA1: popSeg(Seg.fs)
        case 0xA2: cpuid()
        case 0xA3, 0xAB, 0xB3, 0xBB: bitTest(Int(op >> 3) & 3, immediate: false)
        case 0xA8: pushSeg(Seg.gs)
        case 0xA9: popSeg(Seg.gs)
        case 0xAF: imulReg(immSize: 0)
        case 0xB0, 0xB1: compareExchange(op == 0xB0 ? 1 : opSize)
        case 0xB2: loadFarPointer(Seg.ss)
        case 0xB4: loadFarPointer(Seg.fs)
        case 0xB5: loadFarPointer(Seg.gs)
        case 0xBA:
            decodeModRM()
            if modrmReg < 4 { fault(6); return }
            bitTestDecoded(modrmReg - 4, bitOffset: UInt32(fetch8()), immediate: true)
        case 0xBC, 0xBD: bitScan(reverse: op == 0xBD)
        case 0xC0, 0xC1: exchangeAdd(op == 0xC0 ? 1 : opSize)
        case 0xC8...0xCF: regs[Int(op & 7)] = regs[Int(op & 7)].byteSwapped
        case 0xFF:
            // BIOS trap: 0F FF nn, emitted only in the ROM stubs.
            let vector = fetch8()
            if let handler = trapHandler { handler.trap(self, vector: vector) } else { fault(6) }
        default:
            invalidOpcode("0F \(hex8(op))")
        }
    }

    /// #UD, or a stop naming the instruction when the machine treats it as unsupported.
    func invalidOpcode(_ bytes: String) {
        if stopOnInvalidOpcode {
            halt(.unsupported("unsupported instruction \(bytes) at \(locationDescription)"))
        } else {
            fault(6)
        }
    }

    private func moveExtend(_ op: UInt8) {
        decodeModRM()
        let srcSize = op & 1 == 0 ? 1 : 2
        let v = readRM(srcSize)
        let r = op < 0xBE ? v : UInt32(bitPattern: Int32(truncatingIfNeeded: signExtend(v, srcSize)))
        setReg(modrmReg, opSize, r & maskOf(opSize))
    }

    /// BT/BTS/BTR/BTC with a register bit offset (which may reach outside the operand).
    private func bitTest(_ kind: Int, immediate: Bool) {
        decodeModRM()
        bitTestDecoded(kind, bitOffset: getReg(modrmReg, opSize), immediate: false)
    }

    private func bitTestDecoded(_ kind: Int, bitOffset: UInt32, immediate: Bool) {
        let size = opSize
        let bits = UInt32(size * 8)
        var bit = bitOffset & (bits - 1)
        if modrmMod != 3 && !immediate {
            // Register offsets are signed and select an operand-sized unit relative to the address.
            let signed = signExtend(bitOffset, size)
            let b = Int64(bits)
            let unit = signed >= 0 ? signed / b : -((-signed + b - 1) / b)
            eaOff = eaOff &+ UInt32(truncatingIfNeeded: unit * Int64(size))
            if !adSize32 { eaOff &= 0xFFFF }
            bit = UInt32(truncatingIfNeeded: signed - unit * Int64(bits))
        }
        let v = readRM(size)
        let mask = UInt32(1) << bit
        setFlag(F.cf, v & mask != 0)
        switch kind {
        case 1: writeRM(size, v | mask)
        case 2: writeRM(size, v & ~mask)
        case 3: writeRM(size, v ^ mask)
        default: break
        }
    }

    private func bitScan(reverse: Bool) {
        decodeModRM()
        let v = readRM(opSize)
        if v == 0 { setFlag(F.zf, true); return }
        setFlag(F.zf, false)
        setReg(modrmReg, opSize, UInt32(reverse ? 31 - v.leadingZeroBitCount : v.trailingZeroBitCount))
    }

    private func compareExchange(_ size: Int) {
        decodeModRM()
        let dst = readRM(size)
        let acc = getReg(Reg.ax, size)
        _ = sub(acc, dst, 0, size)
        if acc == dst { writeRM(size, getReg(modrmReg, size)) } else { writeRM(size, dst); setReg(Reg.ax, size, dst) }
    }

    private func exchangeAdd(_ size: Int) {
        decodeModRM()
        let dst = readRM(size), src = getReg(modrmReg, size)
        let r = add(dst, src, 0, size)
        setReg(modrmReg, size, dst)
        writeRM(size, r)
    }

    /// CPUID: a 486-class Intel part without an FPU but with TSC and CMOV, which is
    /// what the interpreter actually implements.
    private func cpuid() {
        switch regs[Reg.ax] {
        case 0:
            regs[Reg.ax] = 1
            regs[Reg.bx] = 0x756E_6547 // "Genu"
            regs[Reg.dx] = 0x4965_6E69 // "ineI"
            regs[Reg.cx] = 0x6C65_746E // "ntel"
        case 1:
            regs[Reg.ax] = 0x0000_0480 // family 4, model 8
            regs[Reg.bx] = 0
            regs[Reg.cx] = 0
            regs[Reg.dx] = (1 << 4) | (1 << 15) // TSC, CMOV
        default:
            regs[Reg.ax] = 0; regs[Reg.bx] = 0; regs[Reg.cx] = 0; regs[Reg.dx] = 0
        }
    }
}
