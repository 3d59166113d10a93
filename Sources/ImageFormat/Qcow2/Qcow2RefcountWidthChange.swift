/// Changing the refcount width (amend -o refcount_bits=N): a complete new refcount
/// structure at the new width is written past the end of the file, then one header write
/// switches to it (refcount_order, table offset and size together). The old table and
/// blocks are free under the new structure from the start, so a crash before the switch
/// leaves the old structure in force and after it the new one: never a mix.
extension Qcow2Image {
    public func changeRefcountWidth(bits: Int) throws {
        try requireWritable()
        let newOrder = bits.trailingZeroBitCount
        guard bits >= 1, bits <= 64, bits & (bits - 1) == 0 else {
            throw ImageError.invalidArgument("Refcount width must be a power of two and may not exceed 64 bits")
        }
        guard newOrder != refcountWidth.order else { return }
        try flush()
        let cs = UInt64(clusterSize)
        var counts = try currentRefcounts()
        // The old structure is released by the switch.
        var old: [UInt64] = refcountTable.filter { $0 != 0 }.map { clusterIndex($0) }
        let tableStart = clusterIndex(header.refcountTableOffset)
        old += (tableStart..<(tableStart + UInt64(header.refcountTableClusters))).map { $0 }
        for c in old {
            guard c < UInt64(counts.count), counts[Int(c)] > 0 else {
                throw corrupt("refcount table", header.refcountTableOffset,
                              "refcount structure cluster \(c) has no refcount of its own")
            }
            counts[Int(c)] -= 1
        }
        let newWidth = RefcountWidth(order: newOrder)
        if let c = counts.firstIndex(where: { $0 > newWidth.maxValue }) {
            throw ImageError.invalidArgument("Cannot decrease refcount entry width to \(bits) bits: Cluster at offset "
                + "0x\(String(UInt64(c) << UInt64(clusterBits), radix: 16)) has a refcount of \(counts[c])")
        }

        // Layout: new blocks from `start` on, then the table; iterate to a fixed point since
        // the new clusters need counting too.
        let epb = UInt64(newWidth.entriesPerBlock(clusterSize: clusterSize))
        let start = UInt64(counts.count)
        var blockCount: UInt64 = 0, tableClusters: UInt64 = 1
        var needed: [UInt64] = []
        for _ in 0..<64 {
            let total = start + blockCount + tableClusters
            var indices = Set<UInt64>()
            for (c, n) in counts.enumerated() where n != 0 { indices.insert(UInt64(c) / epb) }
            for c in start..<total { indices.insert(c / epb) }
            needed = indices.sorted()
            let entries = (needed.last ?? 0) + 1
            let newTable = (entries * 8 + cs - 1) / cs
            if UInt64(needed.count) == blockCount && newTable == tableClusters { break }
            blockCount = UInt64(needed.count)
            tableClusters = newTable
        }
        guard tableClusters * cs <= Limits.maxRefcountTableBytes else {
            throw ImageError.invalidArgument("'\(filename)': refcount table at \(bits) bits would exceed \(Limits.maxRefcountTableBytes) bytes")
        }
        let total = start + blockCount + tableClusters
        counts += [UInt64](repeating: 1, count: Int(total - start))
        var table = [UInt64](repeating: 0, count: Int(tableClusters * cs / 8))
        for (k, b) in needed.enumerated() {
            let offset = (start + UInt64(k)) << UInt64(clusterBits)
            table[Int(b)] = offset
            var block = [UInt8](repeating: 0, count: clusterSize)
            block.withUnsafeMutableBytes { buf in
                for c in (b * epb)..<min((b + 1) * epb, UInt64(counts.count)) where counts[Int(c)] != 0 {
                    newWidth.set(buf, Int(c - b * epb), counts[Int(c)])
                }
            }
            try writeMetadata(block, at: offset, ignoring: [])
        }
        var tableBytes = [UInt8](repeating: 0, count: table.count * 8)
        for (i, e) in table.enumerated() { tableBytes.setBE(e, at: i * 8) }
        let tableOffset = (start + blockCount) << UInt64(clusterBits)
        try writeMetadata(tableBytes, at: tableOffset, ignoring: [])
        try file.sync()

        let saved = header
        header.refcountOrder = UInt32(newOrder)
        header.refcountTableOffset = tableOffset
        header.refcountTableClusters = UInt32(tableClusters)
        do { try rewriteHeader() } catch { header = saved; throw error }
        refcountWidth = newWidth
        refcountEntriesPerBlock = Int(epb)
        refcountTable = table
        recomputeRefcountTableMaxIndex()
        refcountCache.invalidateAll()
        freeClusterHint = 1
        freeByteOffset = 0
    }

    /// Every cluster's refcount up to the end of the file. A refcount past the end of the
    /// file is corruption (nothing valid lives there), refused rather than allocated for:
    /// a hostile table could otherwise name billions of clusters.
    func currentRefcounts() throws -> [UInt64] {
        let fileClusters = Int((try file.size() + UInt64(clusterSize) - 1) >> UInt64(clusterBits))
        var counts = [UInt64](repeating: 0, count: fileClusters)
        guard refcountTableMaxIndex >= 0 else { return counts }
        for b in 0...refcountTableMaxIndex {
            guard let slot = try refcountBlockSlot(b) else { continue }
            let buf = UnsafeRawBufferPointer(refcountCache.buffer(slot))
            for i in 0..<refcountEntriesPerBlock {
                let value = refcountWidth.get(buf, i)
                let (c, overflow) = b.multipliedReportingOverflow(by: refcountEntriesPerBlock)
                let cluster = overflow ? Int.max : c + i
                if cluster < fileClusters {
                    counts[cluster] = value
                } else if value != 0 {
                    throw corrupt("refcount block", refcountTable[b], "refcount \(value) for cluster \(cluster), "
                        + "past the end of the file; run 'img check -r all'")
                }
            }
        }
        return counts
    }
}
