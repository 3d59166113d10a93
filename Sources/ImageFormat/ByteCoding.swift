/// Big-endian field access on byte arrays, bounds-checked: a short buffer returns nil
/// rather than trapping, because every buffer here may have come from a hostile file.
extension Array where Element == UInt8 {
    @inline(__always)
    package func be<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - size else { return nil }
        var value: T = 0
        for i in 0..<size { value = (value << 8) | T(self[offset + i]) }
        return value
    }

    /// Reads a field the caller has already bounds-checked (fixed-size headers).
    @inline(__always)
    package func beUnchecked<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value = (value << 8) | T(self[offset + i]) }
        return value
    }

    @inline(__always)
    package mutating func setBE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let size = MemoryLayout<T>.size
        precondition(offset >= 0 && offset + size <= count, "setBE past the end of a buffer we sized")
        var v = value
        for i in stride(from: size - 1, through: 0, by: -1) {
            self[offset + i] = UInt8(truncatingIfNeeded: v)
            v = v >> 8
        }
    }

    package mutating func appendBE<T: FixedWidthInteger>(_ value: T) {
        let size = MemoryLayout<T>.size
        for i in stride(from: size - 1, through: 0, by: -1) {
            append(UInt8(truncatingIfNeeded: value >> (i * 8)))
        }
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    package func loadBE64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inline(__always)
    package func storeBE64(_ v: UInt64, at offset: Int) {
        storeBytes(of: v.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}

/// Overflow-checked arithmetic for sizes read from disk.
package func checkedAdd(_ a: UInt64, _ b: UInt64) -> UInt64? {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? nil : r
}

package func checkedMul(_ a: UInt64, _ b: UInt64) -> UInt64? {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    return o ? nil : r
}

package func alignUp(_ v: UInt64, _ alignment: UInt64) -> UInt64 {
    (v + alignment - 1) & ~(alignment - 1)
}

package func isAllZero(_ buf: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = buf.count
    // Word-at-a-time scan; most buffers tested are either all zero or non-zero early.
    while i + 8 <= n {
        if buf.loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
        i += 8
    }
    while i < n { if buf[i] != 0 { return false }; i += 1 }
    return true
}

package func isAllZero(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { isAllZero($0) }
}
