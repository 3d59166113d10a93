/// Segment descriptors, segment loads with their checks, interrupt gates, and the system
/// instructions (LGDT/LIDT/LLDT/LTR/SMSW/LMSW/MOV CRn/LAR/LSL/VERR/VERW/CLTS).
struct Descriptor {
    var base: UInt32
    var limit: UInt32
    var access: UInt8
    var flagsNibble: UInt8
    var raw: UInt64

    init(_ raw: UInt64) {
        self.raw = raw
        let lo = UInt32(truncatingIfNeeded: raw), hi = UInt32(truncatingIfNeeded: raw >> 32)
        base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF00_0000)
        var lim = (lo & 0xFFFF) | (hi & 0xF_0000)
        flagsNibble = UInt8((hi >> 20) & 0xF)
        if flagsNibble & 0x8 != 0 { lim = (lim << 12) | 0xFFF }
        limit = lim
        access = UInt8((hi >> 8) & 0xFF)
    }

    var present: Bool { access & 0x80 != 0 }
    var dpl: Int { Int(access >> 5) & 3 }
    var isSegment: Bool { access & 0x10 != 0 }
    var isCode: Bool { isSegment && access & 0x08 != 0 }
    var readable: Bool { !isCode || access & 0x02 != 0 }
    var writableData: Bool { isSegment && !isCode && access & 0x02 != 0 }
    var conforming: Bool { isCode && access & 0x04 != 0 }
    var systemType: Int { Int(access & 0x0F) }
    var attr: UInt16 { UInt16(access) | UInt16(flagsNibble) << 12 }
    /// Gate fields.
    var gateSelector: UInt16 { UInt16(truncatingIfNeeded: raw >> 16) }
    var gateOffset: UInt32 { UInt32(truncatingIfNeeded: raw & 0xFFFF) | UInt32(truncatingIfNeeded: (raw >> 48) << 16) }
}

extension CPU {
    /// Reads the descriptor for `sel` from the GDT or LDT; nil when outside the table.
    func descriptor(_ sel: UInt16) -> Descriptor? {
        let (base, limit) = sel & 4 != 0 ? (ldtBase, ldtLimit) : (gdtBase, gdtLimit)
        let off = UInt32(sel & ~7)
        guard off + 7 <= limit else { return nil }
        let lo = UInt64(mem.read32(base &+ off)), hi = UInt64(mem.read32(base &+ off &+ 4))
        return Descriptor(lo | hi << 32)
    }

    private func markAccessed(_ sel: UInt16) {
        let base = sel & 4 != 0 ? ldtBase : gdtBase
        let addr = base &+ UInt32(sel & ~7) &+ 5
        mem.write8(addr, mem.read8(addr) | 1)
    }

    private func setCache(_ s: Int, _ sel: UInt16, _ d: Descriptor) {
        segSel[s] = sel
        setSegmentBase(s, d.base)
        segLimit[s] = d.limit
        segAttr[s] = d.attr
        updateLimitCheck(s)
    }

    /// Marks segment `s` for limit checks unless it is a flat expand-up 4 GiB segment.
    func updateLimitCheck(_ s: Int) {
        let expandDown = segAttr[s] & 0x1C == 0x14
        let flat = segLimit[s] == 0xFFFF_FFFF && !expandDown && segAttr[s] & 0x80 != 0
        if protectedMode && !flat && s != Seg.cs { limitCheckMask |= 1 << UInt8(s) } else { limitCheckMask &= ~(1 << UInt8(s)) }
    }

    /// Whether bytes [off, off+size-1] lie inside segment `s` (null and not-present fail).
    func withinLimit(_ s: Int, _ off: UInt32, _ size: Int) -> Bool {
        let attr = segAttr[s]
        guard attr & 0x80 != 0 else { return false }
        let last = UInt64(off) + UInt64(size - 1)
        if attr & 0x1C == 0x14 { // expand-down data: valid above the limit
            let top: UInt64 = attr & 0x4000 != 0 ? 0xFFFF_FFFF : 0xFFFF
            return UInt64(off) > UInt64(segLimit[s]) && last <= top
        }
        return last <= UInt64(segLimit[s])
    }

    /// Records a limit violation; the instruction is undone when it ends (see step()).
    func limitViolation(_ s: Int) {
        if limitFaultVector < 0 { limitFaultVector = s == Seg.ss ? 12 : 13 }
    }

    /// MOV/POP/LDS-style load of a data or stack segment register. Returns false after
    /// raising the fault the load caused.
    @discardableResult
    func loadSegment(_ s: Int, _ sel: UInt16) -> Bool {
        if !protectedMode || flags & F.vm != 0 {
            setSegmentReal(s, sel)
            return true
        }
        if s == Seg.cs { return loadCodeSegment(sel) }
        let rpl = Int(sel & 3)
        if sel & ~3 == 0 {
            if s == Seg.ss { fault(13, errorCode: 0); return false }
            segSel[s] = sel; setSegmentBase(s, 0); segLimit[s] = 0; segAttr[s] = 0
            updateLimitCheck(s)
            return true
        }
        guard let d = descriptor(sel) else { fault(13, errorCode: UInt32(sel & ~3)); return false }
        if s == Seg.ss {
            guard rpl == cpl, d.dpl == cpl, d.writableData else { fault(13, errorCode: UInt32(sel & ~3)); return false }
            guard d.present else { fault(12, errorCode: UInt32(sel & ~3)); return false }
        } else {
            guard d.isSegment, d.readable else { fault(13, errorCode: UInt32(sel & ~3)); return false }
            if !d.conforming && (d.dpl < cpl || d.dpl < rpl) { fault(13, errorCode: UInt32(sel & ~3)); return false }
            guard d.present else { fault(11, errorCode: UInt32(sel & ~3)); return false }
        }
        markAccessed(sel)
        setCache(s, sel, d)
        return true
    }

    /// Far JMP/CALL/RET/IRET target: a code segment at the current privilege (or an outer
    /// one for returns). Call gates and task switches are not supported.
    func loadCodeSegment(_ sel: UInt16) -> Bool {
        if sel & ~3 == 0 { fault(13, errorCode: 0); return false }
        guard let d = descriptor(sel) else { fault(13, errorCode: UInt32(sel & ~3)); return false }
        guard d.isCode else {
            if !d.isSegment { halt(.unsupported("far transfer through system descriptor type \(d.systemType) (gates/tasks) at \(locationDescription)")) }
            else { fault(13, errorCode: UInt32(sel & ~3)) }
            return false
        }
        guard d.present else { fault(11, errorCode: UInt32(sel & ~3)); return false }
        let rpl = UInt16(sel & 3)
        let newCPL = d.conforming ? UInt16(cpl) : max(rpl, UInt16(d.dpl))
        markAccessed(sel)
        setCache(Seg.cs, (sel & ~3) | newCPL, d)
        codeBig = d.flagsNibble & 0x4 != 0
        return true
    }

    /// Interrupt or exception through an IDT interrupt/trap gate.
    func protectedModeInterrupt(_ vector: Int, software: Bool, errorCode: UInt32?) {
        let off = UInt32(vector * 8)
        guard off + 7 <= idtLimit else { escalate(vector); return }
        let raw = UInt64(mem.read32(idtBase &+ off)) | UInt64(mem.read32(idtBase &+ off &+ 4)) << 32
        let gate = Descriptor(raw)
        let type = gate.systemType
        guard gate.present, [0x6, 0x7, 0xE, 0xF].contains(type) else {
            if gate.present && type == 5 { halt(.unsupported("task gate for vector \(vector) at \(locationDescription)")); return }
            escalate(vector); return
        }
        if software && gate.dpl < cpl { fault(13, errorCode: UInt32(vector * 8 + 2)); return }
        guard let target = descriptor(gate.gateSelector), target.isCode, target.present else { escalate(vector); return }
        let size = type & 8 != 0 ? 4 : 2
        let oldFlags = flags, oldCS = UInt32(segSel[Seg.cs]), oldEIP = eip
        let newCPL = target.conforming ? cpl : target.dpl
        if newCPL < cpl {
            // Inner-ring entry: fetch the new stack from the TSS.
            let tssOff = trBase &+ UInt32(8 * newCPL + 4)
            let newESP = mem.read32(tssOff), newSS = mem.read16(tssOff &+ 4)
            let oldSS = UInt32(segSel[Seg.ss]), oldESP = regs[Reg.sp]
            guard let sd = descriptor(newSS), sd.writableData, sd.present else { escalate(vector); return }
            setCache(Seg.ss, newSS, sd)
            regs[Reg.sp] = newESP
            push(oldSS, size); push(oldESP, size)
        }
        push(oldFlags, size)
        push(oldCS, size)
        push(oldEIP, size)
        if let code = errorCode { push(code, size) }
        setCache(Seg.cs, (gate.gateSelector & ~3) | UInt16(newCPL), target)
        codeBig = target.flagsNibble & 0x4 != 0
        eip = size == 4 ? gate.gateOffset : gate.gateOffset & 0xFFFF
        flags &= ~(F.tf | F.nt | F.rf | F.vm)
        if type & 1 == 0 { flags &= ~F.if }
    }

    private func requireRing0() -> Bool {
        if protectedMode && cpl != 0 { fault(13, errorCode: 0); return false }
        return true
    }

    /// 0F 00: SLDT, STR, LLDT, LTR, VERR, VERW.
    func group6() {
        decodeModRM()
        if !protectedMode { fault(6); return }
        switch modrmReg {
        case 0: writeRM(modrmMod == 3 ? opSize : 2, UInt32(ldtSel))
        case 1: writeRM(modrmMod == 3 ? opSize : 2, UInt32(trSel))
        case 2:
            guard requireRing0() else { return }
            let sel = UInt16(truncatingIfNeeded: readRM(2))
            if sel & ~3 == 0 { ldtSel = sel; ldtBase = 0; ldtLimit = 0; return }
            guard let d = descriptor(sel), !d.isSegment, d.systemType == 2 else { fault(13, errorCode: UInt32(sel & ~3)); return }
            ldtSel = sel; ldtBase = d.base; ldtLimit = d.limit
        case 3:
            guard requireRing0() else { return }
            let sel = UInt16(truncatingIfNeeded: readRM(2))
            guard let d = descriptor(sel), !d.isSegment, d.systemType == 1 || d.systemType == 9 else { fault(13, errorCode: UInt32(sel & ~3)); return }
            trSel = sel; trBase = d.base; trLimit = d.limit
            let addr = gdtBase &+ UInt32(sel & ~7) &+ 5
            mem.write8(addr, mem.read8(addr) | 2)
        case 4, 5:
            let sel = UInt16(truncatingIfNeeded: readRM(2))
            var ok = false
            if sel & ~3 != 0, let d = descriptor(sel), d.isSegment {
                let priv = d.conforming || (d.dpl >= cpl && d.dpl >= Int(sel & 3))
                ok = priv && (modrmReg == 4 ? d.readable : d.writableData)
            }
            setFlag(F.zf, ok)
        default: fault(6)
        }
    }

    /// 0F 01: SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG.
    func group7() {
        decodeModRM()
        switch modrmReg {
        case 0, 1:
            let (base, limit) = modrmReg == 0 ? (gdtBase, gdtLimit) : (idtBase, idtLimit)
            write(eaSeg, eaOff, 2, limit)
            write(eaSeg, nextOff(eaOff, 2), 4, opSize32 ? base : base & 0x00FF_FFFF | 0xFF00_0000)
        case 2, 3:
            guard requireRing0() else { return }
            let limit = read(eaSeg, eaOff, 2)
            var base = read(eaSeg, nextOff(eaOff, 2), 4)
            if !opSize32 { base &= 0x00FF_FFFF }
            if modrmReg == 2 { gdtBase = base; gdtLimit = limit } else { idtBase = base; idtLimit = limit }
        case 4: writeRM(modrmMod == 3 ? opSize : 2, cr0 & (modrmMod == 3 ? 0xFFFF_FFFF : 0xFFFF))
        case 6:
            guard requireRing0() else { return }
            // LMSW can set PE but never clear it.
            let v = readRM(2) & 0xF
            cr0 = (cr0 & ~0xE) | v | (cr0 & 1)
            for seg in 0..<6 { updateLimitCheck(seg) }
        case 7: break
        default: fault(6)
        }
    }

    /// MOV to/from CR0-CR4 (0F 20/22) and DR0-DR7 (0F 21/23).
    func moveControl(_ second: UInt8) {
        decodeModRM()
        guard requireRing0() else { return }
        let toCPU = second & 2 != 0
        let debug = second & 1 != 0
        if debug {
            if toCPU { dr[modrmReg] = regs[modrmRM] } else { regs[modrmRM] = dr[modrmReg] }
            return
        }
        if !toCPU {
            let v: UInt32
            switch modrmReg {
            case 0: v = cr0 | 0x10
            case 2: v = cr2
            case 3: v = cr3
            case 4: v = cr4
            default: fault(6); return
            }
            regs[modrmRM] = v
            return
        }
        let v = regs[modrmRM]
        switch modrmReg {
        case 0:
            if v & 0x8000_0000 != 0 {
                halt(.unsupported("paging (MOV CR0 with PG set) at \(locationDescription)"))
                return
            }
            cr0 = v | 0x10
            // Segment caches keep their limits across the switch; only protected mode checks them.
            for seg in 0..<6 { updateLimitCheck(seg) }
        case 2: cr2 = v
        case 3: cr3 = v
        case 4: cr4 = v
        default: fault(6)
        }
    }

    /// LAR/LSL (0F 02/03): ZF reports whether the selector is visible at this privilege.
    func loadAccessRights(limit: Bool) {
        decodeModRM()
        if !protectedMode { fault(6); return }
        let sel = UInt16(truncatingIfNeeded: readRM(2))
        guard sel & ~3 != 0, let d = descriptor(sel) else { setFlag(F.zf, false); return }
        let visible = d.conforming || (d.dpl >= cpl && d.dpl >= Int(sel & 3))
        let typeOK = d.isSegment || [1, 2, 3, 9, 11].contains(d.systemType) || (!limit && [4, 5, 12].contains(d.systemType))
        guard visible && typeOK else { setFlag(F.zf, false); return }
        let v = limit ? d.limit : UInt32(truncatingIfNeeded: d.raw >> 32) & 0x00F0_FF00
        setReg(modrmReg, opSize, v)
        setFlag(F.zf, true)
    }
}
