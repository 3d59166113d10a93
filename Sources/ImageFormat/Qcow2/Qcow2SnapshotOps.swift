#if canImport(Glibc)
import Glibc
#endif

/// Internal snapshots: create, apply (revert) and delete, and rewriting the snapshot table.
///
/// Crash-safety order: create raises refcounts (synced) before it clears COPIED flags and
/// before the snapshot's L1 copy and the table entry make the new references live; delete
/// drops the table entry (new table synced, header switched) before any refcount falls;
/// apply raises the snapshot's refcounts before its L1 becomes the active one and lowers
/// the old active tables' after. COPIED flags that a decrement makes valid are set (synced)
/// before the decrement. A crash at any point leaves leaks at most: refcounts above their
/// references, where an active entry may still carry (or already carry) COPIED; check
/// counts that flag as an error, and a leak repair alone (check -r leaks) clears it.
extension Qcow2Image {
    /// Finds a snapshot as qemu-img's apply does: by ID first, then by name.
    public func findSnapshot(idOrName key: String) -> Int? {
        snapshots.firstIndex { $0.id == key } ?? snapshots.firstIndex { $0.name == key }
    }

    /// The wall-clock time a new snapshot records (no Foundation: it costs img check memory).
    public static func now() -> timespec {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return ts
    }

    /// Finds a snapshot by name first, then by ID.
    public func findSnapshot(nameOrID key: String) -> Int? {
        snapshots.firstIndex { $0.name == key } ?? snapshots.firstIndex { $0.id == key }
    }

    /// Creates an internal snapshot of the current disk state (no VM state).
    @discardableResult
    public func createSnapshot(name: String, date: timespec = Qcow2Image.now()) throws -> Qcow2Snapshot {
        try requireWritable()
        let action = "create snapshot '\(name)'"
        guard snapshots.count < Int(Qcow2Snapshot.maxCount) else {
            throw ImageError.invalidArgument("Could not \(action): too many snapshots")
        }
        guard name.utf8.count <= 65535 else { throw ImageError.invalidArgument("Could not \(action): name too long") }
        try flush()
        let counts = try referenceCounts(ofL1: l1, l1Offset: header.l1TableOffset, structure: "L1 table")
        try checkIncrementsFit(counts, action: action)

        // The new L1 copy and snapshot table get their clusters first, so that their
        // refcounts reach the disk in the same synced batch as the shared clusters' increments.
        let l1Offset = try allocateTableClusters(byteCount: l1.count * 8)
        var extra = [UInt8](repeating: 0, count: 24)
        extra.setBE(UInt64(0), at: 0)          // vm_state_size_large
        extra.setBE(virtualSize, at: 8)        // disk_size
        extra.setBE(UInt64(0), at: 16)         // icount, as qemu-img writes it
        let snapshot = Qcow2Snapshot(
            l1TableOffset: l1Offset, l1Size: UInt32(l1.count), id: nextSnapshotID(), name: name,
            dateSeconds: UInt32(clamping: Int64(date.tv_sec)),
            dateNanoseconds: UInt32(clamping: Int64(date.tv_nsec)),
            vmClockNanoseconds: 0, vmStateSize: 0, extraData: extra)
        let entries = snapshots + [snapshot]
        let tableBytes = try Qcow2Image.serializeSnapshotTable(entries)
        let tableOffset = try allocateTableClusters(byteCount: tableBytes.count)
        try applyReferenceCounts(counts, sign: 1)
        // Every active cluster is now shared with the snapshot: no COPIED flag stays valid.
        // (Written and synced before the table makes the snapshot live.)
        try recomputeCopiedFlags()
        var l1Bytes = [UInt8](repeating: 0, count: Int(alignUp(UInt64(l1.count) * 8, UInt64(clusterSize))))
        for (i, e) in l1.enumerated() { l1Bytes.setBE(e & ~EntryBits.copied, at: i * 8) }
        if l1Offset != 0 { try writeMetadata(l1Bytes, at: l1Offset, ignoring: []) }
        try installSnapshotTable(entries, bytes: tableBytes, at: tableOffset)
        return snapshot
    }

    /// One more than the largest numeric ID, as QEMU numbers snapshots.
    func nextSnapshotID() -> String {
        let ids = Set(snapshots.compactMap { UInt64($0.id) })
        let (next, overflow) = (ids.max() ?? 0).addingReportingOverflow(1)
        if !overflow { return String(next) }
        // A hostile table used the largest number: take the first free one instead.
        return String((1...UInt64(ids.count + 1)).first { !ids.contains($0) } ?? 1)
    }

    /// Reverts the disk to snapshot `index`: its L1 table becomes the active one and the
    /// virtual size becomes the size recorded with it.
    public func applySnapshot(at index: Int) throws {
        try requireWritable()
        let snapshot = snapshots[index]
        let action = "apply snapshot '\(snapshot.name)'"
        let structure = "snapshot '\(snapshot.name)' L1 table"
        try flush()
        let table = try readL1Table(offset: snapshot.l1TableOffset, count: Int(snapshot.l1Size), structure: structure)
        let counts = try referenceCounts(ofL1: table, l1Offset: snapshot.l1TableOffset, structure: structure)
        let oldCounts = try referenceCounts(ofL1: l1, l1Offset: header.l1TableOffset, structure: "L1 table")
        try checkIncrementsFit(counts, action: action)
        try checkDecrementsPossible(oldCounts, holder: "the active L1 table")

        let newSize = snapshot.diskSize ?? virtualSize
        if newSize != virtualSize && header.version < 3 {
            // As QEMU: a v2 image with snapshots keeps its size (old readers assume it).
            throw ImageError.invalidArgument("Could not \(action): Can't resize a v2 image which has snapshots")
        }
        guard newSize <= Limits.maxVirtualSize else {
            throw corrupt("snapshot table", header.snapshotsOffset, "snapshot '\(snapshot.name)' disk size \(newSize) is too large")
        }
        // The active L1 must hold the snapshot's whole table (and the size it records).
        try growL1(toCover: max(newSize, UInt64(table.count) * l2Coverage))
        try applyReferenceCounts(counts, sign: 1)
        var newL1 = table.map { $0 & ~EntryBits.copied }
        newL1 += [UInt64](repeating: 0, count: l1.count - newL1.count)
        try writeActiveL1(newL1)
        l2Cache.invalidateAll()
        if newSize != virtualSize {
            try setVirtualSize(newSize)
            try file.sync()
        }
        try recomputeCopiedFlags(pending: oldCounts)
        try applyReferenceCounts(oldCounts, sign: -1)
    }

    /// Deletes snapshot `index`: the table entry goes first, then the references it held.
    public func deleteSnapshot(at index: Int) throws {
        try requireWritable()
        let snapshot = snapshots[index]
        let structure = "snapshot '\(snapshot.name)' L1 table"
        try flush()
        let table = try readL1Table(offset: snapshot.l1TableOffset, count: Int(snapshot.l1Size), structure: structure)
        var counts = try referenceCounts(ofL1: table, l1Offset: snapshot.l1TableOffset, structure: structure)
        if snapshot.l1Size > 0 {
            let clusters = (UInt64(snapshot.l1Size) * 8 + UInt64(clusterSize) - 1) / UInt64(clusterSize)
            for c in clusterIndex(snapshot.l1TableOffset)..<(clusterIndex(snapshot.l1TableOffset) + clusters) {
                counts[c, default: 0] += 1
            }
        }
        try checkDecrementsPossible(counts, holder: "snapshot '\(snapshot.name)'")
        var remaining = snapshots
        remaining.remove(at: index)
        try writeSnapshotTable(remaining)
        try recomputeCopiedFlags(pending: counts)
        try applyReferenceCounts(counts, sign: -1)
    }

    /// Writes `entries` as the new snapshot table into fresh clusters, switches the header's
    /// count and offset to it in one write, and only then frees the old table.
    package func writeSnapshotTable(_ entries: [Qcow2Snapshot]) throws {
        let bytes = try Qcow2Image.serializeSnapshotTable(entries)
        let offset = try allocateTableClusters(byteCount: bytes.count)
        try flushRefcountsForDependency()
        try installSnapshotTable(entries, bytes: bytes, at: offset)
    }

    static func serializeSnapshotTable(_ entries: [Qcow2Snapshot]) throws -> [UInt8] {
        var bytes: [UInt8] = []
        for e in entries { bytes += e.serialize() }
        guard UInt64(bytes.count) <= Qcow2Snapshot.maxTableSize else {
            throw ImageError.invalidArgument("snapshot table would exceed \(Qcow2Snapshot.maxTableSize) bytes")
        }
        return bytes
    }

    /// Clusters for a new table of `byteCount` bytes (0: none, offset 0), counted but not yet synced.
    func allocateTableClusters(byteCount: Int) throws -> UInt64 {
        guard byteCount > 0 else { return 0 }
        return try allocateClusters((UInt64(byteCount) + UInt64(clusterSize) - 1) / UInt64(clusterSize))
    }

    /// Writes the table into clusters whose refcounts are already on disk, syncs (with any
    /// table written just before it), switches the header to it, then releases the old one.
    func installSnapshotTable(_ entries: [Qcow2Snapshot], bytes: [UInt8], at newOffset: UInt64) throws {
        if !bytes.isEmpty { try writeMetadata(bytes, at: newOffset, ignoring: []) }
        try file.sync()
        let oldOffset = header.snapshotsOffset
        let oldBytes = header.snapshotCount > 0 ? UInt64(Qcow2Snapshot.tableSize(snapshots)) : 0
        var field = [UInt8](repeating: 0, count: 12)
        field.setBE(UInt32(entries.count), at: 0)
        field.setBE(newOffset, at: 4)
        try writeMetadata(field, at: HeaderField.snapshots, ignoring: [.mainHeader])
        // What the file now says, even if the sync below fails (the old table then leaks).
        header.snapshotCount = UInt32(entries.count)
        header.snapshotsOffset = newOffset
        snapshots = entries
        try file.sync()
        if oldBytes > 0 && oldOffset != 0 {
            // Written by the next flush (at the latest on close), after the header above.
            let clusters = (oldBytes + UInt64(clusterSize) - 1) / UInt64(clusterSize)
            try updateRefcounts(first: clusterIndex(oldOffset), count: clusters, delta: -1)
        }
    }
}
