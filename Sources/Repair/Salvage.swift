import ImageFormat

/// Recovery for damage `-r all` cannot fix, run before it: L1 entries that do not point at
/// a plausible L2 table are cleared, L2 entries that cannot be right (reserved bits,
/// unaligned, past the end of the file) are cleared, and L2 tables no L1 entry reaches are
/// found by scanning every cluster of the file and linked into empty L1 slots. The
/// refcount repair that follows then makes the structure consistent again.
///
/// Placement of a found table: the slot where a snapshot's L1 table has the same table
/// (exact), the only empty slot (exact), otherwise empty slots in file order (tables are
/// allocated as the guest writes, so file order usually is guest order), reported as such.
/// Only clusters that still have a refcount are taken: a freed cluster may hold a stale table
/// whose data must not come back.
package enum Salvage {
    package struct Report {
        package var relinked: [(index: Int, offset: UInt64, how: String)] = []
        package var clearedL1: [Int] = []
        package var clearedL2Entries = 0
        package var unplaced: [UInt64] = []
    }

    @discardableResult
    package static func run(file: HostFile, log: (String) -> Void) throws -> Report {
        var layout = try CheckLayout.load(file)
        let s = Scanner(layout: layout)
        var report = Report()
        let snapshots = (try? SnapshotTableCheck.read(layout, fix: false, log: { _ in }))?.entries ?? []

        // Structures that are certainly not L2 tables, and tables reached from L1 tables.
        let known = RefcountArray(count: s.clusters, maxValue: 1)
        func mark(_ offset: UInt64, _ bytes: UInt64) {
            guard bytes > 0, offset < layout.fileSize else { return }
            let last = min((offset + bytes - 1) >> s.bits, s.clusters - 1)
            var c = offset >> s.bits
            while c <= last { known.set(c, 1); c += 1 }
        }
        mark(0, UInt64(layout.clusterSize))
        mark(layout.header.refcountTableOffset, UInt64(layout.reftable.count) * 8)
        for e in layout.reftable where e & 0x1FF == 0 && e != 0 { mark(e, UInt64(layout.clusterSize)) }
        mark(layout.header.l1TableOffset, UInt64(layout.l1.count) * 8)
        mark(layout.header.snapshotsOffset, layout.header.snapshotCount > 0 ? UInt64(layout.header.snapshotCount) * 40 : 0)
        var hint: [UInt64: Int] = [:]
        for sn in snapshots where sn.l1Offset % UInt64(layout.clusterSize) == 0 && sn.l1Size <= 4 << 20 {
            mark(sn.l1Offset, UInt64(sn.l1Size) * 8)
            let l1 = try CheckLayout.readTable(file, offset: sn.l1Offset, count: Int(sn.l1Size))
            for (i, e) in l1.enumerated() where s.plausibleTableOffset(e) {
                hint[e & s.offsetMask] = i
                try s.markData(tableAt: e & s.offsetMask, into: known)
            }
        }

        // Active L1: clear entries that cannot be L2 tables; repair the tables that are.
        var l1Changed = false
        var linked: Set<UInt64> = []
        for i in layout.l1.indices where layout.l1[i] != 0 {
            let off = layout.l1[i] & s.offsetMask
            if !s.plausibleTableOffset(layout.l1[i]) || known[off >> s.bits] != 0 {
                log("Salvage: L1 entry \(i) (0x\(String(layout.l1[i], radix: 16))) does not point at an L2 table; cleared")
                layout.l1[i] = 0
                l1Changed = true
                report.clearedL1.append(i)
                continue
            }
            linked.insert(off)
            report.clearedL2Entries += try s.clearBadEntries(tableAt: off, l1Index: i, log: log)
        }
        for off in linked { mark(off, UInt64(layout.clusterSize)) }
        for off in linked { try s.markData(tableAt: off, into: known) }

        // Find unreachable L2 tables and place them.
        let needed = Int(min(UInt64(layout.l1.count), (layout.header.size + s.coverage - 1) / s.coverage))
        var empty = (0..<needed).filter { layout.l1[$0] == 0 }
        if !empty.isEmpty {
            // A cluster nobody references that still has a refcount was cut off by the
            // damage; one with refcount 0 was freed and may hold a stale table: not relinked.
            let stored = StoredRefcounts(layout: layout)
            var orphans: [UInt64] = []
            for t in try s.findTables(excluding: known) {
                if case .value(let v) = try stored.get(t >> s.bits), v > 0 { orphans.append(t); continue }
                log("Salvage: cluster at 0x\(String(t, radix: 16)) looks like an L2 table but is free (stale); not linked")
            }
            for t in orphans { if let i = hint[t], let k = empty.firstIndex(of: i) {
                layout.l1[i] = t | (1 << 63)
                report.relinked.append((i, t, "same slot as in a snapshot"))
                empty.remove(at: k)
            } }
            orphans.removeAll { t in report.relinked.contains { $0.offset == t } || hint[t] != nil }
            let exact = orphans.count == 1 && empty.count == 1
            for t in orphans {
                guard !empty.isEmpty else { report.unplaced.append(t); continue }
                let i = empty.removeFirst()
                layout.l1[i] = t | (1 << 63)
                report.relinked.append((i, t, exact ? "only empty slot" : "file order"))
            }
            l1Changed = l1Changed || !report.relinked.isEmpty
        }
        for r in report.relinked {
            log("Salvage: L2 table at 0x\(String(r.offset, radix: 16)) linked as L1 entry \(r.index) (\(r.how))")
        }
        for t in report.unplaced {
            log("Salvage: L2 table at 0x\(String(t, radix: 16)) found but no empty L1 slot is left for it; not linked")
        }
        if l1Changed {
            var bytes = [UInt8](repeating: 0, count: layout.l1.count * 8)
            for (i, e) in layout.l1.enumerated() { bytes.setBE(e, at: i * 8) }
            try file.write(bytes, at: layout.header.l1TableOffset)
            try file.sync()
        }
        log("Salvage: \(report.relinked.count) L2 tables relinked, \(report.clearedL1.count) L1 entries and "
            + "\(report.clearedL2Entries) L2 entries cleared, \(report.unplaced.count) tables could not be placed")
        return report
    }

    /// Entry-level plausibility tests on the raw file.
    struct Scanner {
        let layout: CheckLayout
        let bits: UInt64
        let clusters: UInt64
        let coverage: UInt64
        let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00

        init(layout: CheckLayout) {
            self.layout = layout
            bits = UInt64(layout.clusterBits)
            clusters = max(layout.clusterCountOfFile, 1)
            coverage = UInt64(layout.l2Entries) << bits
        }

        func plausibleTableOffset(_ entry: UInt64) -> Bool {
            let off = entry & offsetMask
            return entry & 0x7F00_0000_0000_01FF == 0 && off != 0 && off % UInt64(layout.clusterSize) == 0
                && off < layout.fileSize
        }

        /// Whether one L2 entry could have been written by a qcow2 implementation here.
        func plausible(_ e: UInt64, _ bitmap: UInt64) -> Bool {
            if e & (1 << 62) != 0 {
                let shift = 62 - (bits - 8)
                let host = e & ((1 << shift) - 1)
                return e & (1 << 63) == 0 && host < layout.fileSize && host >= UInt64(layout.clusterSize)
            }
            let off = e & offsetMask
            if e & 0x3F00_0000_0000_01FE != 0 { return false }
            if layout.extendedL2 && (bitmap >> 32) & bitmap != 0 { return false }
            return off == 0 ? e & (1 << 63) == 0 : off % UInt64(layout.clusterSize) == 0 && off < layout.fileSize
        }

        /// Clears entries of a linked table that cannot be right; returns how many.
        func clearBadEntries(tableAt off: UInt64, l1Index: Int, log: (String) -> Void) throws -> Int {
            var t = try layout.file.checkedRead(count: layout.clusterSize, at: off)
            var cleared = 0
            for j in 0..<layout.l2Entries {
                let at = j * layout.l2EntrySize
                let e = t.beUnchecked(UInt64.self, at: at)
                let b = layout.extendedL2 ? t.beUnchecked(UInt64.self, at: at + 8) : 0
                if plausible(e, b) { continue }
                let guest = (UInt64(l1Index) * UInt64(layout.l2Entries) + UInt64(j)) << bits
                log("Salvage: L2 entry for guest offset 0x\(String(guest, radix: 16)) (0x\(String(e, radix: 16))) is invalid; its cluster is lost and now reads as unallocated")
                for k in 0..<layout.l2EntrySize { t[at + k] = 0 }
                cleared += 1
            }
            if cleared > 0 { try layout.file.write(t, at: off); try layout.file.sync() }
            return cleared
        }

        /// Marks the host clusters a linked table points at (data never is an L2 table).
        func markData(tableAt off: UInt64, into known: RefcountArray) throws {
            let t = try layout.file.checkedRead(count: layout.clusterSize, at: off)
            for j in 0..<layout.l2Entries {
                let e = t.beUnchecked(UInt64.self, at: j * layout.l2EntrySize)
                let host = e & (1 << 62) != 0 ? e & ((1 << (62 - (bits - 8))) - 1) : e & offsetMask
                if host != 0 && host < layout.fileSize { known.set(host >> bits, 1) }
            }
        }

        /// Every cluster not known to be something else whose entries all look like L2
        /// entries, at least one of them in use.
        func findTables(excluding known: RefcountArray) throws -> [UInt64] {
            var found: [UInt64] = []
            let cs = layout.clusterSize
            let batch = max(1, (1 << 20) / cs)
            var buf = [UInt8](repeating: 0, count: batch * cs)
            var c: UInt64 = 1
            while c < clusters {
                let n = Int(min(UInt64(batch), clusters - c))
                try buf.withUnsafeMutableBytes { try layout.file.checkedRead(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(n * cs)]), at: c << bits) }
                for k in 0..<n where known[c + UInt64(k)] == 0 {
                    var used = false, ok = true
                    for j in 0..<layout.l2Entries {
                        let at = k * cs + j * layout.l2EntrySize
                        let e = buf.beUnchecked(UInt64.self, at: at)
                        let b = layout.extendedL2 ? buf.beUnchecked(UInt64.self, at: at + 8) : 0
                        if e == 0 && b == 0 { continue }
                        guard plausible(e, b) else { ok = false; break }
                        used = true
                    }
                    if ok && used { found.append((c + UInt64(k)) << bits) }
                }
                c += UInt64(n)
            }
            return found
        }
    }
}
