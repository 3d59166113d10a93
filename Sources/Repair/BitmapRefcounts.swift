import ImageFormat

/// Counts the clusters of persistent dirty bitmaps: the bitmap directory, each bitmap's
/// table and the data clusters its table names (QEMU's qcow2_check_bitmaps_refcounts).
struct BitmapRefcounts {
    let checker: Qcow2Checker
    static let entryOffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let entryReservedMask: UInt64 = 0xFF00_0000_0000_01FE

    func count() throws {
        guard let ext = checker.layout.bitmaps, ext.count > 0 else { return }
        let layout = checker.layout
        try checker.incRefcounts(ext.offset, ext.size)
        guard ext.size <= 64 << 20, ext.size <= layout.fileSize, ext.offset % UInt64(layout.clusterSize) == 0 else {
            checker.res.corruptions += 1
            throw CheckAborted(reason: "Invalid argument", result: checker.res)
        }
        let dir = try layout.file.checkedRead(count: Int(ext.size), at: ext.offset)
        var pos = 0
        for _ in 0..<ext.count {
            guard let tableOffset = dir.be(UInt64.self, at: pos), let tableSize = dir.be(UInt32.self, at: pos + 8),
                  let nameSize = dir.be(UInt16.self, at: pos + 14), let extraSize = dir.be(UInt32.self, at: pos + 16),
                  tableOffset % UInt64(layout.clusterSize) == 0, UInt64(tableSize) * 8 <= 8 << 20 else {
                checker.res.corruptions += 1
                throw CheckAborted(reason: "Invalid argument", result: checker.res)
            }
            pos += (24 + Int(extraSize) + Int(nameSize) + 7) / 8 * 8
            try checker.incRefcounts(tableOffset, UInt64(tableSize) * 8)
            let table = try CheckLayout.readTable(layout.file, offset: tableOffset, count: Int(tableSize))
            for entry in table {
                let offset = entry & Self.entryOffsetMask
                if entry & Self.entryReservedMask != 0 || offset % UInt64(layout.clusterSize) != 0
                    || (offset != 0 && entry & 1 != 0) {
                    checker.res.corruptions += 1
                    continue
                }
                if offset != 0 { try checker.incRefcounts(offset, UInt64(layout.clusterSize)) }
            }
        }
    }
}
