/// int 10h on the 80x25 colour text screen at 0xB8000 (8 pages of 4 KiB).
extension BIOS {
    private var columns: Int { 80 }
    private var rows: Int { 25 }

    private func pageBase(_ page: Int) -> UInt32 { VGAText.base + UInt32((page & 7) * 0x1000) }

    func cursor(_ page: Int) -> (row: Int, col: Int) {
        let v = mem.read16(UInt32(0x450 + (page & 7) * 2))
        return (Int(v >> 8), Int(v & 0xFF))
    }

    func setCursor(_ page: Int, _ row: Int, _ col: Int) {
        mem.write16(UInt32(0x450 + (page & 7) * 2), UInt16(row & 0xFF) << 8 | UInt16(col & 0xFF))
        if page == activePage { machine.vga.cursorCell = row * columns + col + (page & 7) * 0x800 }
    }

    private var activePage: Int { Int(mem.read8(0x462)) }

    private func cell(_ page: Int, _ row: Int, _ col: Int) -> UInt32 {
        pageBase(page) + UInt32((row * columns + col) * 2)
    }

    /// Scrolls rows [top, bottom] x columns [left, right] up (positive) or down by `lines`.
    func scroll(page: Int, lines: Int, up: Bool, top: Int, left: Int, bottom: Int, right: Int, attribute: UInt8) {
        let bottom = min(bottom, rows - 1), right = min(right, columns - 1)
        guard top <= bottom, left <= right else { return }
        let height = bottom - top + 1
        let n = lines == 0 || lines > height ? height : lines
        let blank = UInt16(attribute) << 8 | 0x20
        let order = up ? Array(top...bottom) : Array((top...bottom).reversed())
        for r in order {
            let src = up ? r + n : r - n
            for c in left...right {
                let v = (src >= top && src <= bottom) ? mem.read16(cell(page, src, c)) : blank
                mem.write16(cell(page, r, c), v)
            }
        }
    }

    /// Teletype output with control characters, scrolling at the bottom.
    func teletype(_ ch: UInt8, page: Int, attribute: UInt8? = nil) {
        machine.recordConsole(ch)
        var (row, col) = cursor(page)
        switch ch {
        case 0x07: return
        case 0x08: if col > 0 { col -= 1 }
        case 0x0A: row += 1
        case 0x0D: col = 0
        default:
            let at = cell(page, row, col)
            mem.write8(at, ch)
            if let a = attribute { mem.write8(at + 1, a) }
            col += 1
            if col >= columns { col = 0; row += 1 }
        }
        if row >= rows {
            let attr = mem.read8(cell(page, rows - 1, 0) + 1)
            scroll(page: page, lines: 1, up: true, top: 0, left: 0, bottom: rows - 1, right: columns - 1, attribute: attr == 0 ? 7 : attr)
            row = rows - 1
        }
        setCursor(page, row, col)
    }

    func video(_ cpu: CPU) {
        let ah = cpu.reg8(4), al = cpu.reg8(0), bh = Int(cpu.reg8(7)), bl = cpu.reg8(3)
        switch ah {
        case 0x00:
            mem.poke(0x449, al & 0x7F)
            if al & 0x80 == 0 {
                for p in 0..<8 { for i in 0..<(columns * rows) { mem.write16(pageBase(p) + UInt32(i * 2), 0x0720) } }
            }
            for p in 0..<8 { setCursor(p, 0, 0) }
            mem.poke(0x462, 0)
        case 0x01: mem.write16(0x460, cpu.reg16(Reg.cx))
        case 0x02: setCursor(bh, Int(cpu.reg8(6)), Int(cpu.reg8(2)))
        case 0x03:
            let (r, c) = cursor(bh)
            cpu.setReg16(Reg.dx, UInt16(r) << 8 | UInt16(c))
            cpu.setReg16(Reg.cx, mem.read16(0x460))
        case 0x05:
            mem.poke(0x462, al & 7)
            mem.write16(0x44E, UInt16(al & 7) * 0x1000)
            let (r, c) = cursor(Int(al & 7)); setCursor(Int(al & 7), r, c)
        case 0x06, 0x07:
            scroll(page: activePage, lines: Int(al), up: ah == 6, top: Int(cpu.reg8(5)), left: Int(cpu.reg8(1)),
                   bottom: Int(cpu.reg8(6)), right: Int(cpu.reg8(2)), attribute: bh == 0 ? 7 : UInt8(bh))
        case 0x08:
            let (r, c) = cursor(bh)
            cpu.setReg16(Reg.ax, mem.read16(cell(bh, r, c)))
        case 0x09, 0x0A:
            let (r, c) = cursor(bh)
            var at = cell(bh, r, c)
            for _ in 0..<Int(cpu.reg16(Reg.cx)) where at < pageBase(bh) + 4000 {
                mem.write8(at, al)
                if ah == 9 { mem.write8(at + 1, bl) }
                at += 2
            }
            machine.recordConsole(al)
        case 0x0E: teletype(al, page: activePage)
        case 0x0F:
            cpu.setReg8(4, UInt8(columns)); cpu.setReg8(0, mem.read8(0x449)); cpu.setReg8(7, UInt8(activePage))
        case 0x10, 0x0B, 0x0C: break
        case 0x11:
            if al == 0x30 { cpu.setReg16(Reg.cx, 16); cpu.setReg8(2, UInt8(rows - 1)) }
        case 0x12:
            if bl == 0x10 { cpu.setReg8(7, 0); cpu.setReg8(3, 3); cpu.setReg16(Reg.cx, 0x0009) }
        case 0x13: writeString(cpu)
        case 0x1A:
            if al == 0 { cpu.setReg8(0, 0x1A); cpu.setReg16(Reg.bx, 0x0008) }
        case 0x4F: cpu.setReg16(Reg.ax, 0x014F) // no VESA
        default: break
        }
    }

    /// AH=13h: ES:BP string of CX characters at DH,DL; AL bit 0 moves the cursor, bit 1
    /// means the string alternates characters and attributes.
    private func writeString(_ cpu: CPU) {
        let mode = cpu.reg8(0), page = Int(cpu.reg8(7))
        let saved = cursor(page)
        setCursor(page, Int(cpu.reg8(6)), Int(cpu.reg8(2)))
        var off = cpu.reg16(Reg.bp)
        for _ in 0..<Int(cpu.reg16(Reg.cx)) {
            let ch = mem.read8(cpu.realAddress(Seg.es, off)); off &+= 1
            var attr = cpu.reg8(3)
            if mode & 2 != 0 { attr = mem.read8(cpu.realAddress(Seg.es, off)); off &+= 1 }
            teletype(ch, page: page, attribute: ch >= 0x20 || ch == 0 ? attr : nil)
        }
        if mode & 1 == 0 { setCursor(page, saved.row, saved.col) }
    }
}
