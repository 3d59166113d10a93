/// Access to L2 tables through the L2 cache: lookup for reads, and for writes the
/// allocation or copy-on-write of a table before it may be changed.
extension Qcow2Image {
    /// Host offset of the L2 table for L1 index `i`, or nil when unallocated. Checked for
    /// alignment and reserved bits: a bad L1 entry is corruption, never a crash.
    func l2TableOffset(l1Index i: Int) throws -> UInt64? {
        guard i < l1.count else { return nil }
        let entry = l1[i]
        let offset = entry & EntryBits.offsetMask
        if offset == 0 { return nil }
        guard offsetInCluster(offset) == 0 else {
            throw corrupt("L1 table", header.l1TableOffset + UInt64(i) * 8,
                          "L2 table offset 0x\(String(offset, radix: 16)) unaligned (L1 index: \(i))")
        }
        return offset
    }

    /// Cache slot holding the L2 table at `offset`.
    func l2Slot(_ offset: UInt64) throws -> Int {
        try l2Cache.slot(for: offset, load: { buf in
            if offset >= (try file.size()) {
                throw corrupt("L2 table", offset, "L2 table lies past the end of the file")
            }
            try file.read(into: buf, at: offset)
        }, writeBack: { slot in try writeBackL2(slot) })
    }

    /// The (entry, subcluster bitmap) pair at `index` of the table in `slot`.
    @inline(__always)
    func l2Entry(slot: Int, index: Int) -> (entry: UInt64, bitmap: UInt64) {
        let buf = l2Cache.buffer(slot)
        let entry = buf.loadBE64(at: index * l2EntrySize)
        return (entry, extendedL2 ? buf.loadBE64(at: index * l2EntrySize + 8) : 0)
    }

    @inline(__always)
    func setL2Entry(slot: Int, index: Int, entry: UInt64, bitmap: UInt64) {
        let buf = l2Cache.buffer(slot)
        buf.storeBE64(entry, at: index * l2EntrySize)
        if extendedL2 { buf.storeBE64(bitmap, at: index * l2EntrySize + 8) }
        l2Cache.markDirty(slot)
    }

    /// Splits a guest offset into L1 index and L2 index.
    @inline(__always)
    func l2Position(_ guestOffset: UInt64) -> (l1: Int, l2: Int) {
        let cluster = guestOffset >> UInt64(clusterBits)
        return (Int(cluster / UInt64(l2Entries)), Int(cluster % UInt64(l2Entries)))
    }

    /// The L2 entry for a guest offset (unallocated L2 table reads as entry 0), validated.
    func lookup(_ guestOffset: UInt64) throws -> (entry: UInt64, bitmap: UInt64) {
        let pos = l2Position(guestOffset)
        guard let table = try l2TableOffset(l1Index: pos.l1) else { return (0, 0) }
        return try validatedL2Entry(slot: try l2Slot(table), index: pos.l2)
    }

    /// An L2 entry after the checks QEMU applies before using one: data clusters aligned,
    /// subcluster bitmaps consistent. A bad entry is an error naming the table and index.
    func validatedL2Entry(slot: Int, index: Int) throws -> (entry: UInt64, bitmap: UInt64) {
        let (entry, bitmap) = l2Entry(slot: slot, index: index)
        let table = l2Cache.key(slot)
        // Built only for an error: this runs on every guest I/O.
        func where_() -> String { "(L2 offset: 0x\(String(table, radix: 16)), L2 index: \(index))" }
        if entry & EntryBits.compressed != 0 {
            if extendedL2 && bitmap != 0 {
                throw corrupt("L2 table", table + UInt64(index * l2EntrySize), "compressed cluster with a subcluster bitmap \(where_())")
            }
            return (entry, bitmap)
        }
        let host = entry & EntryBits.offsetMask
        if offsetInCluster(host) != 0 {
            throw corrupt("L2 table", table + UInt64(index * l2EntrySize),
                          "Cluster allocation offset 0x\(String(host, radix: 16)) unaligned \(where_())")
        }
        if extendedL2 {
            let allocated = bitmap & 0xFFFF_FFFF, zero = bitmap >> 32
            if allocated & zero != 0 || (host == 0 && allocated != 0) {
                throw corrupt("L2 table", table + UInt64(index * l2EntrySize),
                              "invalid subcluster bitmap 0x\(String(bitmap, radix: 16)) \(where_())")
            }
        }
        return (entry, bitmap)
    }

    /// A writable L2 table for L1 index `i`: allocated if missing, copied if shared with a
    /// snapshot (COPIED clear). Order: new table written and its refcount on disk, then the
    /// L1 entry; the old shared table's refcount drops only after that (pending free).
    func writableL2Slot(l1Index i: Int) throws -> Int {
        let entry = l1[i]
        if entry & EntryBits.copied != 0, let offset = try l2TableOffset(l1Index: i) {
            return try l2Slot(offset)
        }
        let old = try l2TableOffset(l1Index: i)
        var contents = [UInt8](repeating: 0, count: clusterSize)
        if let old {
            let slot = try l2Slot(old)
            contents.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(l2Cache.buffer(slot))) }
        }
        let newOffset = try allocateClusters(1)
        try writeMetadata(contents, at: newOffset, ignoring: [.activeL2])
        unsyncedPointees = true
        try syncBeforePointer()
        try setL1Entry(i, newOffset | EntryBits.copied)
        try contents.withUnsafeBytes { buf in
            try l2Cache.insert(newOffset, contents: buf, writeBack: { slot in try writeBackL2(slot) })
        }
        if let old {
            l2Cache.invalidate(old)
            deferFree(old, count: 1)
        }
        return l2Cache.cachedSlot(newOffset)!
    }

    func setL1Entry(_ i: Int, _ value: UInt64) throws {
        try writeMetadataField(value, at: header.l1TableOffset + UInt64(i) * 8, ignoring: [.activeL1])
        indexL1Change(old: l1[i], new: value)
        indexKeptByCaller = true
        l1[i] = value
        indexKeptByCaller = false
    }

    /// Writes a dirty L2 table back. Refcounts of what it references go first.
    func writeBackL2(_ slot: Int) throws {
        try syncBeforePointer()
        let offset = l2Cache.key(slot)
        // An active table a snapshot shares is also an inactive one: its COPIED flags are
        // rewritten legitimately. A table only snapshots reference is never written back.
        try refreshMetadataIndex()
        let shared = metadataIndex.activeL2[clusterIndex(offset)] != nil
        try writeMetadata(UnsafeRawBufferPointer(l2Cache.buffer(slot)), at: offset,
                          ignoring: shared ? [.activeL2, .inactiveL2] : [.activeL2])
        l2Cache.markClean(slot)
    }
}
