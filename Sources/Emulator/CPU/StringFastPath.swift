#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// REP MOVS and REP STOS over plain RAM in one host copy or fill. Boot loaders clear and
/// move memory this way; element by element it cost about 40 host instructions per
/// element. Anything unusual (DF set, limit-checked segments, index wrap, ROM, the A20
/// wrap or the end of memory inside the range, overlap that a forward copy would smear)
/// takes the element-by-element path, which stays the reference.
extension CPU {
    /// Returns false without side effects when the fast path does not apply.
    func repeatedMoveOrStoreInBulk(_ opcode: UInt8, _ size: Int) -> Bool {
        let moves = opcode == 0xA4 || opcode == 0xA5
        guard flagBits & F.df == 0 else { return false } // DF is never pending (LazyFlags.swift)
        let checked: UInt8 = 1 << UInt8(Seg.es) | (moves ? 1 << UInt8(dataSeg) : 0)
        guard limitCheckMask & checked == 0 else { return false }
        let indexLimit: UInt64 = adSize32 ? 1 << 32 : 1 << 16
        let count = UInt64(adSize32 ? regs[Reg.cx] : regs[Reg.cx] & 0xFFFF)
        guard count > 0, count <= 1 << 24 else { return false }
        let bytes = count * UInt64(size)
        let di = UInt64(adSize32 ? regs[Reg.di] : regs[Reg.di] & 0xFFFF)
        guard di + bytes <= indexLimit else { return false }
        let dst = segBase[Seg.es] &+ UInt32(di)
        guard mem.isPlainRAM(dst, count: Int(bytes), forWriting: true) else { return false }
        if moves {
            let si = UInt64(adSize32 ? regs[Reg.si] : regs[Reg.si] & 0xFFFF)
            guard si + bytes <= indexLimit else { return false }
            let src = segBase[dataSeg] &+ UInt32(si)
            guard mem.isPlainRAM(src, count: Int(bytes), forWriting: false) else { return false }
            // A forward element copy equals memmove unless the destination starts inside
            // the source (then x86 repeats the pattern).
            guard dst <= src || UInt64(src) + bytes <= UInt64(dst) else { return false }
            memmove(mem.bytes + Int(dst), mem.bytes + Int(src), Int(bytes))
            advanceIndex(Reg.si, by: bytes)
        } else {
            let value = getReg(Reg.ax, size)
            let base = mem.bytes + Int(dst)
            switch size {
            case 1: memset(base, Int32(value), Int(bytes))
            case 2:
                let p = UnsafeMutableRawPointer(base)
                for i in 0..<Int(count) { p.storeBytes(of: UInt16(truncatingIfNeeded: value), toByteOffset: i * 2, as: UInt16.self) }
            default:
                let p = UnsafeMutableRawPointer(base)
                for i in 0..<Int(count) { p.storeBytes(of: value, toByteOffset: i * 4, as: UInt32.self) }
            }
        }
        mem.noteBulkWrite(dst, count: Int(bytes))
        advanceIndex(Reg.di, by: bytes)
        if adSize32 { regs[Reg.cx] = 0 } else { regs[Reg.cx] &= 0xFFFF_0000 }
        return true
    }

    /// Moves SI or DI forward by `bytes` (known not to wrap), in the address size.
    private func advanceIndex(_ r: Int, by bytes: UInt64) {
        if adSize32 { regs[r] = regs[r] &+ UInt32(truncatingIfNeeded: bytes) } else { setReg(r, 2, (regs[r] &+ UInt32(truncatingIfNeeded: bytes)) & 0xFFFF) }
    }
}
