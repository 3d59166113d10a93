/// The in-memory recount: one counter per host cluster, kept compact so memory scales with
/// the file (two bytes per cluster, allocated per chunk only where something is counted)
/// and counts past 0xFFFE spill into a dictionary. Counts saturate at the image's refcount
/// maximum exactly as QEMU's in-memory table of the image's own width does.
package final class RefcountArray {
    static let chunkBits = 16
    static let chunkSize = 1 << chunkBits
    static let spilled: UInt16 = 0xFFFF

    /// Number of clusters covered (the file's clusters, grown when the last partial cluster
    /// or a repair extends the file).
    package private(set) var count: UInt64
    package let maxValue: UInt64
    private var chunks: [UnsafeMutablePointer<UInt16>?]
    private var spill: [UInt64: UInt64] = [:]

    package init(count: UInt64, maxValue: UInt64) {
        self.count = count
        self.maxValue = maxValue
        chunks = Array(repeating: nil, count: Int((count + UInt64(Self.chunkSize) - 1) >> UInt64(Self.chunkBits)))
    }

    deinit { for c in chunks { c?.deallocate() } }

    package func grow(to newCount: UInt64) {
        guard newCount > count else { return }
        count = newCount
        let need = Int((newCount + UInt64(Self.chunkSize) - 1) >> UInt64(Self.chunkBits))
        if need > chunks.count { chunks += Array(repeating: nil, count: need - chunks.count) }
    }

    @inline(__always)
    package subscript(_ i: UInt64) -> UInt64 {
        guard let chunk = chunks[Int(i >> UInt64(Self.chunkBits))] else { return 0 }
        let v = chunk[Int(i & UInt64(Self.chunkSize - 1))]
        return v == Self.spilled ? spill[i] ?? 0 : UInt64(v)
    }

    /// Whether the chunk holding cluster `i` has ever been written (a fast skip for sparse files).
    package func chunkTouched(_ i: UInt64) -> Bool { chunks[Int(i >> UInt64(Self.chunkBits))] != nil }

    @inline(__always)
    package func set(_ i: UInt64, _ value: UInt64) {
        let ci = Int(i >> UInt64(Self.chunkBits))
        let chunk: UnsafeMutablePointer<UInt16>
        if let c = chunks[ci] { chunk = c } else {
            if value == 0 { return }
            chunk = .allocate(capacity: Self.chunkSize)
            chunk.initialize(repeating: 0, count: Self.chunkSize)
            chunks[ci] = chunk
        }
        let j = Int(i & UInt64(Self.chunkSize - 1))
        if value >= UInt64(Self.spilled) {
            chunk[j] = Self.spilled
            spill[i] = value
        } else {
            if chunk[j] == Self.spilled { spill[i] = nil }
            chunk[j] = UInt16(value)
        }
    }

    /// Adds one reference; false when the count is already at the image's maximum.
    @inline(__always)
    package func increment(_ i: UInt64) -> Bool {
        let ci = Int(i >> UInt64(Self.chunkBits))
        if let chunk = chunks[ci] {
            let j = Int(i & UInt64(Self.chunkSize - 1))
            let v = chunk[j]
            if v < Self.spilled - 1 && UInt64(v) < maxValue { chunk[j] = v + 1; return true }
        }
        let old = self[i]
        guard old < maxValue else { return false }
        set(i, old + 1)
        return true
    }

    package func reset() {
        for i in chunks.indices { chunks[i]?.deallocate(); chunks[i] = nil }
        spill = [:]
    }
}
