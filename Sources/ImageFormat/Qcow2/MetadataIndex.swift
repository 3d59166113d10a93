/// Which host clusters hold L2 tables and refcount blocks, so an overlap check answers with
/// a hash lookup per cluster instead of scanning tables (QEMU scans every active L1 entry
/// per write in "cached" mode and reads inactive L2 tables from disk in "all" mode).
///
/// Kept current by the code that changes the tables (setL1Entry, setRefcountTableEntry,
/// growth); any other change of `l1`, `refcountTable` or `snapshots` marks the affected part
/// stale and it is rebuilt from the authoritative tables before the next check.
package struct MetadataIndex {
    /// Cluster index -> number of active L1 entries pointing there (more than one only in
    /// corrupt images).
    var activeL2: [UInt64: Int] = [:]
    var refcountBlocks: [UInt64: Int] = [:]
    var inactiveL2: [UInt64: Int] = [:]
    var activeValid = false
    var refcountValid = false
    var inactiveValid = false
    var isCurrent: Bool { activeValid && refcountValid && inactiveValid }

    static func add(_ map: inout [UInt64: Int], _ cluster: UInt64) { map[cluster, default: 0] += 1 }
    static func remove(_ map: inout [UInt64: Int], _ cluster: UInt64) {
        guard let n = map[cluster] else { return }
        if n <= 1 { map.removeValue(forKey: cluster) } else { map[cluster] = n - 1 }
    }
}

extension Qcow2Image {
    /// Makes the stale parts of the index current. A snapshot L1 table that lies inside the
    /// file but cannot be read fails the refresh (the part stays stale): the overlap check
    /// must not pass a write it could not check.
    func refreshMetadataIndex() throws {
        if !metadataIndex.activeValid {
            metadataIndex.activeL2.removeAll(keepingCapacity: true)
            for e in l1 where e & EntryBits.offsetMask != 0 {
                MetadataIndex.add(&metadataIndex.activeL2, clusterIndex(e & EntryBits.offsetMask))
            }
            metadataIndex.activeValid = true
        }
        if !metadataIndex.refcountValid {
            metadataIndex.refcountBlocks.removeAll(keepingCapacity: true)
            for e in refcountTable where e & ~EntryBits.refcountTableReserved != 0 {
                MetadataIndex.add(&metadataIndex.refcountBlocks, clusterIndex(e & ~EntryBits.refcountTableReserved))
            }
            recomputeRefcountTableMaxIndex()
            metadataIndex.refcountValid = true
        }
        if !metadataIndex.inactiveValid {
            metadataIndex.inactiveL2.removeAll(keepingCapacity: true)
            let fileSize = try file.size()
            for s in snapshots {
                // Bounded by the open-time check of snapshot L1 sizes; tables past the end of
                // the file are skipped here and reported by check.
                guard let end = checkedAdd(s.l1TableOffset, UInt64(s.l1Size) * 8), end <= fileSize else { continue }
                let table = try Qcow2Image.readTable(file, offset: s.l1TableOffset, count: Int(s.l1Size))
                for e in table where e & EntryBits.offsetMask != 0 {
                    MetadataIndex.add(&metadataIndex.inactiveL2, clusterIndex(e & EntryBits.offsetMask))
                }
            }
            metadataIndex.inactiveValid = true
        }
    }

    /// The L1 entry change path keeps the active-L2 part current without a rebuild.
    func indexL1Change(old: UInt64, new: UInt64) {
        guard metadataIndex.activeValid else { return }
        if old & EntryBits.offsetMask != 0 { MetadataIndex.remove(&metadataIndex.activeL2, clusterIndex(old & EntryBits.offsetMask)) }
        if new & EntryBits.offsetMask != 0 { MetadataIndex.add(&metadataIndex.activeL2, clusterIndex(new & EntryBits.offsetMask)) }
    }

    func indexRefcountTableChange(old: UInt64, new: UInt64) {
        guard metadataIndex.refcountValid else { return }
        let mask = ~EntryBits.refcountTableReserved
        if old & mask != 0 { MetadataIndex.remove(&metadataIndex.refcountBlocks, clusterIndex(old & mask)) }
        if new & mask != 0 { MetadataIndex.add(&metadataIndex.refcountBlocks, clusterIndex(new & mask)) }
    }

    /// For tests: whether the incrementally kept index equals one built from scratch.
    package func metadataIndexMatchesFreshScan() -> Bool {
        try? refreshMetadataIndex()
        let kept = metadataIndex
        let keptMax = refcountTableMaxIndex
        metadataIndex = MetadataIndex()
        try? refreshMetadataIndex()
        let fresh = metadataIndex
        let freshMax = refcountTable.lastIndex(where: { $0 != 0 }) ?? -1
        metadataIndex = kept
        return kept.activeL2 == fresh.activeL2 && kept.refcountBlocks == fresh.refcountBlocks
            && kept.inactiveL2 == fresh.inactiveL2 && keptMax == freshMax && refcountTableMaxIndex == freshMax
    }
}
