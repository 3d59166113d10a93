import ImageFormat

/// Writes a repaired snapshot table (entries cut, completed or dropped by the check) to new
/// clusters at the end of the file, then points the header at it, then frees the old table:
/// a crash in between leaves at most a leak.
struct SnapshotTableWriter {
    let checker: Qcow2Checker

    func write() throws {
        let layout = checker.layout
        let cs = UInt64(layout.clusterSize)
        var bytes: [UInt8] = []
        for e in checker.snapshots.entries { bytes += e.serialize(virtualSize: layout.header.size) }
        let clusters = max((UInt64(bytes.count) + cs - 1) / cs, 1)
        var newOffset: UInt64 = 0
        if !checker.snapshots.entries.isEmpty {
            newOffset = try allocateAtEnd(clusters)
            bytes += [UInt8](repeating: 0, count: Int(clusters * cs) - bytes.count)
            try layout.file.write(bytes, at: newOffset)
            try layout.file.sync()
        }
        var field = [UInt8](repeating: 0, count: 12)
        field.setBE(UInt32(checker.snapshots.entries.count), at: 0)
        field.setBE(newOffset, at: 4)
        try layout.file.write(field, at: 60)
        try layout.file.sync()
        // Free the old table's clusters.
        let old = checker.snapshots
        if old.size > 0 {
            let first = old.offset / cs, last = (old.offset + old.size - 1) / cs
            for c in first...last {
                if case .value(let v) = try checker.stored.get(c), v > 0 { _ = try checker.stored.set(c, v - 1) }
            }
            try checker.stored.flush()
            try layout.file.sync()
        }
        checker.snapshots.offset = newOffset
        checker.snapshots.size = UInt64(bytes.count)
        checker.snapshots.rewrite = false
    }

    /// The first run of `n` clusters inside the file that nothing references and whose stored
    /// refcount is zero (QEMU's allocator picks the same hole).
    private func firstFreeRun(_ n: UInt64) throws -> UInt64? {
        var run: UInt64 = 0
        var c: UInt64 = 1
        while c < checker.counts.count {
            var free = checker.counts[c] == 0 && checker.stored.blockOffset(for: c)?.aligned == true
            if free, case .value(let v) = try checker.stored.get(c) { free = v == 0 } else { free = false }
            run = free ? run + 1 : 0
            if run == n { return c + 1 - n }
            c += 1
        }
        return nil
    }

    /// `n` clusters past everything in the file, with their refcounts set to one (creating a
    /// refcount block after them when none covers them).
    private func allocateAtEnd(_ n: UInt64) throws -> UInt64 {
        let layout = checker.layout
        let cs = UInt64(layout.clusterSize)
        let perBlock = UInt64(layout.refcountEntriesPerBlock)
        let start = try firstFreeRun(n) ?? max(checker.counts.count, layout.clusterCountOfFile)
        var extra: [UInt64] = []
        for c in start..<(start + n) where checker.stored.blockOffset(for: c) == nil { extra.append(c / perBlock) }
        let blocks = Array(Set(extra)).sorted()
        var next = start + n
        for b in blocks {
            guard b < UInt64(checker.stored.table.count) else {
                throw ImageError.invalidArgument("refcount table too small to cover the new snapshot table")
            }
            var block = [UInt8](repeating: 0, count: Int(cs))
            try layout.file.write(block, at: next * cs)
            block.removeAll()
            checker.stored.table[Int(b)] = next * cs
            var entry = [UInt8](repeating: 0, count: 8)
            entry.setBE(next * cs, at: 0)
            try layout.file.write(entry, at: checker.stored.tableOffset + b * 8)
            next += 1
        }
        for c in start..<next {
            guard try checker.stored.set(c, 1) else {
                throw ImageError.invalidArgument("no refcount block covers cluster \(c)")
            }
        }
        try checker.stored.flush()
        try layout.file.sync()
        checker.counts.grow(to: next)
        for c in start..<next { checker.counts.set(c, 1) }
        return start * cs
    }
}
