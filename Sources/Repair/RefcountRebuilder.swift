import ImageFormat

/// Builds a whole new refcount structure from the in-memory recount (QEMU 7.1+'s rebuild):
/// refcount blocks are slices of the recount, each placed in the first cluster free in the
/// recount at or after the start of the range it describes; the table goes in the first
/// free run, and blocks are rewritten until the table stops growing. Nothing live is
/// overwritten because every allocation comes from clusters the recount found unused. The
/// old structures become leaks that the caller's leak pass frees.
final class RefcountRebuilder {
    let checker: Qcow2Checker
    /// [usedFrom, usedTo) is known to hold only counted clusters. Allocation never frees,
    /// so scans may jump over it: without this every refcount block's allocation would
    /// rescan the full file from its range's start (quadratic on a full image).
    private var usedFrom: UInt64 = 0, usedTo: UInt64 = 0

    init(checker: Qcow2Checker) { self.checker = checker }

    var counts: RefcountArray { checker.counts }
    var layout: CheckLayout { checker.layout }
    var perBlock: UInt64 { UInt64(layout.refcountEntriesPerBlock) }
    var bits: UInt64 { UInt64(layout.clusterBits) }

    /// QEMU's limit on the refcount table a rebuild may write (8 MiB).
    static let maxReftableBytes: UInt64 = 8 << 20

    func rebuild() throws {
        let cs = UInt64(layout.clusterSize)
        var reftable: [UInt64] = []
        var changed = try writeRefblocks(from: 0, to: checker.nbClusters, &reftable)
        var tableOffset: UInt64 = 0
        repeat {
            let clusters = (UInt64(reftable.count) * 8 + cs - 1) / cs
            var firstFree: UInt64 = 0
            tableOffset = allocate(clusters, firstFree: &firstFree)
            let start = tableOffset >> bits
            changed = try writeRefblocks(from: start, to: start + clusters, &reftable)
        } while changed
        guard UInt64(reftable.count) * 8 <= Self.maxReftableBytes else {
            throw CheckAborted(reason: "File too large", result: checker.res)
        }
        var bytes = [UInt8](repeating: 0, count: reftable.count * 8)
        for (i, e) in reftable.enumerated() { bytes.setBE(e, at: i * 8) }
        try layout.file.write(bytes, at: tableOffset)
        try layout.file.sync()
        var field = [UInt8](repeating: 0, count: 12)
        field.setBE(tableOffset, at: 0)
        field.setBE(UInt32(UInt64(bytes.count) / cs), at: 8)
        try layout.file.write(field, at: 48)
        try layout.file.sync()
        checker.stored.invalidate()
        checker.stored.table = reftable
        checker.stored.tableOffset = tableOffset
        checker.layout.header.refcountTableOffset = tableOffset
        checker.layout.header.refcountTableClusters = UInt32(UInt64(bytes.count) / cs)
        checker.layout.fileSize = try layout.file.size()
        checker.nbClusters = max(checker.layout.clusterCountOfFile, counts.count)
        counts.grow(to: checker.nbClusters)
    }

    /// QEMU's alloc_clusters_imrt: `n` contiguous clusters free in the recount, at or after
    /// `firstFree` (updated to the first gap seen), growing the recount past its end if needed.
    func allocate(_ n: UInt64, firstFree: inout UInt64) -> UInt64 {
        var cluster = firstFree
        var contiguous: UInt64 = 0
        var firstGap = true
        let scanStart = cluster
        while cluster < counts.count && contiguous < n {
            if contiguous == 0 && cluster >= usedFrom && cluster < usedTo { cluster = usedTo; continue }
            if counts[cluster] == 0 {
                contiguous += 1
                if firstGap { firstFree = cluster; firstGap = false }
            } else {
                contiguous = 0
            }
            cluster += 1
        }
        // Everything from the scan start to the first gap was in use.
        let gap = firstGap ? cluster - contiguous : firstFree
        if scanStart <= usedTo && gap > usedTo { usedTo = gap; usedFrom = min(usedFrom, scanStart) }
        else if gap > scanStart && gap - scanStart > usedTo - usedFrom { usedFrom = scanStart; usedTo = gap }
        if contiguous < n { counts.grow(to: cluster + n - contiguous) }
        cluster -= contiguous
        for i in 0..<n { counts.set(cluster + i, 1) }
        return cluster << bits
    }

    /// Writes a refcount block for every block range in [first, end) holding a counted
    /// cluster; returns whether the table had to grow.
    func writeRefblocks(from first: UInt64, to endIn: UInt64, _ reftable: inout [UInt64]) throws -> Bool {
        let cs = layout.clusterSize
        var end = endIn
        var cluster = first
        var firstFree: UInt64 = 0
        var grown = false
        var block = [UInt8](repeating: 0, count: cs)
        while cluster < end {
            if cluster >= counts.count { break }
            if !counts.chunkTouched(cluster) {
                cluster = (cluster | UInt64(RefcountArray.chunkSize - 1)) + 1
                continue
            }
            if counts[cluster] == 0 { cluster += 1; continue }
            let index = Int(cluster / perBlock)
            let start = UInt64(index) * perBlock
            let offset: UInt64
            if index < reftable.count && reftable[index] != 0 {
                offset = reftable[index]
            } else {
                if firstFree < start { firstFree = start }
                offset = allocate(1, firstFree: &firstFree)
                if offset >> bits >= end { end = (offset >> bits) + 1 }
                if reftable.count <= index {
                    // Refused before the table is built, not after: a block index from a file a
                    // repair grew to terabytes would otherwise mean a table of hundreds of MB.
                    guard UInt64(index + 1) * 8 <= Self.maxReftableBytes else {
                        throw CheckAborted(reason: "File too large", result: checker.res)
                    }
                    let entries = ((index + 1) * 8 + cs - 1) / cs * cs / 8
                    reftable += [UInt64](repeating: 0, count: entries - reftable.count)
                    grown = true
                }
                reftable[index] = offset
            }
            block.withUnsafeMutableBytes { buf in
                for j in 0..<Int(perBlock) {
                    let c = start + UInt64(j)
                    layout.width.set(buf, j, c < counts.count ? counts[c] : 0)
                }
            }
            try layout.file.write(block, at: offset)
            cluster = start + perBlock
        }
        return grown
    }
}
