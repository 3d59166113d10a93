/// QEMU-style metadata overlap checks. Every metadata write (and every guest data write)
/// is checked against the structures the policy enables before it reaches the file; a hit
/// marks the image corrupt and fails the write, so no byte of the refused write lands.
extension Qcow2Image {
    func writeMetadata(_ bytes: [UInt8], at offset: UInt64, ignoring: MetadataStructures) throws {
        try bytes.withUnsafeBytes { try writeMetadata($0, at: offset, ignoring: ignoring) }
    }

    /// Writes one big-endian 64-bit metadata field (a table entry or header field).
    func writeMetadataField(_ value: UInt64, at offset: UInt64, ignoring: MetadataStructures) throws {
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes.setBE(value, at: 0)
        try writeMetadata(bytes, at: offset, ignoring: ignoring)
    }

    func writeMetadata(_ buf: UnsafeRawBufferPointer, at offset: UInt64, ignoring: MetadataStructures) throws {
        try requireWritable()
        try preventOverlap(offset: offset, length: UInt64(buf.count), ignoring: ignoring)
        try file.write(buf, at: offset)
    }

    /// Throws (and marks the image corrupt) when [offset, offset+length) overlaps a
    /// structure the policy checks and the caller did not exempt.
    func preventOverlap(offset: UInt64, length: UInt64, ignoring: MetadataStructures) throws {
        if options.overlapScan == .index && !metadataIndex.isCurrent { try refreshMetadataIndex() }
        guard let hit = firstOverlap(offset: offset, length: length, ignoring: ignoring) else { return }
        markCorrupt()
        throw ImageError.overlap(path: filename, structure: hit.name, offset: offset, length: length)
    }

    /// The first structure, in QEMU's order, that the range overlaps, or nil.
    package func firstOverlap(offset: UInt64, length: UInt64, ignoring: MetadataStructures) -> MetadataStructure? {
        guard length > 0 else { return nil }
        let checks = options.overlapCheck.enabled.subtracting(ignoring)
        if checks.isEmpty { return nil }
        let end = offset + length
        let cs = UInt64(clusterSize)
        // Cluster-granular, as QEMU compares whole clusters.
        let firstCluster = offset >> UInt64(clusterBits)
        let lastCluster = (end - 1) >> UInt64(clusterBits)
        func hits(_ start: UInt64, _ size: UInt64) -> Bool { size > 0 && start < end && offset < start + size }
        func hitsCluster(_ start: UInt64) -> Bool {
            start != 0 && (firstCluster...lastCluster).contains(start >> UInt64(clusterBits))
        }
        let useIndex = options.overlapScan == .index
        if useIndex && !checks.isDisjoint(with: [.activeL2, .refcountBlock, .inactiveL2]) && !metadataIndex.isCurrent {
            try? refreshMetadataIndex()  // preventOverlap refreshed (or failed) already
        }
        func indexed(_ map: [UInt64: Int]) -> Bool {
            var c = firstCluster
            while c <= lastCluster { if map[c] != nil { return true }; c += 1 }
            return false
        }

        if checks.contains(.mainHeader) && offset < cs { return .mainHeader }
        if checks.contains(.activeL1) && hits(header.l1TableOffset, alignUp(UInt64(l1.count) * 8, cs)) { return .activeL1 }
        if checks.contains(.activeL2) {
            if useIndex ? indexed(metadataIndex.activeL2) : l1.contains(where: { hitsCluster($0 & EntryBits.offsetMask) }) {
                return .activeL2
            }
        }
        if checks.contains(.refcountTable),
           hits(header.refcountTableOffset, UInt64(header.refcountTableClusters) * cs) { return .refcountTable }
        if checks.contains(.refcountBlock) {
            if useIndex {
                if indexed(metadataIndex.refcountBlocks) { return .refcountBlock }
            } else {
                let last = options.overlapScan == .fullTable ? refcountTable.count - 1 : refcountTableMaxIndex
                if last >= 0 {
                    for i in 0...last where hitsCluster(refcountTable[i] & ~EntryBits.refcountTableReserved) {
                        return .refcountBlock
                    }
                }
            }
        }
        if checks.contains(.snapshotTable), header.snapshotCount > 0,
           hits(header.snapshotsOffset, alignUp(snapshotTableBytes, cs)) { return .snapshotTable }
        if checks.contains(.inactiveL1) {
            for s in snapshots where hits(s.l1TableOffset, alignUp(UInt64(s.l1Size) * 8, cs)) { return .inactiveL1 }
        }
        if checks.contains(.inactiveL2) {
            if useIndex {
                if indexed(metadataIndex.inactiveL2) { return .inactiveL2 }
            } else {
                for s in snapshots {
                    guard let table = try? Qcow2Image.readTable(file, offset: s.l1TableOffset, count: Int(s.l1Size)) else { continue }
                    if table.contains(where: { hitsCluster($0 & EntryBits.offsetMask) }) { return .inactiveL2 }
                }
            }
        }
        if checks.contains(.bitmapDirectory), let dir = bitmapDirectoryRange(), hits(dir.offset, dir.length) {
            return .bitmapDirectory
        }
        return nil
    }

    /// Location of the bitmap directory from the bitmaps header extension, if any.
    func bitmapDirectoryRange() -> (offset: UInt64, length: UInt64)? {
        guard let ext = extensions.first(where: { $0.type == HeaderExtension.bitmaps }),
              let size = ext.data.be(UInt64.self, at: 8), let offset = ext.data.be(UInt64.self, at: 16) else { return nil }
        return (offset, size)
    }

    /// Sets the corrupt bit on disk (bypassing the checks: the header field is ours to fix)
    /// and refuses further writes from this handle.
    func markCorrupt() {
        markedCorrupt = true
        guard header.version >= 3 else { return }
        header.incompatibleFeatures |= Qcow2Feature.Incompatible.corrupt
        var field = [UInt8](repeating: 0, count: 8)
        field.setBE(header.incompatibleFeatures, at: 0)
        try? file.write(field, at: HeaderField.incompatibleFeatures)
        try? file.sync()
    }
}
