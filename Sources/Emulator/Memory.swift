#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Guest physical memory: one flat byte array, accessed through an unsafe pointer so the
/// interpreter's hot path has no bounds-check traps or copy-on-write.
public final class Memory {
    public let size: Int
    let bytes: UnsafeMutablePointer<UInt8>
    /// Address bit 20 is forced to zero while the A20 gate is closed (8086 wrap-around).
    public var a20Mask: UInt32 = 0xFFFF_FFFF {
        didSet {
            updateFastLimits()
            if a20Mask != oldValue { decodeCache.flush() }
        }
    }
    /// Writes at or above this address and below 1 MiB are ignored (option ROMs and BIOS).
    var romStart: UInt32 = 0xFFFF_FFFF {
        didSet {
            updateFastLimits()
            // Host code has the write limit built in; decodes do not depend on it.
            if romStart != oldValue { decodeCache.blocks?.flush() }
        }
    }
    /// Linear addresses below `readLimit` need neither the A20 mask nor a bounds check;
    /// below `writeLimit`, or from 1 MiB up to `readLimit`, they are writable RAM.
    private var readLimit: UInt32 = 0
    private var writeLimit: UInt32 = 0
    /// Decoded instructions; every write below checks `codeMarks` to drop stale ones.
    let decodeCache: DecodeCache
    private let codeMarks: UnsafeMutablePointer<UInt8>

    public init(size: Int) {
        self.size = size
        // calloc hands out untouched zero pages, so a large guest costs nothing until used.
        guard let raw = calloc(size + 8, 1) else { fatalError("cannot allocate \(size) bytes of guest memory") }
        bytes = raw.assumingMemoryBound(to: UInt8.self)
        decodeCache = DecodeCache(memorySize: size)
        codeMarks = decodeCache.marks
        updateFastLimits()
    }
    deinit { free(bytes) }

    private func updateFastLimits() {
        var limit = UInt64(size)
        if a20Mask != 0xFFFF_FFFF { limit = min(limit, 0x10_0000) }
        readLimit = UInt32(min(limit, 0xFFFF_FFF0))
        writeLimit = min(readLimit, romStart)
    }

    /// The fast-path limits for host code, which has them built in: they change only with
    /// the A20 mask and the ROM start, and both changes drop every compiled block.
    var fastReadLimit: UInt32 { readLimit }
    var fastWriteLimit: UInt32 { writeLimit }

    public var a20Enabled: Bool {
        get { a20Mask & 0x10_0000 != 0 }
        set { a20Mask = newValue ? 0xFFFF_FFFF : 0xFFEF_FFFF }
    }

    @inline(always) private func writable(_ linear: UInt32, _ n: UInt32) -> Bool {
        linear < writeLimit &- n || (linear >= 0x10_0000 && linear < readLimit &- n)
    }

    /// Unaligned little-endian loads and stores spelled as byte accesses, which the
    /// compiler merges into one move. The standard library's loadUnaligned/storeBytes were
    /// left as calls in the interpreter's large loop function, and a memcpy through a local
    /// made every function using it carry a stack-protector check.
    @inline(always) private func unaligned16(_ linear: UInt32) -> UInt16 {
        let p = bytes + Int(linear)
        return UInt16(p[0]) | UInt16(p[1]) &<< 8
    }

    @inline(always) private func unaligned32(_ linear: UInt32) -> UInt32 {
        let p = bytes + Int(linear)
        return UInt32(p[0]) | UInt32(p[1]) &<< 8 | UInt32(p[2]) &<< 16 | UInt32(p[3]) &<< 24
    }

    @inline(always) private func setUnaligned16(_ linear: UInt32, _ v: UInt16) {
        let p = bytes + Int(linear)
        p[0] = UInt8(truncatingIfNeeded: v)
        p[1] = UInt8(truncatingIfNeeded: v &>> 8)
    }

    @inline(always) private func setUnaligned32(_ linear: UInt32, _ v: UInt32) {
        let p = bytes + Int(linear)
        p[0] = UInt8(truncatingIfNeeded: v)
        p[1] = UInt8(truncatingIfNeeded: v &>> 8)
        p[2] = UInt8(truncatingIfNeeded: v &>> 16)
        p[3] = UInt8(truncatingIfNeeded: v &>> 24)
    }

    @inline(always) func load8(_ linear: UInt32) -> UInt8 {
        if linear < readLimit { return bytes[Int(linear)] }
        return load8Slow(linear)
    }

    @inline(never) private func load8Slow(_ linear: UInt32) -> UInt8 {
        let a = Int(linear & a20Mask)
        return a < size ? bytes[a] : 0xFF
    }

    /// Drops decodes of the line holding `a` (a RAM address just written) if it has any.
    @inline(always) private func noteWrite(_ a: UInt32) {
        let line = Int(a >> DecodeCache.lineShift)
        if codeMarks[line] != 0 { decodeCache.invalidate(line: line) }
    }

    /// The same for a store of `n` + 1 bytes, which may touch two lines.
    @inline(always) private func noteWrite(_ a: UInt32, _ n: UInt32) {
        let first = Int(a >> DecodeCache.lineShift), last = Int((a &+ n) >> DecodeCache.lineShift)
        if codeMarks[first] | codeMarks[last] != 0 { decodeCache.invalidate(Int(a), count: Int(n) + 1) }
    }

    @inline(always) func store8(_ linear: UInt32, _ v: UInt8) {
        if writable(linear, 0) { bytes[Int(linear)] = v; noteWrite(linear); return }
        store8Slow(linear, v)
    }

    /// Outside plain RAM: the A20 mask, ROM and the end of memory (kept out of line so
    /// the inlined accesses stay small).
    @inline(never) private func store8Slow(_ linear: UInt32, _ v: UInt8) {
        let a = linear & a20Mask
        if Int(a) < size && !(a >= romStart && a < 0x10_0000) { bytes[Int(a)] = v; noteWrite(a) }
    }

    @inline(always) func load16(_ linear: UInt32) -> UInt16 {
        if linear < readLimit &- 1 { return unaligned16(linear) }
        return UInt16(load8Slow(linear)) | UInt16(load8Slow(linear &+ 1)) << 8
    }

    @inline(always) func store16(_ linear: UInt32, _ v: UInt16) {
        if writable(linear, 1) {
            setUnaligned16(linear, v)
            noteWrite(linear, 1)
            return
        }
        store8Slow(linear, UInt8(truncatingIfNeeded: v))
        store8Slow(linear &+ 1, UInt8(truncatingIfNeeded: v >> 8))
    }

    @inline(always) func load32(_ linear: UInt32) -> UInt32 {
        if linear < readLimit &- 3 { return unaligned32(linear) }
        return load32Slow(linear)
    }

    @inline(never) private func load32Slow(_ linear: UInt32) -> UInt32 {
        UInt32(load16(linear)) | UInt32(load16(linear &+ 2)) << 16
    }

    @inline(always) func store32(_ linear: UInt32, _ v: UInt32) {
        if writable(linear, 3) {
            setUnaligned32(linear, v)
            noteWrite(linear, 3)
            return
        }
        store32Slow(linear, v)
    }

    @inline(never) private func store32Slow(_ linear: UInt32, _ v: UInt32) {
        store16(linear, UInt16(truncatingIfNeeded: v))
        store16(linear &+ 2, UInt16(truncatingIfNeeded: v >> 16))
    }

    // The interpreter uses the load/store forms, which are always inlined; these are the
    // same accesses for the BIOS, devices and tests.
    public func read8(_ linear: UInt32) -> UInt8 { load8(linear) }
    public func read16(_ linear: UInt32) -> UInt16 { load16(linear) }
    public func read32(_ linear: UInt32) -> UInt32 { load32(linear) }
    public func write8(_ linear: UInt32, _ v: UInt8) { store8(linear, v) }
    public func write16(_ linear: UInt32, _ v: UInt16) { store16(linear, v) }
    public func write32(_ linear: UInt32, _ v: UInt32) { store32(linear, v) }

    /// Whether [linear, linear + count) is ordinary RAM: below the A20 and bounds limit
    /// and, for writing, outside the ROM area. Bulk string moves may then touch `bytes`.
    func isPlainRAM(_ linear: UInt32, count: Int, forWriting: Bool) -> Bool {
        let end = UInt64(linear) + UInt64(count)
        if end > UInt64(readLimit) { return false }
        if !forWriting { return true }
        return end <= UInt64(writeLimit) || linear >= 0x10_0000
    }

    /// Bulk stores into `bytes` by other components (string moves) report here.
    func noteBulkWrite(_ address: UInt32, count: Int) {
        decodeCache.invalidate(Int(address), count: count)
    }

    /// Whether `count` bytes of code at `linear` may be decoded once and kept: plain RAM
    /// or ROM below the A20/bounds limit, where the linear address is the physical one.
    func isCacheableCode(_ linear: UInt32, count: Int) -> Bool {
        UInt64(linear) + UInt64(count) <= UInt64(readLimit)
    }

    /// Bulk copy into guest memory (used by the BIOS for disk reads); ignores A20 and ROM.
    public func load(_ data: UnsafeRawBufferPointer, at address: Int) {
        let n = max(0, min(data.count, size - address))
        if n > 0 {
            UnsafeMutableRawPointer(bytes + address).copyMemory(from: data.baseAddress!, byteCount: n)
            decodeCache.invalidate(address, count: n)
        }
    }

    /// One byte stored by the BIOS (data area, ROM tables); ignores A20 and ROM like `load`.
    func poke(_ address: Int, _ v: UInt8) {
        guard address >= 0 && address < size else { return }
        bytes[address] = v
        decodeCache.invalidate(address, count: 1)
    }

    public func load(_ data: [UInt8], at address: Int) {
        data.withUnsafeBytes { load($0, at: address) }
    }

    public func slice(_ address: Int, _ count: Int) -> [UInt8] {
        (0..<count).map { read8(UInt32(truncatingIfNeeded: address + $0)) }
    }
}
