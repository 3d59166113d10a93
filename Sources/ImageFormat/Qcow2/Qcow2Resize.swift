/// Growing and shrinking a qcow2 image's virtual size.
///
/// Grow: the L1 table grows first (new table synced before the header names it), then the
/// size field. Shrink: the size field first (the tail becomes unreachable), then the
/// references past the end are dropped (L2 entries, the L1 tail) before their refcounts
/// fall, refcount blocks that describe nothing leave the table, and the file is cut after
/// the last used cluster.
extension Qcow2Image {
    public func resize(to newSize: UInt64, preallocation: Qcow2CreateOptions.Preallocation = .off,
                       allowShrink: Bool) throws {
        try requireWritable()
        guard newSize % 512 == 0 else { throw ImageError.invalidArgument("The new size must be a multiple of 512") }
        if !snapshots.isEmpty && header.version < 3 {
            throw ImageError.invalidArgument("Can't resize a v2 image which has snapshots")
        }
        guard newSize <= Limits.maxVirtualSize else { throw ImageError.invalidArgument("Image size too big: \(newSize)") }
        let old = virtualSize
        try flush()
        if newSize >= old {
            try grow(from: old, to: newSize, preallocation: preallocation)
        } else {
            guard allowShrink else {
                throw ImageError.invalidArgument("Use the --shrink option to perform a shrink operation.")
            }
            guard preallocation == .off else {
                throw ImageError.invalidArgument("Preallocation can't be used for shrinking an image")
            }
            try shrink(to: newSize)
        }
    }

    func grow(from old: UInt64, to newSize: UInt64, preallocation: Qcow2CreateOptions.Preallocation) throws {
        try growL1(toCover: newSize)
        try setVirtualSize(newSize)
        try file.sync()
        // The new area reads zero: a backing file longer than the old size must not show
        // through (QEMU zeroes it the same way since 5.1), nor may stale bytes left in the
        // old last cluster by an earlier shrink.
        var zeroEnd = min(newSize, alignUp(old, UInt64(clusterSize)))
        if let backing, backing.virtualSize > old { zeroEnd = max(zeroEnd, min(newSize, backing.virtualSize)) }
        if zeroEnd > old { try writeZeroes(at: old, length: zeroEnd - old, mayUnmap: false) }
        if preallocation != .off { try preallocateRange(from: old, to: newSize, mode: preallocation) }
        try flush()
    }

    /// Gives every unallocated guest cluster in [from, to) a host cluster (metadata), and
    /// reserves (falloc) or zeroes (full) the host space.
    func preallocateRange(from: UInt64, to: UInt64, mode: Qcow2CreateOptions.Preallocation) throws {
        let cs = UInt64(clusterSize)
        var guest = from / cs
        let endCluster = (to + cs - 1) / cs
        var dataEnd: UInt64 = 0
        while guest < endCluster {
            let l1Index = Int(guest / UInt64(l2Entries))
            let first = Int(guest % UInt64(l2Entries))
            let n = Int(min(UInt64(l2Entries - first), endCluster - guest))
            var slot = try writableL2Slot(l1Index: l1Index)
            let free = (first..<(first + n)).filter { l2Entry(slot: slot, index: $0) == (0, 0) }
            if !free.isEmpty {
                let host = try allocateClusters(UInt64(free.count))
                slot = try writableL2Slot(l1Index: l1Index)
                for (k, j) in free.enumerated() {
                    setL2Entry(slot: slot, index: j, entry: (host + UInt64(k) * cs) | EntryBits.copied,
                               bitmap: extendedL2 ? Self.allSubclustersAllocated : 0)
                }
                let length = UInt64(free.count) * cs
                switch mode {
                case .full: try file.writeZeroes(offset: host, length: length)
                case .falloc: try file.allocate(offset: host, length: length)
                default: break
                }
                dataEnd = max(dataEnd, host + length)
            }
            guest += UInt64(n)
        }
        try flush()
        if try file.size() < dataEnd { try file.truncate(to: dataEnd) }
    }

    func shrink(to newSize: UInt64) throws {
        let keep = Int(l1EntriesNeeded(for: newSize))
        let firstGone = alignUp(newSize, UInt64(clusterSize))
        var dropped = [UInt64](repeating: 0, count: l1.count)
        for i in keep..<l1.count where l1[i] != 0 { dropped[i] = l1[i] }
        // Everything that will be released is counted first: refcounts too low for it are
        // refused before the first write.
        let tailCounts = try referenceCounts(ofL1: dropped, l1Offset: header.l1TableOffset, structure: "L1 table")
        var allCounts = tailCounts
        var boundary = false
        if keep > 0, firstGone < UInt64(keep) * l2Coverage, let table = try l2TableOffset(l1Index: keep - 1) {
            boundary = true
            let bytes = try l2TableBytes(at: table), fileSize = try file.size()
            for j in l2Position(firstGone).l2..<l2Entries {
                guard let entry = bytes.be(UInt64.self, at: j * l2EntrySize),
                      let range = try referencedClusters(entry, fileSize: fileSize) else { continue }
                for c in range { allCounts[c, default: 0] += 1 }
            }
        }
        try checkDecrementsPossible(allCounts, holder: "the area past the new end")

        try setVirtualSize(newSize)
        try file.sync()
        // The table that straddles the new end keeps its entries before the end.
        if boundary {
            let slot = try writableL2Slot(l1Index: keep - 1)
            for j in l2Position(firstGone).l2..<l2Entries {
                let (entry, bitmap) = l2Entry(slot: slot, index: j)
                guard entry != 0 || bitmap != 0 else { continue }
                setL2Entry(slot: slot, index: j, entry: 0, bitmap: 0)
                releaseOldCluster(entry)
            }
            try flush()
        }
        // The L1 tail: zeroed on disk, then the tables and data it held are released. (The
        // entry before the tail may have just changed: a shared table was copied above.)
        if dropped.contains(where: { $0 != 0 }) {
            var newL1 = l1
            for i in keep..<newL1.count { newL1[i] = 0 }
            try writeActiveL1(newL1)
            for e in dropped where e != 0 { l2Cache.invalidate(e & EntryBits.offsetMask) }
            try applyReferenceCounts(tailCounts, sign: -1)
        }
        try recomputeCopiedFlags()
        try removeUnusedRefcountBlocks()
        try truncateAfterLastUsedCluster()
    }

    /// Drops refcount blocks whose every entry is zero (apart from the block's own, when it
    /// describes itself): the new table is written before the blocks are released.
    func removeUnusedRefcountBlocks() throws {
        try flush()
        let epb = UInt64(refcountEntriesPerBlock)
        var table = refcountTable
        var freed: [(index: Int, offset: UInt64)] = []
        guard refcountTableMaxIndex >= 1 else { return }
        for b in 1...refcountTableMaxIndex where refcountTable[b] != 0 {
            guard let slot = try refcountBlockSlot(b) else { continue }
            let offset = refcountTable[b]
            let own = clusterIndex(offset)
            let buf = UnsafeRawBufferPointer(refcountCache.buffer(slot))
            var unused = true
            for i in 0..<refcountEntriesPerBlock {
                let v = refcountWidth.get(buf, i)
                if v == 0 || (own / epb == UInt64(b) && UInt64(i) == own % epb && v == 1) { continue }
                unused = false
                break
            }
            if unused { table[b] = 0; freed.append((b, offset)) }
        }
        guard !freed.isEmpty else { return }
        var bytes = [UInt8](repeating: 0, count: table.count * 8)
        for (i, e) in table.enumerated() { bytes.setBE(e, at: i * 8) }
        try writeMetadata(bytes, at: header.refcountTableOffset, ignoring: [.refcountTable])
        try file.sync()
        refcountTable = table
        recomputeRefcountTableMaxIndex()
        for f in freed {
            refcountCache.invalidate(f.offset)
            let own = clusterIndex(f.offset)
            if own / epb != UInt64(f.index) { try updateRefcounts(first: own, count: 1, delta: -1) }
        }
        try flushRefcountBlocks()
        try file.sync()
    }

    /// Cuts the file after the last cluster with a non-zero refcount.
    func truncateAfterLastUsedCluster() throws {
        let epb = UInt64(refcountEntriesPerBlock)
        var last: UInt64 = 0
        var b = refcountTableMaxIndex
        search: while b >= 0 {
            if let slot = try refcountBlockSlot(b) {
                let buf = UnsafeRawBufferPointer(refcountCache.buffer(slot))
                for i in stride(from: refcountEntriesPerBlock - 1, through: 0, by: -1) where refcountWidth.get(buf, i) != 0 {
                    last = UInt64(b) * epb + UInt64(i)
                    break search
                }
            }
            b -= 1
        }
        let end = (last + 1) << UInt64(clusterBits)
        if try file.size() > end { try file.truncate(to: end) }
    }
}
