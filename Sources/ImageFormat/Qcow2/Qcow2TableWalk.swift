/// Walking whole L1 tables (active or a snapshot's) for the lifecycle operations: the
/// references a table holds, refcount changes applied as one batch after an overflow
/// pre-check, and the COPIED flags recomputed from refcounts.
///
/// Refcount model (QEMU's, and what `qemu-img check` counts): every L1 table that points at
/// an L2 table adds one to that table's refcount and one to every cluster its entries
/// reference, so a table shared by two L1 tables counts its data clusters twice.
extension Qcow2Image {
    /// Reads an L1 table named by a snapshot or the header, checking that it lies in the file.
    func readL1Table(offset: UInt64, count: Int, structure: String) throws -> [UInt64] {
        guard count > 0 else { return [] }
        guard UInt64(count) * 8 <= Limits.maxL1Bytes else {
            throw corrupt(structure, offset, "L1 table of \(count) entries is too large")
        }
        guard offsetInCluster(offset) == 0, offset != 0,
              let end = checkedAdd(offset, UInt64(count) * 8), end <= (try file.size()) else {
            throw corrupt(structure, offset, "L1 table of \(count) entries is unaligned or lies past the end of the file")
        }
        return try Qcow2Image.readTable(file, offset: offset, count: count)
    }

    /// Host offset of the L2 table an L1 entry names, validated; nil when unallocated.
    func l2Offset(inL1Entry entry: UInt64, index: Int, structure: String, l1Offset: UInt64) throws -> UInt64? {
        if entry & EntryBits.l1Reserved != 0 {
            throw corrupt(structure, l1Offset + UInt64(index) * 8, "reserved bits set in L1 entry \(index)")
        }
        let offset = entry & EntryBits.offsetMask
        guard offset != 0 else { return nil }
        guard offsetInCluster(offset) == 0, offset + UInt64(clusterSize) <= (try file.size()) else {
            throw corrupt(structure, l1Offset + UInt64(index) * 8,
                          "L2 table offset 0x\(String(offset, radix: 16)) is unaligned or past the end of the file")
        }
        return offset
    }

    /// An L2 table's bytes: the cached copy when there is one (it may be newer), else the file's.
    func l2TableBytes(at offset: UInt64) throws -> [UInt8] {
        if let slot = l2Cache.cachedSlot(offset) { return Array(UnsafeRawBufferPointer(l2Cache.buffer(slot))) }
        return try file.read(count: clusterSize, at: offset)
    }

    /// Host clusters an L2 entry holds a reference to (none for unallocated or plain zero).
    /// Clusters past the end of the file are corruption: counting them would grow the
    /// refcount structure without bound.
    func referencedClusters(_ entry: UInt64, fileSize: UInt64) throws -> ClosedRange<UInt64>? {
        switch codec.kind(entry) {
        case .normal(let h), .zeroAllocated(let h):
            guard offsetInCluster(h) == 0, h < fileSize else {
                throw corrupt("L2 table", h, "data cluster offset 0x\(String(h, radix: 16)) is unaligned or past the end of the file")
            }
            return clusterIndex(h)...clusterIndex(h)
        case .compressed(let h, let size):
            guard size > 0, let last = checkedAdd(h, UInt64(size) - 1), h < fileSize else {
                throw corrupt("L2 table", h, "compressed cluster descriptor out of range")
            }
            return clusterIndex(h)...clusterIndex(last)
        default:
            return nil
        }
    }

    /// How many references the L1 table holds on each host cluster (L2 tables and data).
    func referenceCounts(ofL1 table: [UInt64], l1Offset: UInt64, structure: String) throws -> [UInt64: UInt64] {
        var counts: [UInt64: UInt64] = [:]
        let fileSize = try file.size()
        // Each distinct L2 table is read once, however many entries name it (a hostile
        // table naming one L2 table millions of times must not mean millions of reads).
        var uses: [UInt64: UInt64] = [:]
        for (i, e) in table.enumerated() {
            guard let l2 = try l2Offset(inL1Entry: e, index: i, structure: structure, l1Offset: l1Offset) else { continue }
            uses[l2, default: 0] += 1
        }
        for (l2, n) in uses {
            counts[clusterIndex(l2), default: 0] += n
            let bytes = try l2TableBytes(at: l2)
            for j in 0..<l2Entries {
                guard let entry = bytes.be(UInt64.self, at: j * l2EntrySize), entry != 0 else { continue }
                guard let range = try referencedClusters(entry, fileSize: fileSize) else { continue }
                for c in range { counts[c, default: 0] += n }
            }
        }
        return counts
    }

    /// Refuses (before anything is written) increments that would overflow the refcount width,
    /// with the hint qemu-img gives: a wider refcount_bits.
    func checkIncrementsFit(_ counts: [UInt64: UInt64], action: String) throws {
        for (c, n) in counts.sorted(by: { $0.key < $1.key }) {
            let (sum, overflow) = try refcount(ofCluster: c).addingReportingOverflow(n)
            if overflow || sum > refcountWidth.maxValue {
                throw ImageError.invalidArgument(
                    "Could not \(action): refcount of the cluster at offset 0x\(String(c << UInt64(clusterBits), radix: 16)) "
                    + "would exceed \(refcountWidth.maxValue) (refcount_bits=\(refcountWidth.bits))\n"
                    + "Try increasing the refcount width with 'img amend -o refcount_bits=16'")
            }
        }
    }

    /// Refuses (before anything is written) decrements below zero: the refcounts do not
    /// account for the references being dropped, so the image needs 'img check -r all'.
    func checkDecrementsPossible(_ counts: [UInt64: UInt64], holder: String) throws {
        for (c, n) in counts.sorted(by: { $0.key < $1.key }) where try refcount(ofCluster: c) < n {
            throw corrupt("refcount block", c << UInt64(clusterBits),
                          "refcount of cluster \(c) is lower than the references \(holder) holds; run 'img check -r all'")
        }
    }

    /// Applies the counts with `sign` (+1 or -1) and writes the refcount blocks (synced).
    /// Freed clusters leave the caches: they may have held an L2 table.
    func applyReferenceCounts(_ counts: [UInt64: UInt64], sign: Int64) throws {
        if sign < 0 { try checkDecrementsPossible(counts, holder: "the dropped table") }
        for (c, n) in counts.sorted(by: { $0.key < $1.key }) {
            guard let amount = Int64(exactly: n) else { throw corrupt("L2 table", 0, "reference count out of range") }
            try updateRefcounts(first: c, count: 1, delta: sign * amount)
            if sign < 0, try refcount(ofCluster: c) == 0 {
                let offset = c << UInt64(clusterBits)
                l2Cache.invalidate(offset)
                if decompressedCache?.host == offset { decompressedCache = nil }
            }
        }
        try flushRefcountBlocks()
        try file.sync()
    }

    /// Sets COPIED on exactly the active L1 and L2 entries whose cluster has refcount 1
    /// (QEMU's invariant, which `qemu-img check` verifies), writing what changed (synced).
    /// `pending` are decrements about to be applied: the flags are computed from the
    /// refcounts they will leave, so that the flags can reach the disk before the decrements
    /// do (a crash between the two leaves a refcount above its references: a leak).
    func recomputeCopiedFlags(pending: [UInt64: UInt64] = [:]) throws {
        var done = Set<UInt64>()
        func refcountAfter(_ c: UInt64) throws -> UInt64 {
            let now = try refcount(ofCluster: c), dropping = pending[c] ?? 0
            return now >= dropping ? now - dropping : 0
        }
        for i in 0..<l1.count {
            guard let l2 = try l2Offset(inL1Entry: l1[i], index: i, structure: "L1 table", l1Offset: header.l1TableOffset) else { continue }
            let owned = try refcountAfter(clusterIndex(l2)) == 1
            let wantL1 = owned ? l1[i] | EntryBits.copied : l1[i] & ~EntryBits.copied
            if wantL1 != l1[i] { try setL1Entry(i, wantL1) }
            guard done.insert(l2).inserted else { continue }
            let slot = try l2Slot(l2)
            for j in 0..<l2Entries {
                let (entry, bitmap) = l2Entry(slot: slot, index: j)
                guard entry & EntryBits.compressed == 0, entry & EntryBits.offsetMask != 0 else { continue }
                let single = try refcountAfter(clusterIndex(entry & EntryBits.offsetMask)) == 1
                let want = single ? entry | EntryBits.copied : entry & ~EntryBits.copied
                if want != entry { setL2Entry(slot: slot, index: j, entry: want, bitmap: bitmap) }
            }
        }
        try flush()
    }

    /// Writes a whole active L1 table in place (same size), synced.
    func writeActiveL1(_ table: [UInt64]) throws {
        var bytes = [UInt8](repeating: 0, count: table.count * 8)
        for (i, e) in table.enumerated() { bytes.setBE(e, at: i * 8) }
        try writeMetadata(bytes, at: header.l1TableOffset, ignoring: [.activeL1])
        l1 = table  // what the file now holds, even if the sync below fails
        try file.sync()
    }
}
