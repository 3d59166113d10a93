/// Refcounts: lookup, update, cluster allocation, and growth of the refcount structure.
///
/// Crash-safety order (DESIGN.md): a cluster's refcount reaches the disk before anything
/// points to it (dirty refcount blocks are flushed and synced before a dirty L2 table or an
/// L1 entry is written); a pointer is removed before the refcount drops (decrements wait in
/// `pendingFrees` until the tables that dropped the pointer are on disk); a new refcount
/// block is written before the table entry that links it, and a new refcount table before
/// the header that names it.
extension Qcow2Image {
    /// Slot of the refcount block for block index `b`, or nil when the block is absent.
    func refcountBlockSlot(_ b: Int) throws -> Int? {
        guard b < refcountTable.count else { return nil }
        let entry = refcountTable[b]
        if entry & EntryBits.refcountTableReserved != 0 {
            throw corrupt("refcount table", header.refcountTableOffset + UInt64(b) * 8,
                          "reserved bits set in entry \(b)")
        }
        if entry == 0 { return nil }
        guard offsetInCluster(entry) == 0 else {
            throw corrupt("refcount table", header.refcountTableOffset + UInt64(b) * 8,
                          "refcount block offset 0x\(String(entry, radix: 16)) unaligned")
        }
        return try refcountCache.slot(for: entry, load: { buf in
            try file.read(into: buf, at: entry)
        }, writeBack: { slot in try writeBackRefcountBlock(slot) })
    }

    public func refcount(ofCluster c: UInt64) throws -> UInt64 {
        let b = Int(c / UInt64(refcountEntriesPerBlock))
        guard let slot = try refcountBlockSlot(b) else { return 0 }
        return refcountWidth.get(UnsafeRawBufferPointer(refcountCache.buffer(slot)), Int(c % UInt64(refcountEntriesPerBlock)))
    }

    /// Adds `delta` to the refcount of `count` clusters from `first`. A refcount block
    /// missing for an increment is created; `inFlight` names clusters just handed out whose
    /// refcounts are being set, so a new block is never placed on them.
    func updateRefcounts(first: UInt64, count: UInt64, delta: Int64, inFlight: Range<UInt64>? = nil) throws {
        var c = first
        let end = first + count
        let epb = UInt64(refcountEntriesPerBlock)
        while c < end {
            let b = Int(c / epb)
            var slot = try refcountBlockSlot(b)
            if slot == nil {
                guard delta > 0 else {
                    throw corrupt("refcount block", 0, "refcount of cluster \(c) would drop below zero (no refcount block)")
                }
                try createRefcountBlock(b, inFlight: inFlight ?? first..<end)
                slot = try refcountBlockSlot(b)
            }
            let buf = refcountCache.buffer(slot!)
            let blockEnd = min(end, (UInt64(b) + 1) * epb)
            while c < blockEnd {
                let i = Int(c % epb)
                let old = refcountWidth.get(UnsafeRawBufferPointer(buf), i)
                let new: UInt64
                if delta >= 0 {
                    guard let sum = checkedAdd(old, UInt64(delta)), sum <= refcountWidth.maxValue else {
                        throw ImageError.invalidArgument(
                            "'\(filename)': refcount of cluster \(c) would overflow \(refcountWidth.bits) bits; "
                            + "try increasing the refcount width with 'img amend -o refcount_bits=16'")
                    }
                    new = sum
                } else {
                    guard old >= UInt64(-delta) else {
                        throw corrupt("refcount block", refcountCache.key(slot!), "refcount of cluster \(c) would drop below zero")
                    }
                    new = old - UInt64(-delta)
                }
                refcountWidth.set(buf, i, new)
                if new == 0 && c < freeClusterHint { freeClusterHint = c }
                c += 1
            }
            refcountCache.markDirty(slot!)
        }
    }

    /// Allocates `n` contiguous free clusters and sets their refcounts to one. When the run
    /// lies where refcount blocks are missing, the missing blocks are placed right after the
    /// data in a longer free run (where QEMU puts them), so one allocation creates its blocks
    /// in one step (each new block counts itself and its neighbours).
    func allocateClusters(_ n: UInt64) throws -> UInt64 {
        precondition(n > 0)
        while true {
            var extra: UInt64 = 0
            var run = try findFreeRun(n)
            var missing = try missingBlocks(run.start..<(run.start + n))
            while UInt64(missing.count) != extra {
                extra = UInt64(missing.count)
                run = try findFreeRun(n + extra)
                missing = try missingBlocks(run.start..<(run.start + n + extra))
            }
            let start = run.start
            guard let bytes = checkedMul(start + n + extra, UInt64(clusterSize)), bytes <= (1 << 56) else {
                throw ImageError.invalidArgument("'\(filename)': image would grow past the qcow2 offset limit")
            }
            if let last = missing.last, last >= refcountTable.count {
                try growRefcountTable(toInclude: last, inFlight: 0..<0)
                continue  // the new table took clusters; search again
            }
            if !missing.isEmpty { try createRefcountBlocks(missing, at: start + n) }
            let dataStart = start
            try updateRefcounts(first: dataStart, count: n, delta: 1)
            // Clusters from the search origin up to the first free one are in use, and the
            // run just taken is too: the next single-cluster search may start past them.
            if run.searchedFrom == max(freeClusterHint, 1) {
                freeClusterHint = run.firstFree == start ? start + n + extra : run.firstFree
            }
            if n > 1 { appendHint = start + n + extra }
            return dataStart << UInt64(clusterBits)
        }
    }

    /// Block indices with no refcount block among those describing `range`, ascending.
    func missingBlocks(_ range: Range<UInt64>) throws -> [Int] {
        let epb = UInt64(refcountEntriesPerBlock)
        var result: [Int] = []
        for b in Int(range.lowerBound / epb)...Int((range.upperBound - 1) / epb) where try refcountBlockSlot(b) == nil {
            result.append(b)
        }
        return result
    }

    /// Writes new refcount blocks for `indices` into consecutive free clusters from `start`,
    /// each counting whichever of those clusters fall in its range; then links them.
    func createRefcountBlocks(_ indices: [Int], at start: UInt64) throws {
        let epb = UInt64(refcountEntriesPerBlock)
        let places = (0..<UInt64(indices.count)).map { start + $0 }
        for (b, place) in zip(indices, places) {
            var block = [UInt8](repeating: 0, count: clusterSize)
            block.withUnsafeMutableBytes { buf in
                for p in places where p / epb == UInt64(b) { refcountWidth.set(buf, Int(p % epb), 1) }
            }
            try writeMetadata(block, at: place << UInt64(clusterBits), ignoring: [.refcountBlock])
        }
        // A block placed outside its own range is counted by an existing block; that count
        // reaches the disk before the table links the block.
        for p in places where !indices.contains(Int(p / epb)) {
            try updateRefcounts(first: p, count: 1, delta: 1)
        }
        try flushRefcountBlocks()
        try syncUnlessLazy()
        for (b, place) in zip(indices, places) { try setRefcountTableEntry(b, place << UInt64(clusterBits)) }
    }

    /// First run of `n` clusters with refcount zero, and the first free cluster seen on the
    /// way. Single clusters fill holes from the free hint; longer runs are searched from
    /// where the last one ended, so large images do not rescan their whole start each time.
    func findFreeRun(_ n: UInt64) throws -> (start: UInt64, firstFree: UInt64, searchedFrom: UInt64) {
        let origin = max(n == 1 ? freeClusterHint : max(freeClusterHint, appendHint), 1)
        var start = origin
        var firstFree: UInt64?
        var run: UInt64 = 0
        var c = start
        while run < n {
            if try refcount(ofCluster: c) == 0 {
                if firstFree == nil { firstFree = c }
                run += 1
            } else {
                run = 0
                start = c + 1
            }
            c += 1
        }
        return (start, firstFree ?? start, origin)
    }

    /// Creates refcount block `b`, placed inside the range it describes (so it counts
    /// itself) on the first cluster there that is not in flight. All clusters in that range
    /// are free by definition while the block does not exist.
    func createRefcountBlock(_ b: Int, inFlight: Range<UInt64>) throws {
        if b >= refcountTable.count {
            try growRefcountTable(toInclude: b, inFlight: inFlight)
            if try refcountBlockSlot(b) != nil { return }
        }
        let epb = UInt64(refcountEntriesPerBlock)
        var place = UInt64(b) * epb
        while inFlight.contains(place) { place += 1 }
        var block = [UInt8](repeating: 0, count: clusterSize)
        if place >= UInt64(b + 1) * epb {
            // A run longer than one block's range is being allocated: this block cannot
            // describe itself, so it goes past the run and is counted by the block there.
            place = try clusterForOutsideRefcountBlock(after: inFlight)
        } else {
            block.withUnsafeMutableBytes { refcountWidth.set($0, Int(place % epb), 1) }
        }
        let offset = place << UInt64(clusterBits)
        try writeMetadata(block, at: offset, ignoring: [.refcountBlock])
        try syncUnlessLazy()
        try setRefcountTableEntry(b, offset)
    }

    /// A free cluster past `inFlight`, its refcount already raised to one (in a block that
    /// exists or is created first).
    func clusterForOutsideRefcountBlock(after inFlight: Range<UInt64>) throws -> UInt64 {
        let epb = UInt64(refcountEntriesPerBlock)
        var c = inFlight.upperBound
        while true {
            if try refcountBlockSlot(Int(c / epb)) == nil {
                try createRefcountBlock(Int(c / epb), inFlight: inFlight)
            }
            if try refcount(ofCluster: c) == 0 {
                try updateRefcounts(first: c, count: 1, delta: 1)
                return c
            }
            c += 1
        }
    }

    func setRefcountTableEntry(_ b: Int, _ value: UInt64) throws {
        try writeMetadataField(value, at: header.refcountTableOffset + UInt64(b) * 8, ignoring: [.refcountTable])
        indexRefcountTableChange(old: refcountTable[b], new: value)
        indexKeptByCaller = true
        refcountTable[b] = value
        indexKeptByCaller = false
        // The 2017 optimization: the last used entry moves only as far as this change needs.
        if value != 0 { refcountTableMaxIndex = max(refcountTableMaxIndex, b) } else if b == refcountTableMaxIndex {
            recomputeRefcountTableMaxIndex()
        }
    }

    /// Replaces the refcount table by a larger one placed past everything in use, together
    /// with the new refcount blocks that describe the new table and themselves.
    func growRefcountTable(toInclude b: Int, inFlight: Range<UInt64>) throws {
        let epb = UInt64(refcountEntriesPerBlock)
        let perCluster = UInt64(clusterSize / 8)
        // Past the file and everything in flight; then past any used cluster in the way.
        let fileEnd = (max(try file.size(), reservedEnd) + UInt64(clusterSize) - 1) >> UInt64(clusterBits)
        var base = max(fileEnd, inFlight.upperBound, 1)
        var newBlocks: UInt64 = 0
        var tableClusters: UInt64 = 0
        while true {
            // Fixed point: the table and blocks must be covered by the blocks we add.
            for _ in 0..<64 {
                let end = base + newBlocks + tableClusters
                let lastBlock = max(UInt64(b), (end - 1) / epb, UInt64(refcountTable.count) - 1)
                let entries = max(lastBlock + 1, UInt64(refcountTable.count) * 3 / 2)
                let needTable = (entries + perCluster - 1) / perCluster
                var needBlocks: UInt64 = 0
                var blk = base / epb
                while blk <= (end - 1) / epb {
                    if Int(blk) >= refcountTable.count || refcountTable[Int(blk)] == 0 { needBlocks += 1 }
                    blk += 1
                }
                if needBlocks == newBlocks && needTable == tableClusters { break }
                newBlocks = needBlocks; tableClusters = needTable
            }
            var inUse: UInt64?
            for c in base..<(base + newBlocks + tableClusters) where try refcount(ofCluster: c) != 0 { inUse = c }
            guard let used = inUse else { break }
            base = used + 1
        }
        guard tableClusters * UInt64(clusterSize) <= Limits.maxRefcountTableBytes else {
            throw ImageError.invalidArgument("'\(filename)': refcount table would exceed \(Limits.maxRefcountTableBytes) bytes")
        }
        var table = refcountTable + [UInt64](repeating: 0, count: Int(tableClusters * perCluster) - refcountTable.count)
        let newEnd = base + newBlocks + tableClusters
        // Lay out: new blocks first (one per uncovered block index in [base, newEnd)), then the table.
        var next = base
        var blockWrites: [(index: Int, offset: UInt64)] = []
        var blk = base / epb
        while blk <= (newEnd - 1) / epb {
            if table[Int(blk)] == 0 {
                table[Int(blk)] = next << UInt64(clusterBits)
                blockWrites.append((Int(blk), next << UInt64(clusterBits)))
                next += 1
            }
            blk += 1
        }
        let tableStart = next
        // Refcounts of the new clusters: inside new blocks, written directly; inside existing
        // blocks, through the cache (flushed before the header switch).
        for (index, offset) in blockWrites {
            var block = [UInt8](repeating: 0, count: clusterSize)
            block.withUnsafeMutableBytes { buf in
                for c in max(base, UInt64(index) * epb)..<min(newEnd, UInt64(index + 1) * epb) {
                    refcountWidth.set(buf, Int(c % epb), 1)
                }
            }
            try writeMetadata(block, at: offset, ignoring: [.refcountBlock])
        }
        let covered = blockWrites.map { UInt64($0.index) }
        var c = base
        while c < newEnd {
            if !covered.contains(c / epb) { try updateRefcounts(first: c, count: 1, delta: 1) }
            c += 1
        }
        try flushRefcountBlocks()
        var bytes = [UInt8](repeating: 0, count: table.count * 8)
        for (i, e) in table.enumerated() { bytes.setBE(e, at: i * 8) }
        let tableOffset = tableStart << UInt64(clusterBits)
        try writeMetadata(bytes, at: tableOffset, ignoring: [.refcountTable])
        try file.sync()
        let oldOffset = header.refcountTableOffset, oldClusters = UInt64(header.refcountTableClusters)
        var field = [UInt8](repeating: 0, count: 12)
        field.setBE(tableOffset, at: 0)
        field.setBE(UInt32(tableClusters), at: 8)
        try writeMetadata(field, at: HeaderField.refcountTable, ignoring: [.mainHeader])
        // What the file now says, even if the sync below fails (the old table then leaks):
        // later refcount blocks must be linked in the table the header names.
        header.refcountTableOffset = tableOffset
        header.refcountTableClusters = UInt32(tableClusters)
        refcountTable = table
        recomputeRefcountTableMaxIndex()
        try file.sync()
        try updateRefcounts(first: clusterIndex(oldOffset), count: oldClusters, delta: -1)
    }

    /// Queues a refcount decrement until the tables that dropped the reference are on disk.
    func deferFree(_ offset: UInt64, count: UInt64) {
        pendingFrees.append((offset, count))
    }

    /// Decrements refcounts of clusters covered by a compressed cluster's data.
    func deferFreeCompressed(host: UInt64, size: Int) {
        let first = clusterIndex(host)
        let last = clusterIndex(host + UInt64(max(size, 1)) - 1)
        deferFree(first << UInt64(clusterBits), count: last - first + 1)
    }

    func applyPendingFrees() throws {
        let frees = pendingFrees
        pendingFrees.removeAll()
        for f in frees {
            try updateRefcounts(first: clusterIndex(f.offset), count: f.count, delta: -1)
            for i in 0..<f.count {
                let offset = f.offset + i * UInt64(clusterSize)
                l2Cache.invalidate(offset)
                if decompressedCache?.host == offset { decompressedCache = nil }
            }
        }
    }

    func writeBackRefcountBlock(_ slot: Int) throws {
        try writeMetadata(UnsafeRawBufferPointer(refcountCache.buffer(slot)), at: refcountCache.key(slot),
                          ignoring: [.refcountBlock])
        refcountCache.markClean(slot)
    }

    func flushRefcountBlocks() throws {
        for slot in refcountCache.dirtySlots() { try writeBackRefcountBlock(slot) }
    }

    /// Before writing something that points at newly counted clusters: their refcounts must
    /// be on disk first (unless lazy refcounts make the dirty bit cover it).
    func flushRefcountsForDependency() throws {
        guard refcountCache.hasDirty else { return }
        try flushRefcountBlocks()
        try syncUnlessLazy()
    }

    func syncUnlessLazy() throws {
        if !lazyRefcounts { try file.sync(); unsyncedPointees = false }
    }

    /// Before a pointer to newly written clusters reaches the disk (an L2 entry naming data,
    /// an L1 entry naming a new L2 table): their refcounts first (unless lazy), and their
    /// contents first always, so a crash never leaves a pointer to unwritten clusters.
    func syncBeforePointer() throws {
        try flushRefcountsForDependency()
        if unsyncedPointees {
            try file.sync()
            unsyncedPointees = false
        }
    }
}
