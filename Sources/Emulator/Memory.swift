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
    public var a20Mask: UInt32 = 0xFFFF_FFFF
    /// Writes at or above this address and below 1 MiB are ignored (option ROMs and BIOS).
    var romStart: UInt32 = 0xFFFF_FFFF

    public init(size: Int) {
        self.size = size
        // calloc hands out untouched zero pages, so a large guest costs nothing until used.
        guard let raw = calloc(size + 8, 1) else { fatalError("cannot allocate \(size) bytes of guest memory") }
        bytes = raw.assumingMemoryBound(to: UInt8.self)
    }
    deinit { free(bytes) }

    public var a20Enabled: Bool {
        get { a20Mask & 0x10_0000 != 0 }
        set { a20Mask = newValue ? 0xFFFF_FFFF : 0xFFEF_FFFF }
    }

    @inline(__always) public func read8(_ linear: UInt32) -> UInt8 {
        let a = Int(linear & a20Mask)
        return a < size ? bytes[a] : 0xFF
    }

    @inline(__always) public func write8(_ linear: UInt32, _ v: UInt8) {
        let a = linear & a20Mask
        if Int(a) < size && !(a >= romStart && a < 0x10_0000) { bytes[Int(a)] = v }
    }

    @inline(__always) public func read16(_ linear: UInt32) -> UInt16 {
        let a = Int(linear & a20Mask)
        if a + 1 < size && (a & 0xFFFFF) != 0xFFFFF {
            return UnsafeRawPointer(bytes + a).loadUnaligned(as: UInt16.self)
        }
        return UInt16(read8(linear)) | UInt16(read8(linear &+ 1)) << 8
    }

    @inline(__always) public func write16(_ linear: UInt32, _ v: UInt16) {
        let a = linear & a20Mask
        if Int(a) + 1 < size && a & 0xFFFFF != 0xFFFFF && (a < romStart || a >= 0x10_0000) && a &+ 1 != romStart {
            UnsafeMutableRawPointer(bytes + Int(a)).storeBytes(of: v, as: UInt16.self)
            return
        }
        write8(linear, UInt8(truncatingIfNeeded: v))
        write8(linear &+ 1, UInt8(truncatingIfNeeded: v >> 8))
    }

    @inline(__always) public func read32(_ linear: UInt32) -> UInt32 {
        let a = Int(linear & a20Mask)
        if a + 3 < size && (a & 0xFFFFF) <= 0xFFFFC {
            return UnsafeRawPointer(bytes + a).loadUnaligned(as: UInt32.self)
        }
        return UInt32(read16(linear)) | UInt32(read16(linear &+ 2)) << 16
    }

    @inline(__always) public func write32(_ linear: UInt32, _ v: UInt32) {
        let a = linear & a20Mask
        if Int(a) + 3 < size && a & 0xFFFFF <= 0xFFFFC && (a < romStart &- 3 || a >= 0x10_0000) {
            UnsafeMutableRawPointer(bytes + Int(a)).storeBytes(of: v, as: UInt32.self)
            return
        }
        write16(linear, UInt16(truncatingIfNeeded: v))
        write16(linear &+ 2, UInt16(truncatingIfNeeded: v >> 16))
    }

    /// Bulk copy into guest memory (used by the BIOS for disk reads); ignores A20 and ROM.
    public func load(_ data: UnsafeRawBufferPointer, at address: Int) {
        let n = max(0, min(data.count, size - address))
        if n > 0 { UnsafeMutableRawPointer(bytes + address).copyMemory(from: data.baseAddress!, byteCount: n) }
    }

    public func load(_ data: [UInt8], at address: Int) {
        data.withUnsafeBytes { load($0, at: address) }
    }

    public func slice(_ address: Int, _ count: Int) -> [UInt8] {
        (0..<count).map { read8(UInt32(truncatingIfNeeded: address + $0)) }
    }
}
