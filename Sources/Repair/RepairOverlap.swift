import ImageFormat

/// Before a repair rewrites an L2 table, the write is checked against the structures that
/// are certainly not L2 tables (QEMU's metadata overlap check): an L1 entry pointing at,
/// say, the refcount table must not get that table "repaired". A hit marks the image
/// corrupt and ends the check, as in QEMU.
extension Qcow2Checker {
    func overlappedStructure(_ offset: UInt64, _ length: UInt64) -> String? {
        let cs = UInt64(layout.clusterSize)
        let start = offset & ~(cs - 1)
        let end = alignUp(offset + length, cs)
        func hits(_ structure: MetadataStructure, _ o: UInt64, _ len: UInt64) -> Bool {
            overlapChecks.contains(MetadataStructures(structure)) && len > 0 && o < end && start < o + len
        }
        if hits(.mainHeader, 0, cs) { return MetadataStructure.mainHeader.name }
        if hits(.activeL1, layout.header.l1TableOffset, UInt64(layout.l1.count) * 8) { return MetadataStructure.activeL1.name }
        if hits(.refcountTable, stored.tableOffset, UInt64(stored.table.count) * 8) { return MetadataStructure.refcountTable.name }
        if hits(.snapshotTable, snapshots.offset, snapshots.size) { return MetadataStructure.snapshotTable.name }
        for sn in snapshots.entries where hits(.inactiveL1, sn.l1Offset, UInt64(sn.l1Size) * 8) {
            return MetadataStructure.inactiveL1.name
        }
        for e in stored.table where e & StoredRefcounts.offsetMask != 0
            && hits(.refcountBlock, e & StoredRefcounts.offsetMask, cs) {
            return MetadataStructure.refcountBlock.name
        }
        return nil
    }

    /// An L1 entry is rewritten in place: its cluster must not also serve as an active L2
    /// table (QEMU checks every structure but the active L1 itself).
    func guardL1Write(entryAt offset: UInt64) throws {
        let cs = UInt64(layout.clusterSize)
        let cluster = offset & ~(cs - 1)
        if overlapChecks.contains(.activeL2), layout.l1.contains(where: { $0 & Self.l1OffsetMask & ~(cs - 1) == cluster }) {
            try refuseWrite("active L2 table", message: nil)
        }
    }

    /// Throws (after marking the image corrupt) when a repair write would hit metadata.
    func guardL2Write(_ offset: UInt64, _ length: UInt64, message: String) throws {
        guard let hit = overlappedStructure(offset, length) else { return }
        try refuseWrite(hit, message: message)
    }

    private func refuseWrite(_ hit: String, message: String?) throws {
        log("qcow2: Marking image as corrupt: Preventing invalid write on metadata (overlaps with \(hit)); further corruption events will be suppressed")
        if layout.isV3 {
            var field = [UInt8](repeating: 0, count: 8)
            field.setBE(layout.header.incompatibleFeatures | Qcow2Feature.Incompatible.corrupt, at: 0)
            try? layout.file.write(field, at: 72)
            try? layout.file.sync()
        }
        if let message { log(message) }
        res.checkErrors += 1
        throw CheckAborted(reason: "Input/output error", result: res)
    }
}
