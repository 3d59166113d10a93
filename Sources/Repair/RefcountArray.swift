/// The in-memory recount: one counter per host cluster, kept compact so memory scales with
/// the file. Storage is per chunk of 64 Ki clusters, allocated only where something is
/// counted: four bits per cluster while every count in the chunk is below 15 (the common
/// case: a handful of snapshots), widened to 16 bits for the chunk on the first larger
/// count, with counts past 0xFFFE spilling into a dictionary. Counts saturate at the image's
/// refcount maximum, as QEMU's in-memory table of the image's own width does.
package final class RefcountArray {
    static let chunkBits = 16
    static let chunkSize = 1 << chunkBits
    static let spilled: UInt16 = 0xFFFF
    static let nibbleLimit: UInt64 = 15

    /// Number of clusters covered (the file's clusters, grown when the last partial cluster
    /// or a repair extends the file).
    package private(set) var count: UInt64
    package let maxValue: UInt64
    private var chunks: [UnsafeMutableRawPointer?]
    private var wide: [Bool]
    private var spill: [UInt64: UInt64] = [:]

    package init(count: UInt64, maxValue: UInt64) {
        self.count = count
        self.maxValue = maxValue
        let n = Int((count + UInt64(Self.chunkSize) - 1) >> UInt64(Self.chunkBits))
        chunks = Array(repeating: nil, count: n)
        wide = Array(repeating: false, count: n)
    }

    deinit { for c in chunks { c?.deallocate() } }

    package func grow(to newCount: UInt64) {
        guard newCount > count else { return }
        count = newCount
        let need = Int((newCount + UInt64(Self.chunkSize) - 1) >> UInt64(Self.chunkBits))
        if need > chunks.count {
            chunks += Array(repeating: nil, count: need - chunks.count)
            wide += Array(repeating: false, count: need - wide.count)
        }
    }

    @inline(__always)
    package subscript(_ i: UInt64) -> UInt64 {
        let ci = Int(i >> UInt64(Self.chunkBits))
        guard let chunk = chunks[ci] else { return 0 }
        let j = Int(i & UInt64(Self.chunkSize - 1))
        if !wide[ci] {
            let byte = chunk.load(fromByteOffset: j >> 1, as: UInt8.self)
            return UInt64(j & 1 == 0 ? byte & 0xF : byte >> 4)
        }
        let v = chunk.load(fromByteOffset: j * 2, as: UInt16.self)
        return v == Self.spilled ? spill[i] ?? 0 : UInt64(v)
    }

    /// Whether the chunk holding cluster `i` has ever been written (a fast skip for sparse files).
    package func chunkTouched(_ i: UInt64) -> Bool { chunks[Int(i >> UInt64(Self.chunkBits))] != nil }

    package func set(_ i: UInt64, _ value: UInt64) {
        let ci = Int(i >> UInt64(Self.chunkBits))
        if chunks[ci] == nil {
            if value == 0 { return }
            let p = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize / 2, alignment: 16)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: Self.chunkSize / 2)
            chunks[ci] = p
        }
        if !wide[ci] && value >= Self.nibbleLimit { widen(ci) }
        let chunk = chunks[ci]!
        let j = Int(i & UInt64(Self.chunkSize - 1))
        if !wide[ci] {
            let old = chunk.load(fromByteOffset: j >> 1, as: UInt8.self)
            let new = j & 1 == 0 ? (old & 0xF0) | UInt8(value) : (old & 0x0F) | (UInt8(value) << 4)
            chunk.storeBytes(of: new, toByteOffset: j >> 1, as: UInt8.self)
            return
        }
        if value >= UInt64(Self.spilled) {
            chunk.storeBytes(of: Self.spilled, toByteOffset: j * 2, as: UInt16.self)
            spill[i] = value
        } else {
            if chunk.load(fromByteOffset: j * 2, as: UInt16.self) == Self.spilled { spill[i] = nil }
            chunk.storeBytes(of: UInt16(value), toByteOffset: j * 2, as: UInt16.self)
        }
    }

    /// Switches one chunk from four to sixteen bits per cluster.
    private func widen(_ ci: Int) {
        guard let old = chunks[ci] else { return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: Self.chunkSize * 2, alignment: 16)
        for j in 0..<Self.chunkSize {
            let byte = old.load(fromByteOffset: j >> 1, as: UInt8.self)
            p.storeBytes(of: UInt16(j & 1 == 0 ? byte & 0xF : byte >> 4), toByteOffset: j * 2, as: UInt16.self)
        }
        old.deallocate()
        chunks[ci] = p
        wide[ci] = true
    }

    /// Adds one reference; false when the count is already at the image's maximum.
    @inline(__always)
    package func increment(_ i: UInt64) -> Bool {
        let ci = Int(i >> UInt64(Self.chunkBits))
        if let chunk = chunks[ci], !wide[ci] {
            let j = Int(i & UInt64(Self.chunkSize - 1))
            let byte = chunk.load(fromByteOffset: j >> 1, as: UInt8.self)
            let v = j & 1 == 0 ? byte & 0xF : byte >> 4
            if v < 14 && UInt64(v) < maxValue {
                chunk.storeBytes(of: j & 1 == 0 ? byte + 1 : byte &+ 0x10, toByteOffset: j >> 1, as: UInt8.self)
                return true
            }
        }
        let old = self[i]
        guard old < maxValue else { return false }
        set(i, old + 1)
        return true
    }

    package func reset() {
        for i in chunks.indices { chunks[i]?.deallocate(); chunks[i] = nil; wide[i] = false }
        spill = [:]
    }
}
