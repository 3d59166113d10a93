import ImageFormat

/// What the checker knows about a qcow2 file before recounting: the header fields and the
/// tables the recount starts from, read straight from the file with the limits QEMU applies
/// when it opens an image for checking. Anything past those limits (tables past the end of
/// the file, bad entries, a broken snapshot table) is left for the check to report.
package struct CheckLayout {
    package let file: HostFile
    package var header: Qcow2Header
    package let clusterBits: Int
    package let clusterSize: Int
    package let extendedL2: Bool
    package let l2EntrySize: Int
    package let l2Entries: Int
    package let width: RefcountWidth
    package let refcountEntriesPerBlock: Int
    package var fileSize: UInt64
    package var l1: [UInt64]
    package var reftable: [UInt64]
    /// Full-disk-encryption header (LUKS) location, when the extension is present.
    package var cryptoHeader: (offset: UInt64, length: UInt64)?
    /// Bitmaps extension: count, directory size and offset (only when the autoclear bit says valid).
    package var bitmaps: (count: UInt32, size: UInt64, offset: UInt64)?

    /// Reasons QEMU refuses to open the image at all; the check is then not performed.
    package struct OpenFailure: Error, CustomStringConvertible {
        package var description: String
    }

    package static func load(_ file: HostFile) throws -> CheckLayout {
        func fail(_ m: String) -> OpenFailure { OpenFailure(description: m) }
        let fileSize = try file.size()
        let first = try file.checkedRead(count: Int(min(fileSize, 1 << 21)), at: 0)
        let header: Qcow2Header
        do { header = try Qcow2Header.parse(first, path: file.path) } catch let e as ImageError {
            throw fail(Self.reason(e))
        }
        guard header.clusterBits >= 9, header.clusterBits <= 21 else {
            throw fail("Unsupported cluster size: 2^\(header.clusterBits)")
        }
        let cs = UInt64(1) << UInt64(header.clusterBits)
        guard UInt64(header.headerLength) <= cs else { throw fail("qcow2 header exceeds cluster size") }
        guard header.refcountOrder <= 6 else {
            throw fail("Reference count entry width too large; may not exceed 64 bits")
        }
        if header.backingFileOffset > cs || (header.backingFileOffset != 0 && header.backingFileSize > 1023) {
            throw fail(header.backingFileOffset > cs ? "Invalid backing file offset" : "Backing file name too long")
        }
        let unknown = header.incompatibleFeatures & ~Qcow2Feature.Incompatible.supported
        if unknown != 0 {
            throw fail("Unsupported qcow2 feature(s): Unknown incompatible feature: \(String(unknown, radix: 16))")
        }
        let extendedL2 = header.incompatibleFeatures & Qcow2Feature.Incompatible.extendedL2 != 0
        if extendedL2 && header.clusterBits < 14 {
            throw fail("Unsupported subcluster size: \(cs / 32)")
        }
        guard header.size <= (1 << 62) else { throw fail("Image is too big") }
        // Refcount table: bounded size, aligned offset (its contents may lie past EOF).
        let reftableBytes = UInt64(header.refcountTableClusters) * cs
        guard reftableBytes <= 8 << 20 else { throw fail("Reference count table too large") }
        guard header.refcountTableOffset % cs == 0, header.refcountTableOffset <= UInt64(Int64.max) - reftableBytes else {
            throw fail("Reference count table offset invalid")
        }
        guard header.refcountTableClusters > 0 else { throw fail("Image does not contain a reference count table") }
        let l2EntrySize = extendedL2 ? 16 : 8
        let l2Entries = Int(cs) / l2EntrySize
        let l1Bytes = UInt64(header.l1Size) * 8
        guard l1Bytes <= 32 << 20 else { throw fail("Active L1 table too large") }
        let coverage = UInt64(l2Entries) * cs
        guard UInt64(header.l1Size) >= (header.size + coverage - 1) / coverage else { throw fail("L1 table is too small") }
        guard header.l1TableOffset % cs == 0, header.l1TableOffset <= UInt64(Int64.max) - l1Bytes else {
            throw fail("Active L1 table offset invalid")
        }
        let width = RefcountWidth(order: Int(header.refcountOrder))
        var layout = CheckLayout(
            file: file, header: header, clusterBits: Int(header.clusterBits), clusterSize: Int(cs),
            extendedL2: extendedL2, l2EntrySize: l2EntrySize, l2Entries: l2Entries, width: width,
            refcountEntriesPerBlock: width.entriesPerBlock(clusterSize: Int(cs)), fileSize: fileSize,
            l1: try readTable(file, offset: header.l1TableOffset, count: Int(header.l1Size)),
            reftable: try readTable(file, offset: header.refcountTableOffset, count: Int(reftableBytes / 8)))
        layout.readExtensions(first)
        return layout
    }

    private static func reason(_ e: ImageError) -> String {
        if case let .corrupt(_, _, _, detail) = e { return detail }
        if case let .unsupported(_, feature) = e { return feature }
        return e.description
    }

    /// Picks out the extensions whose clusters the recount must include.
    private mutating func readExtensions(_ first: [UInt8]) {
        guard header.version >= 3 else { return }
        var off = Int(header.headerLength)
        var limit = min(clusterSize, first.count)
        if header.backingFileOffset > UInt64(off) && header.backingFileOffset < UInt64(limit) {
            limit = Int(header.backingFileOffset)
        }
        while off + 8 <= limit, let type = first.be(UInt32.self, at: off), let len = first.be(UInt32.self, at: off + 4),
              type != 0, UInt64(len) <= UInt64(limit - off - 8) {
            let data = Array(first[(off + 8)..<(off + 8 + Int(len))])
            if type == 0x0537_BE77, let o = data.be(UInt64.self, at: 0), let l = data.be(UInt64.self, at: 8) {
                cryptoHeader = (o, l)
            }
            if type == 0x2385_2875, header.autoclearFeatures & Qcow2Feature.Autoclear.bitmaps != 0,
               let n = data.be(UInt32.self, at: 0), let s = data.be(UInt64.self, at: 8), let o = data.be(UInt64.self, at: 16) {
                bitmaps = (n, s, o)
            }
            off += 8 + (Int(len) + 7) / 8 * 8
        }
    }

    /// Reads `count` big-endian entries; bytes past the end of the file read as zero.
    package static func readTable(_ file: HostFile, offset: UInt64, count: Int) throws -> [UInt64] {
        guard count > 0 else { return [] }
        var t = [UInt64](repeating: 0, count: count)
        try t.withUnsafeMutableBytes { try file.checkedRead(into: $0, at: offset) }
        for i in 0..<count { t[i] = UInt64(bigEndian: t[i]) }
        return t
    }

    package var clusterCountOfFile: UInt64 { (fileSize + UInt64(clusterSize) - 1) >> UInt64(clusterBits) }
    package var virtualClusters: UInt64 { (header.size + UInt64(clusterSize) - 1) >> UInt64(clusterBits) }
    package var isV3: Bool { header.version >= 3 }
}
