/// int 16h over the BDA keyboard ring buffer (0x41E-0x43D), and the IRQ1 handler that
/// fills it from the 8042. Without scripted keys the buffer stays empty and AH=00h waits.
extension BIOS {
    private var head: UInt16 { get { mem.read16(0x41A) } set { mem.write16(0x41A, newValue) } }
    private var tail: UInt16 { get { mem.read16(0x41C) } set { mem.write16(0x41C, newValue) } }

    private func next(_ p: UInt16) -> UInt16 { p + 2 >= mem.read16(0x482) ? mem.read16(0x480) : p + 2 }

    /// Appends a key (scan code << 8 | ASCII); false when the buffer is full.
    @discardableResult
    func enqueueKey(_ key: UInt16) -> Bool {
        let n = next(tail)
        guard n != head else { return false }
        mem.write16(0x400 + UInt32(tail), key)
        tail = n
        return true
    }

    func keyboard(_ cpu: CPU) {
        let ah = cpu.reg8(4)
        switch ah {
        case 0x00, 0x10:
            if head == tail { waitAndRetry(cpu); return }
            cpu.setReg16(Reg.ax, mem.read16(0x400 + UInt32(head)))
            head = next(head)
        case 0x01, 0x11:
            if head == tail { setReturnFlags(cpu, zero: true); return }
            cpu.setReg16(Reg.ax, mem.read16(0x400 + UInt32(head)))
            setReturnFlags(cpu, zero: false)
        case 0x02: cpu.setReg8(0, mem.read8(0x417))
        case 0x12: cpu.setReg16(Reg.ax, mem.read16(0x417))
        case 0x05: cpu.setReg8(0, enqueueKey(cpu.reg16(Reg.cx)) ? 0 : 1)
        default: break
        }
    }

    /// Scan code set 1 make codes for the unshifted US layout, indexed by scan code.
    private static let asciiByScanCode: [UInt8] = Array("\u{0}\u{1B}1234567890-=\u{8}\tqwertyuiop[]\r\u{0}asdfghjkl;'`\u{0}\\zxcvbnm,./\u{0}*\u{0} ".utf8)

    /// Puts scripted keys in the buffer as (scan code, ASCII) pairs, as typing them would.
    func scriptKeys(_ text: String) {
        let table = BIOS.asciiByScanCode
        for ch in text.utf8 {
            let lower = ch >= 0x41 && ch <= 0x5A ? ch + 0x20 : ch
            let scan = table.firstIndex(of: lower).map { UInt16($0) } ?? 0
            enqueueKey(scan << 8 | UInt16(ch))
        }
    }

    func keyboardIRQ(_ cpu: CPU) {
        let code = UInt8(truncatingIfNeeded: machine.io.read(0x60, size: 1))
        if code & 0x80 == 0 {
            let table = BIOS.asciiByScanCode
            let ascii = Int(code) < table.count ? table[Int(code)] : 0
            enqueueKey(UInt16(code) << 8 | UInt16(ascii))
        }
        machine.pic.endOfInterrupt(1)
    }
}
