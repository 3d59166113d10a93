import ImageFormat

/// The refcounts as stored in the file: reads and (for repairs) writes of single entries
/// through the refcount table, with the blocks cached and written back on `flush`.
package final class StoredRefcounts {
    static let offsetMask: UInt64 = 0xFFFF_FFFF_FFFF_FE00
    let file: HostFile
    let clusterBits: Int
    let width: RefcountWidth
    let perBlock: UInt64
    package var table: [UInt64]
    package var tableOffset: UInt64
    private var blocks: [UInt64: [UInt8]] = [:]
    private var dirty: Set<UInt64> = []

    package enum Lookup { case value(UInt64), unaligned(blockOffset: UInt64, index: Int) }

    init(layout: CheckLayout) {
        file = layout.file
        clusterBits = layout.clusterBits
        width = layout.width
        perBlock = UInt64(layout.refcountEntriesPerBlock)
        table = layout.reftable
        tableOffset = layout.header.refcountTableOffset
    }

    var clusterSize: Int { 1 << clusterBits }

    /// Offset of the refcount block covering `cluster`: nil when there is none, or the
    /// unaligned offset QEMU refuses to read.
    func blockOffset(for cluster: UInt64) -> (offset: UInt64, aligned: Bool)? {
        let b = cluster / perBlock
        guard b < UInt64(table.count) else { return nil }
        let off = table[Int(b)] & Self.offsetMask
        if off == 0 { return nil }
        return (off, off & UInt64(clusterSize - 1) == 0)
    }

    private func block(_ offset: UInt64) throws -> [UInt8] {
        if let b = blocks[offset] { return b }
        if blocks.count >= 256 { try flush(); blocks.removeAll() }
        let b = try file.checkedRead(count: clusterSize, at: offset)
        blocks[offset] = b
        return b
    }

    func get(_ cluster: UInt64) throws -> Lookup {
        guard let (off, aligned) = blockOffset(for: cluster) else { return .value(0) }
        guard aligned else { return .unaligned(blockOffset: off, index: Int(cluster / perBlock)) }
        let b = try block(off)
        return .value(b.withUnsafeBytes { width.get($0, Int(cluster % perBlock)) })
    }

    /// Sets the stored refcount of a cluster whose refcount block exists and is aligned.
    func set(_ cluster: UInt64, _ value: UInt64) throws -> Bool {
        guard let (off, aligned) = blockOffset(for: cluster), aligned else { return false }
        var b = try block(off)
        b.withUnsafeMutableBytes { width.set($0, Int(cluster % perBlock), value) }
        blocks[off] = b
        dirty.insert(off)
        return true
    }

    func flush() throws {
        for off in dirty.sorted() { if let b = blocks[off] { try file.write(b, at: off) } }
        dirty.removeAll()
    }

    func invalidate() { blocks.removeAll(); dirty.removeAll() }
}
