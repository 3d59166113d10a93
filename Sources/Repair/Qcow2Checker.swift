import ImageFormat

/// `img check` for qcow2: recounts every reference from scratch into a compact in-memory
/// table, compares it with the stored refcounts, checks the COPIED flags, and (when asked)
/// repairs what QEMU repairs, in QEMU's order and with its messages, so the output of
/// `img check` and `qemu-img check` can be diffed.
package final class Qcow2Checker {
    package var layout: CheckLayout
    let fix: FixMode
    let log: (String) -> Void
    var counts: RefcountArray
    var res = CheckResult()
    var rebuild = false
    var snapshots = SnapshotTableCheck()
    var stored: StoredRefcounts
    var nbClusters: UInt64
    var corruptionSignalled = false
    /// The structures repair writes are checked against (QEMU's overlap-check option).
    var overlapChecks = OverlapCheckPolicy.cached.enabled
    /// What the check is doing, for the message of an I/O error (CheckIOFailure.swift).
    var activity = "reading the snapshot table"
    /// Stored refcounts that differed from the recount in the last compare pass (after any
    /// repair of them); every other cluster inside the file stores exactly its recount.
    var storedOverrides: [UInt64: UInt64] = [:]
    var overridesValid = false
    /// One cluster of scratch space for L2 tables and refcount blocks.
    let scratch: UnsafeMutableRawBufferPointer

    static let l1OffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let l1ReservedMask: UInt64 = 0x7F00_0000_0000_01FF
    static let l2OffsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let l2StdReservedMask: UInt64 = 0x3F00_0000_0000_01FE
    static let reftableReservedMask: UInt64 = 0x1FF
    static let copied: UInt64 = 1 << 63
    static let compressed: UInt64 = 1 << 62

    init(layout: CheckLayout, fix: FixMode, log: @escaping (String) -> Void) {
        self.layout = layout
        self.fix = fix
        self.log = log
        nbClusters = layout.clusterCountOfFile
        counts = RefcountArray(count: nbClusters, maxValue: layout.width.maxValue)
        stored = StoredRefcounts(layout: layout)
        scratch = .allocate(byteCount: layout.clusterSize, alignment: 4096)
    }

    deinit { scratch.deallocate() }

    /// Runs one check (QEMU's qcow2_co_check_locked) on an open file. Writes only when `fix`
    /// is non-empty.
    package static func check(file: HostFile, fix: FixMode,
                              overlapChecks: MetadataStructures = OverlapCheckPolicy.cached.enabled,
                              log: @escaping (String) -> Void) throws -> CheckResult {
        let layout = try CheckLayout.load(file)
        let checker = Qcow2Checker(layout: layout, fix: fix, log: log)
        checker.overlapChecks = overlapChecks
        return try checker.run()
    }

    func run() throws -> CheckResult {
        var snapshotResult = CheckResult()
        do {
            snapshots = try SnapshotTableCheck.read(layout, fix: fix.contains(.errors), log: log)
        } catch let e as SnapshotTableCheck.Abort {
            // QEMU reports these through error_report: program-name prefix on the first line.
            log("img: " + e.message)
            var r = CheckResult()
            r.checkErrors = 1
            throw CheckAborted(reason: e.errnoText, result: r)
        }
        snapshotResult.corruptions = snapshots.corruptions
        do {
            do { try checkRefcounts() } catch let error as ImageError {
                guard case .io = error else { throw error }
                throw aborted(by: error)
            }
        } catch var e as CheckAborted {
            e.result.corruptions += snapshotResult.corruptions
            throw e
        }
        if fix.contains(.errors) && snapshots.rewrite && snapshotResult.corruptions > 0 {
            activity = "rewriting the snapshot table"
            do {
                try SnapshotTableWriter(checker: self).write()
                snapshotResult.corruptionsFixed += snapshotResult.corruptions
                snapshotResult.corruptions = 0
            } catch {
                log("ERROR failed to update snapshot table: \(error)")
                res.checkErrors += 1
                noteIOFailure(error)
            }
        }
        res.corruptions += snapshotResult.corruptions
        res.corruptionsFixed += snapshotResult.corruptionsFixed
        if !fix.isEmpty && res.checkErrors == 0 && res.corruptions == 0 {
            activity = "marking the image clean"
            do { try markCleanAndConsistent() } catch let error as ImageError {
                guard case .io = error else { throw error }
                throw aborted(by: error)
            }
        }
        return res
    }

    // MARK: QEMU's qcow2_check_refcounts

    func checkRefcounts() throws {
        res.totalClusters = layout.virtualClusters
        try calculateRefcounts(fix: fix)
        let preCompare = res
        var highest: UInt64 = 0
        try compareRefcounts(fix: [], highest: &highest)
        if rebuild && fix.contains(.errors) {
            let old = res
            var freshLeaks = 0
            log("Rebuilding refcount structure")
            activity = "rebuilding the refcount structure"
            try RefcountRebuilder(checker: self).rebuild()
            res.corruptions = 0
            res.leaks = 0
            rebuild = false
            counts.reset()
            try calculateRefcounts(fix: [])
            if fix.contains(.leaks) {
                let saved = res
                res = CheckResult()
                try compareRefcounts(fix: .leaks, highest: &highest)
                if rebuild { log("ERROR rebuilt refcount structure is still broken") }
                freshLeaks = res.leaks
                let (errors, failure) = (res.checkErrors, res.ioFailure)
                res = saved
                res.checkErrors += errors
                if res.ioFailure == nil { res.ioFailure = failure }
            }
            if res.corruptions < old.corruptions { res.corruptionsFixed += old.corruptions - res.corruptions }
            if res.leaks < old.leaks { res.leaksFixed += old.leaks - res.leaks }
            res.leaks += freshLeaks
        } else if !fix.isEmpty {
            if rebuild {
                log("ERROR need to rebuild refcount structures")
                res.checkErrors += 1
                throw CheckAborted(reason: "Input/output error", result: res)
            }
            if res.leaks != 0 || res.corruptions != 0 {
                // QEMU forgets the dry pass; an I/O error it met still makes the check
                // incomplete, even when the repairing pass reads the block fine.
                let dryPassFailure = res.ioFailure
                res = preCompare
                try compareRefcounts(fix: fix, highest: &highest)
                if res.ioFailure == nil, let dryPassFailure {
                    res.ioFailure = dryPassFailure
                    res.checkErrors += 1
                }
            }
        }
        try checkOflagCopied()
        res.imageEndOffset = (highest + 1) << UInt64(layout.clusterBits)
    }

    func calculateRefcounts(fix: FixMode) throws {
        activity = fix.isEmpty ? "counting references" : "counting references and repairing tables"
        let cs = UInt64(layout.clusterSize)
        try incRefcounts(0, cs)
        try checkRefcountsL1(offset: layout.header.l1TableOffset, size: layout.header.l1Size, active: true, fix: fix)
        for sn in snapshots.entries {
            if sn.l1Offset % cs != 0 {
                log("ERROR snapshot \(sn.idString) (\(sn.nameString)) l1_offset=\(hex0x(sn.l1Offset)): L1 table is not cluster aligned; snapshot table entry corrupted")
                res.corruptions += 1
                continue
            }
            if UInt64(sn.l1Size) > (32 << 20) / 8 {
                log("ERROR snapshot \(sn.idString) (\(sn.nameString)) l1_size=\(hex0x(UInt64(sn.l1Size))): L1 table is too large; snapshot table entry corrupted")
                res.corruptions += 1
                continue
            }
            try checkRefcountsL1(offset: sn.l1Offset, size: sn.l1Size, active: false, fix: fix)
        }
        try incRefcounts(snapshots.offset, snapshots.size)
        try incRefcounts(stored.tableOffset, UInt64(stored.table.count) * 8)
        if let c = layout.cryptoHeader { try incRefcounts(c.offset, c.length) }
        try BitmapRefcounts(checker: self).count()
        try checkRefblocks(fix: fix)
    }

    /// QEMU's qcow2_inc_refcounts_imrt: one more reference to every cluster of the range.
    func incRefcounts(_ offset: UInt64, _ size: UInt64) throws {
        guard size > 0 else { return }
        let cs = UInt64(layout.clusterSize)
        let fileLen = layout.fileSize
        guard let end = checkedAdd(offset, size), end <= UInt64(Int64.max),
              end < fileLen || end - fileLen < cs else {
            log("ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset \(hex0x(offset)) size \(hex0x(size))")
            res.corruptions += 1
            return
        }
        let first = offset >> UInt64(layout.clusterBits), last = (end - 1) >> UInt64(layout.clusterBits)
        if last >= counts.count { counts.grow(to: last + 1); nbClusters = max(nbClusters, last + 1) }
        var k = first
        while k <= last {
            if !counts.increment(k) {
                log("ERROR: overflow cluster offset=\(hex0x(k << UInt64(layout.clusterBits)))")
                log("Use qemu-img amend to increase the refcount entry width or qemu-img convert to create a clean copy if the image cannot be opened for writing")
                res.corruptions += 1
            }
            k += 1
        }
    }

    /// The common case of `incRefcounts`: one aligned cluster inside the file.
    @inline(__always)
    func incCluster(_ offset: UInt64) throws {
        if offset < layout.fileSize && offset & UInt64(layout.clusterSize - 1) == 0
            && counts.increment(offset >> UInt64(layout.clusterBits)) { return }
        try incRefcounts(offset, UInt64(layout.clusterSize))
    }

    func checkRefcountsL1(offset: UInt64, size: UInt32, active: Bool, fix: FixMode) throws {
        let bytes = UInt64(size) * 8
        try incRefcounts(offset, bytes)
        guard size > 0 else { return }
        let l1 = try CheckLayout.readTable(layout.file, offset: offset, count: Int(size))
        let cs = UInt64(layout.clusterSize)
        for entry in l1 {
            if entry & Self.l1ReservedMask != 0 {
                log("ERROR found L1 entry with reserved bits set: \(hex(entry))")
                res.corruptions += 1
            }
            let l2Offset = entry & Self.l1OffsetMask
            if l2Offset == 0 { continue }
            try incCluster(l2Offset)
            if l2Offset % cs != 0 {
                log("ERROR l2_offset=\(hex(l2Offset)): Table is not cluster aligned; L1 entry corrupted")
                res.corruptions += 1
            }
            // A table past the end of the file reads as zeroes: nothing in it to count.
            if l2Offset >= layout.fileSize { continue }
            try layout.file.checkedRead(into: scratch, at: l2Offset)
            try checkRefcountsL2(scratch, at: l2Offset, active: active, fix: fix)
        }
    }

    func checkRefcountsL2(_ table: UnsafeMutableRawBufferPointer, at l2Offset: UInt64, active: Bool, fix: FixMode) throws {
        let cs = UInt64(layout.clusterSize)
        let ext = layout.extendedL2
        let esize = layout.l2EntrySize
        let bits = UInt64(layout.clusterBits)
        let csizeShift = 62 - (bits - 8)
        let csizeMask = (UInt64(1) << (bits - 8)) - 1
        let coffsetMask = (UInt64(1) << csizeShift) - 1
        var nextContiguous: UInt64 = 0
        for i in 0..<layout.l2Entries {
            let entry = table.loadBE64(at: i * esize)
            if entry == 0 && !ext { continue }
            let bitmap = ext ? table.loadBE64(at: i * esize + 8) : 0
            if entry & Self.compressed != 0 {
                if entry & Self.copied != 0 {
                    log("ERROR: coffset=\(hex0x(entry & coffsetMask)): copied flag must never be set for compressed clusters")
                    res.corruptions += 1
                }
                if bitmap != 0 {
                    log("ERROR compressed cluster \(i) with non-zero subcluster allocation bitmap, entry=\(hex0x(entry & ~Self.copied))")
                    res.corruptions += 1
                    continue
                }
                let e = entry & ~Self.copied
                let coffset = e & coffsetMask
                let sectors = ((e >> csizeShift) & csizeMask) + 1
                let csize = sectors * 512 - (coffset & 511)
                try incRefcounts(coffset, csize)
                if active {
                    res.allocatedClusters += 1
                    res.compressedClusters += 1
                    res.fragmentedClusters += 1
                }
                continue
            }
            if entry & Self.l2StdReservedMask != 0 {
                log("ERROR found l2 entry with reserved bits set: \(hex(entry))")
                res.corruptions += 1
            }
            let offset = entry & Self.l2OffsetMask
            let zeroFlag = !ext && entry & 1 != 0
            if offset == 0 {
                if ext && bitmap & 0xFFFF_FFFF != 0 {
                    res.corruptions += 1
                    log("ERROR: Unallocated cluster has non-zero subcluster allocation map")
                }
                continue
            }
            if (bitmap >> 32) & bitmap != 0 {
                res.corruptions += 1
                log("ERROR offset=\(hex(offset)): Allocated cluster has corrupted subcluster allocation bitmap")
            }
            if offset % cs != 0 {
                res.corruptions += 1
                let containsData = ext ? bitmap & 0xFFFF_FFFF != 0 : !zeroFlag
                if !containsData {
                    log("\(fix.contains(.errors) ? "Repairing" : "ERROR") offset=\(hex(offset)): Preallocated cluster is not properly aligned; L2 entry corrupted.")
                    if fix.contains(.errors) {
                        var patch = [UInt8](repeating: 0, count: esize)
                        if ext { patch.setBE(UInt64(0xFFFF_FFFF) << 32, at: 8) } else { patch.setBE(UInt64(1), at: 0) }
                        try guardL2Write(l2Offset + UInt64(i * esize), UInt64(esize), message: "ERROR: Overlap check failed")
                        try layout.file.write(patch, at: l2Offset + UInt64(i * esize))
                        try layout.file.sync()
                        for (k, byte) in patch.enumerated() { table[i * esize + k] = byte }
                        res.corruptions -= 1
                        res.corruptionsFixed += 1
                        continue
                    }
                } else {
                    log("ERROR offset=\(hex(offset)): Data cluster is not properly aligned; L2 entry corrupted.")
                }
            }
            if active {
                res.allocatedClusters += 1
                if nextContiguous != 0 && offset != nextContiguous { res.fragmentedClusters += 1 }
                nextContiguous = offset &+ cs
            }
            try incCluster(offset)
        }
    }

    func checkRefblocks(fix: FixMode) throws {
        activity = "checking the refcount table"
        let cs = UInt64(layout.clusterSize)
        var i = 0
        while i < stored.table.count {
            defer { i += 1 }
            let raw = stored.table[i]
            let offset = raw & StoredRefcounts.offsetMask
            let cluster = offset >> UInt64(layout.clusterBits)
            if raw & Self.reftableReservedMask != 0 {
                log("ERROR refcount table entry \(i) has reserved bits set")
                res.corruptions += 1
                rebuild = true
                continue
            }
            if offset % cs != 0 {
                log("ERROR refcount block \(i) is not cluster aligned; refcount table entry corrupted")
                res.corruptions += 1
                rebuild = true
                continue
            }
            if cluster >= nbClusters {
                res.corruptions += 1
                log("\(fix.contains(.errors) ? "Repairing" : "ERROR") refcount block \(i) is outside image")
                if fix.contains(.errors) {
                    // Grow the file so the block (read as zeroes) lies inside it; refuse absurd sizes.
                    if offset >= (1 << 50) || offset > UInt64(Int64.max) - cs {
                        rebuild = true
                        log("ERROR could not resize image: File too large")
                        continue
                    }
                    do { try layout.file.truncate(to: offset + cs) } catch {
                        rebuild = true
                        log("ERROR could not resize image: \(error)")
                        continue
                    }
                    layout.fileSize = try layout.file.size()
                    nbClusters = layout.clusterCountOfFile
                    counts.grow(to: nbClusters)
                    res.corruptions -= 1
                    res.corruptionsFixed += 1
                    try incRefcounts(offset, cs)
                }
                continue
            }
            if offset != 0 {
                try incRefcounts(offset, cs)
                if counts[cluster] != 1 {
                    log("ERROR refcount block \(i) refcount=\(counts[cluster])")
                    res.corruptions += 1
                    rebuild = true
                }
            }
        }
    }

    func compareRefcounts(fix: FixMode, highest: inout UInt64) throws {
        activity = fix.isEmpty ? "comparing refcounts" : "repairing refcounts"
        highest = 0
        storedOverrides = [:]
        overridesValid = true
        let perBlock = UInt64(layout.refcountEntriesPerBlock)
        var i: UInt64 = 0
        while i < nbClusters {
            let blockEnd = min((i / perBlock + 1) * perBlock, nbClusters)
            guard let (offset, aligned) = stored.blockOffset(for: i) else {
                // No refcount block: every stored refcount here is 0. Past the refcount
                // table's reach there are no blocks at all, so untouched chunks are skipped
                // whole there (a repair may have grown a sparse file to terabytes).
                let end = i / perBlock >= UInt64(stored.table.count) ? nbClusters : blockEnd
                while i < end {
                    if !counts.chunkTouched(i) { i = min((i | UInt64(RefcountArray.chunkSize - 1)) + 1, end); continue }
                    let r2 = counts[i]
                    if r2 != 0 { highest = i; try mismatch(i, 0, r2, fix: fix) }
                    i += 1
                }
                continue
            }
            guard aligned else {
                overridesValid = false
                if !corruptionSignalled {
                    corruptionSignalled = true
                    log("qcow2: Image is corrupt: Refblock offset \(hex0x(offset)) unaligned (reftable index: \(hex0x(i / perBlock))); further non-fatal corruption events will be suppressed")
                }
                while i < blockEnd {
                    log("Can't get refcount for cluster \(i): Input/output error")
                    res.checkErrors += 1
                    i += 1
                }
                continue
            }
            do { try layout.file.checkedRead(into: scratch, at: offset) } catch let error as ImageError {
                guard case .io = error else { throw error }
                noteIOFailure(error)
                overridesValid = false
                while i < blockEnd {
                    log("Can't get refcount for cluster \(i): Input/output error")
                    res.checkErrors += 1
                    i += 1
                }
                continue
            }
            let base = i - i % perBlock
            let block = UnsafeRawBufferPointer(scratch)
            while i < blockEnd {
                let r1 = layout.width.get(block, Int(i - base))
                let r2 = counts[i]
                if r1 | r2 != 0 {
                    highest = i
                    if r1 != r2 { try mismatch(i, r1, r2, fix: fix) }
                }
                i += 1
            }
        }
        try stored.flush()
        if !fix.isEmpty { try layout.file.sync() }
    }

    /// One cluster whose stored refcount r1 differs from its recount r2.
    private func mismatch(_ i: UInt64, _ r1: UInt64, _ r2: UInt64, fix: FixMode) throws {
        var fixing: WritableKeyPath<CheckResult, Int>?
        if r1 == 0 { rebuild = true }
        else if r1 > r2 && fix.contains(.leaks) { fixing = \.leaksFixed }
        else if r1 < r2 && fix.contains(.errors) { fixing = \.corruptionsFixed }
        log("\(fixing != nil ? "Repairing" : r1 < r2 ? "ERROR" : "Leaked") cluster \(i) refcount=\(r1) reference=\(r2)")
        if let fixing, try stored.set(i, r2) {
            res[keyPath: fixing] += 1
            return
        }
        if storedOverrides.count < 4096 { storedOverrides[i] = r1 } else { overridesValid = false; storedOverrides = [:] }
        if r1 < r2 { res.corruptions += 1 } else { res.leaks += 1 }
    }

    /// The stored refcount of a cluster (nil when its refcount block cannot be read),
    /// answered from the last compare pass where it covered the cluster.
    func storedRefcount(_ c: UInt64) throws -> UInt64? {
        if overridesValid && c < nbClusters && c < counts.count {
            if !storedOverrides.isEmpty, let v = storedOverrides[c] { return v }
            return counts[c]
        }
        do {
            if case .value(let v) = try stored.get(c) { return v }
        } catch let error as ImageError {
            guard case .io = error else { throw error }
            // QEMU skips such a cluster without a word. A block at an offset the host can
            // address but could not read leaves the check incomplete, which it must say.
            if let block = stored.blockOffset(for: c), block.offset <= UInt64(Int64.max) - UInt64(layout.clusterSize) {
                log("ERROR: Can't get refcount for cluster \(c): \(errnoText(error))")
                res.checkErrors += 1
                noteIOFailure(error)
            }
        }
        return nil
    }

    func checkOflagCopied() throws {
        activity = fix.contains(.errors) ? "checking and repairing COPIED flags" : "checking COPIED flags"
        let l1Offset = layout.header.l1TableOffset
        var l1Dirty = false
        for i in layout.l1.indices {
            let entry = layout.l1[i]
            let l2Offset = entry & Self.l1OffsetMask
            if l2Offset == 0 { continue }
            guard let refcount = try storedRefcount(l2Offset >> UInt64(layout.clusterBits)) else { continue }
            if (refcount == 1) != (entry & Self.copied != 0) {
                log("\(fix.contains(.errors) ? "Repairing" : "ERROR") OFLAG_COPIED L2 cluster: l1_index=\(i) l1_entry=\(hex(entry)) refcount=\(refcount)")
                if fix.contains(.errors) {
                    try guardL1Write(entryAt: layout.header.l1TableOffset + UInt64(i) * 8)
                    layout.l1[i] = refcount == 1 ? entry | Self.copied : entry & ~Self.copied
                    l1Dirty = true
                    res.corruptionsFixed += 1
                } else {
                    res.corruptions += 1
                }
            }
            if l2Offset >= layout.fileSize { continue }
            let table = scratch
            try layout.file.checkedRead(into: table, at: l2Offset)
            var dirty = false
            for j in 0..<layout.l2Entries {
                let at = j * layout.l2EntrySize
                let e = table.loadBE64(at: at)
                guard e & Self.compressed == 0 else { continue }
                let data = e & Self.l2OffsetMask
                if data == 0 { continue }
                guard let rc = try storedRefcount(data >> UInt64(layout.clusterBits)) else { continue }
                if (rc == 1) != (e & Self.copied != 0) {
                    log("\(fix.contains(.errors) ? "Repairing" : "ERROR") OFLAG_COPIED data cluster: l2_entry=\(hex(e)) refcount=\(rc)")
                    if fix.contains(.errors) {
                        table.storeBE64(rc == 1 ? e | Self.copied : e & ~Self.copied, at: at)
                        dirty = true
                        res.corruptionsFixed += 1
                    } else {
                        res.corruptions += 1
                    }
                }
            }
            if dirty {
                try guardL2Write(l2Offset, UInt64(layout.clusterSize),
                                 message: "ERROR: Could not write L2 table; metadata overlap check failed: Input/output error")
                try layout.file.write(UnsafeRawBufferPointer(table), at: l2Offset)
            }
        }
        if l1Dirty {
            var bytes = [UInt8](repeating: 0, count: layout.l1.count * 8)
            for (k, e) in layout.l1.enumerated() { bytes.setBE(e, at: k * 8) }
            try layout.file.write(bytes, at: l1Offset)
        }
        if !fix.isEmpty { try layout.file.sync() }
    }

    /// After a repair that left no corruption: the dirty and corrupt bits go.
    func markCleanAndConsistent() throws {
        guard layout.isV3 else { return }
        let bits = Qcow2Feature.Incompatible.dirty | Qcow2Feature.Incompatible.corrupt
        let current = try layout.file.checkedRead(count: 8, at: 72).beUnchecked(UInt64.self, at: 0)
        guard current & bits != 0 else { return }
        try layout.file.sync()
        var field = [UInt8](repeating: 0, count: 8)
        field.setBE(current & ~bits, at: 0)
        try layout.file.write(field, at: 72)
        try layout.file.sync()
        layout.header.incompatibleFeatures = current & ~bits
    }
}

func hex(_ v: UInt64) -> String { String(v, radix: 16) }
func hex0x(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
