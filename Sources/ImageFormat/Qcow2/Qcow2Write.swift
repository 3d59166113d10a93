/// The write path: in-place writes to clusters this image owns alone (COPIED), allocation
/// with copy-on-write otherwise, zero writes and discards.
extension Qcow2Image {
    static let allSubclustersAllocated: UInt64 = 0x0000_0000_FFFF_FFFF
    static let allSubclustersZero: UInt64 = 0xFFFF_FFFF_0000_0000

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try requireWritable()
        try checkRange(offset, buffer.count)
        try markDirtyIfLazy()
        var done = 0
        while done < buffer.count {
            let pos = offset + UInt64(done)
            let remaining = buffer.count - done
            if offsetInCluster(pos) == 0 && remaining >= clusterSize {
                let n = try writeFreshClusters(UnsafeRawBufferPointer(rebasing: buffer[done...]), at: pos)
                if n > 0 { done += n * clusterSize; continue }
            }
            let n = min(remaining, clusterSize - offsetInCluster(pos))
            try writeWithinCluster(UnsafeRawBufferPointer(rebasing: buffer[done..<(done + n)]), at: pos)
            done += n
        }
    }

    /// Writes a run of whole clusters that need new host clusters with one allocation and
    /// one host write. Returns how many clusters it wrote (0 when the first needs more care).
    func writeFreshClusters(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws -> Int {
        let n = try freshClusterCount(at: offset, limit: data.count / clusterSize)
        guard n > 0 else { return 0 }
        let host = try allocateClusters(UInt64(n))
        let bytes = UnsafeRawBufferPointer(rebasing: data[0..<(n * clusterSize)])
        try preventOverlap(offset: host, length: UInt64(bytes.count), ignoring: [])
        try file.write(bytes, at: host)
        unsyncedPointees = true
        try linkFreshClusters(at: offset, host: host, count: n)
        return n
    }

    /// How many whole clusters from `offset` (at most `limit`, within one L2 table) need new
    /// host clusters: unallocated, zero, compressed or shared with a snapshot.
    func freshClusterCount(at offset: UInt64, limit: Int) throws -> Int {
        let (l1Index, l2Index) = l2Position(offset)
        let slot = try writableL2Slot(l1Index: l1Index)
        let limit = min(limit, l2Entries - l2Index)
        var n = 0
        while n < limit {
            let (entry, _) = try validatedL2Entry(slot: slot, index: l2Index + n)
            if entry & EntryBits.copied != 0 && entry & EntryBits.compressed == 0 { break }
            n += 1
        }
        return n
    }

    /// Points the L2 entries of `count` clusters from `offset` at the host run from `host`
    /// and drops the old entries' claims.
    func linkFreshClusters(at offset: UInt64, host: UInt64, count n: Int) throws {
        let (l1Index, l2Index) = l2Position(offset)
        let slot = try writableL2Slot(l1Index: l1Index)
        for i in 0..<n {
            let old = l2Entry(slot: slot, index: l2Index + i).entry
            setL2Entry(slot: slot, index: l2Index + i, entry: (host + UInt64(i * clusterSize)) | EntryBits.copied,
                       bitmap: Self.allSubclustersAllocated)
            releaseOldCluster(old)
        }
    }

    /// Writes a range inside one cluster.
    func writeWithinCluster(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let (l1Index, l2Index) = l2Position(offset)
        var slot = try writableL2Slot(l1Index: l1Index)
        let (entry, bitmap) = try validatedL2Entry(slot: slot, index: l2Index)
        let inCluster = offsetInCluster(offset)
        let clusterStart = offset - UInt64(inCluster)
        let host = entry & EntryBits.offsetMask
        let owned = entry & EntryBits.copied != 0 && entry & EntryBits.compressed == 0 && host != 0

        if !extendedL2 {
            switch codec.kind(entry) {
            case .normal(let h) where owned:
                try preventOverlap(offset: h + UInt64(inCluster), length: UInt64(data.count), ignoring: [])
                try file.write(data, at: h + UInt64(inCluster))
            case .zeroAllocated(let h) where owned:
                let cluster = try buildSpan(start: clusterStart, length: clusterSize, data: data, dataOffset: inCluster)
                try writeData(cluster, at: h)
                setL2Entry(slot: slot, index: l2Index, entry: h | EntryBits.copied, bitmap: 0)
            default:
                let cluster = try buildSpan(start: clusterStart, length: clusterSize, data: data, dataOffset: inCluster)
                let newHost = try allocateClusters(1)
                try writeData(cluster, at: newHost)
                slot = try writableL2Slot(l1Index: l1Index)
                setL2Entry(slot: slot, index: l2Index, entry: newHost | EntryBits.copied, bitmap: 0)
                releaseOldCluster(entry)
            }
            return
        }

        // Extended L2: only the touched subclusters change state.
        let first = inCluster / subclusterSize
        let last = (inCluster + data.count - 1) / subclusterSize
        var touched: UInt64 = 0
        for i in first...last { touched |= 1 << UInt64(i) }
        let spanStart = first * subclusterSize
        let spanLength = (last + 1) * subclusterSize - spanStart
        if owned || (host == 0 && entry & EntryBits.compressed == 0) {
            let span = try buildSpan(start: clusterStart + UInt64(spanStart), length: spanLength, data: data,
                                     dataOffset: inCluster - spanStart)
            let target = owned ? host : try allocateClusters(1)
            try writeData(span, at: target + UInt64(spanStart))
            slot = try writableL2Slot(l1Index: l1Index)
            let newBitmap = (bitmap & ~(touched << 32)) | touched
            setL2Entry(slot: slot, index: l2Index, entry: target | EntryBits.copied, bitmap: newBitmap)
        } else {
            // Shared with a snapshot, or compressed: copy the whole guest-visible cluster.
            let cluster = try buildSpan(start: clusterStart, length: clusterSize, data: data, dataOffset: inCluster)
            let newHost = try allocateClusters(1)
            try writeData(cluster, at: newHost)
            slot = try writableL2Slot(l1Index: l1Index)
            setL2Entry(slot: slot, index: l2Index, entry: newHost | EntryBits.copied, bitmap: Self.allSubclustersAllocated)
            releaseOldCluster(entry)
        }
    }

    /// Guest bytes [start, start+length) as they will be after writing `data` at
    /// `dataOffset` into them: the parts not written come from what the guest sees now
    /// (backing file, zeroes, old or compressed cluster): copy-on-write.
    func buildSpan(start: UInt64, length: Int, data: UnsafeRawBufferPointer, dataOffset: Int) throws -> [UInt8] {
        var span = [UInt8](repeating: 0, count: length)
        try span.withUnsafeMutableBytes { buf in
            let head = dataOffset, tailStart = dataOffset + data.count
            if head > 0 { try read(into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<head]), at: start) }
            if tailStart < length {
                let end = min(UInt64(length), virtualSize - start)
                if UInt64(tailStart) < end {
                    try read(into: UnsafeMutableRawBufferPointer(rebasing: buf[tailStart..<Int(end)]), at: start + UInt64(tailStart))
                }
            }
            UnsafeMutableRawBufferPointer(rebasing: buf[head..<tailStart]).copyMemory(from: data)
        }
        return span
    }

    func writeData(_ bytes: [UInt8], at host: UInt64) throws {
        try preventOverlap(offset: host, length: UInt64(bytes.count), ignoring: [])
        try file.write(bytes, at: host)
        unsyncedPointees = true
    }

    /// Drops this L2 entry's claim on its host cluster(s), after the entry was replaced.
    func releaseOldCluster(_ entry: UInt64) {
        switch codec.kind(entry) {
        case .normal(let h), .zeroAllocated(let h): deferFree(h, count: 1)
        case .compressed(let h, let size): deferFreeCompressed(host: h, size: size)
        default: break
        }
    }

    /// With lazy refcounts the dirty bit goes to disk before the first write, so that a crash
    /// with stale refcounts is detected and repaired on the next open.
    func markDirtyIfLazy() throws {
        guard lazyRefcounts, !dirtyBitSet, header.version >= 3 else { return }
        try setIncompatibleFeatures(header.incompatibleFeatures | Qcow2Feature.Incompatible.dirty)
        dirtyBitSet = true
    }

    func setIncompatibleFeatures(_ value: UInt64) throws {
        try writeMetadataField(value, at: HeaderField.incompatibleFeatures, ignoring: [.mainHeader])
        try file.sync()
        header.incompatibleFeatures = value
    }

    public func writeZeroes(at offset: UInt64, length: UInt64, mayUnmap: Bool) throws {
        try requireWritable()
        try checkRange(offset, length)
        try markDirtyIfLazy()
        var pos = offset
        let end = offset + length
        while pos < end {
            let inCluster = offsetInCluster(pos)
            let n = min(end - pos, UInt64(clusterSize - inCluster))
            if inCluster == 0 && n == UInt64(clusterSize) && header.version >= 3 {
                try zeroCluster(at: pos, mayUnmap: mayUnmap)
            } else if try !readsAsZeroWithoutBacking(pos) {
                let zeroes = [UInt8](repeating: 0, count: Int(n))
                try zeroes.withUnsafeBytes { try writeWithinCluster($0, at: pos) }
            }
            pos += n
        }
    }

    /// True when the cluster is unallocated with no backing data under it (v2 fast path).
    func readsAsZeroWithoutBacking(_ offset: UInt64) throws -> Bool {
        let (entry, bitmap) = try lookup(offset)
        guard entry == 0, bitmap == 0 else { return false }
        return backing == nil || offset >= backing!.virtualSize
    }

    /// Marks one whole cluster as reading zero (v3).
    func zeroCluster(at offset: UInt64, mayUnmap: Bool) throws {
        let (l1Index, l2Index) = l2Position(offset)
        let slot = try writableL2Slot(l1Index: l1Index)
        let (entry, _) = try validatedL2Entry(slot: slot, index: l2Index)
        let host = entry & EntryBits.offsetMask
        let owned = entry & EntryBits.copied != 0 && entry & EntryBits.compressed == 0 && host != 0
        if extendedL2 {
            if owned && !mayUnmap {
                setL2Entry(slot: slot, index: l2Index, entry: entry, bitmap: Self.allSubclustersZero)
            } else {
                setL2Entry(slot: slot, index: l2Index, entry: 0, bitmap: Self.allSubclustersZero)
                releaseOldCluster(entry)
            }
            return
        }
        if owned && !mayUnmap {
            setL2Entry(slot: slot, index: l2Index, entry: host | EntryBits.copied | EntryBits.zero, bitmap: 0)
        } else {
            setL2Entry(slot: slot, index: l2Index, entry: EntryBits.zero, bitmap: 0)
            releaseOldCluster(entry)
        }
    }

    /// Discards whole clusters in the range (partial clusters are left alone, as QEMU does).
    /// Afterwards a v3 image reads zero there, a v2 image reads its backing file.
    public func discard(at offset: UInt64, length: UInt64) throws {
        try requireWritable()
        try checkRange(offset, length)
        try markDirtyIfLazy()
        var pos = alignUp(offset, UInt64(clusterSize))
        let end = offset + length
        while pos < end {
            let clusterEnd = pos + UInt64(clusterSize)
            // The image's last cluster may be partial: discarding to the end still counts.
            guard clusterEnd <= end || end == virtualSize else { break }
            let (entry, bitmap) = try lookup(pos)
            let allocated = entry & (EntryBits.offsetMask | EntryBits.compressed) != 0
            if allocated || backing != nil || entry != 0 || bitmap != 0 {
                let (l1Index, l2Index) = l2Position(pos)
                let slot = try writableL2Slot(l1Index: l1Index)
                if extendedL2 {
                    setL2Entry(slot: slot, index: l2Index, entry: 0, bitmap: Self.allSubclustersZero)
                } else {
                    setL2Entry(slot: slot, index: l2Index, entry: header.version >= 3 ? EntryBits.zero : 0, bitmap: 0)
                }
                releaseOldCluster(entry)
            }
            pos = clusterEnd
        }
    }
}
