import ImageFormat

/// One snapshot table entry as read in check mode: the fixed fields, the extra data (cut to
/// QEMU's limit when a repair discards the excess), id and name kept as raw bytes.
package struct SnapshotRecord {
    package var fixed: [UInt8]          // the 40-byte entry header as stored
    package var extra: [UInt8]
    package var id: [UInt8]
    package var name: [UInt8]
    package var storedExtraSize: UInt32

    package var l1Offset: UInt64 { fixed.beUnchecked(UInt64.self, at: 0) }
    package var l1Size: UInt32 { fixed.beUnchecked(UInt32.self, at: 8) }
    package var idString: String { String(decoding: id, as: UTF8.self) }
    package var nameString: String { String(decoding: name, as: UTF8.self) }

    /// The entry as written back: extra data completed to the 24 bytes QEMU writes
    /// (vm_state_size_large, disk_size, icount) when it was shorter.
    package func serialize(virtualSize: UInt64) -> [UInt8] {
        var ex = extra
        if ex.count < 24 {
            var full = [UInt8](repeating: 0, count: 24)
            let vmState = UInt64(fixed.beUnchecked(UInt32.self, at: 32))
            full.setBE(ex.be(UInt64.self, at: 0) ?? vmState, at: 0)
            full.setBE(ex.be(UInt64.self, at: 8) ?? virtualSize, at: 8)
            full.setBE(ex.be(UInt64.self, at: 16) ?? UInt64.max, at: 16)
            ex = full
        }
        var b = fixed
        b.setBE(UInt16(id.count), at: 12)
        b.setBE(UInt16(name.count), at: 14)
        b.setBE(UInt32(ex.count), at: 36)
        b += ex + id + name
        b += [UInt8](repeating: 0, count: (8 - b.count % 8) % 8)
        return b
    }
}

/// The snapshot table as QEMU's check reads it: problems it can repair (too much extra data,
/// too many or too large a table, incomplete v3 entries) are counted as corruptions; a table
/// it cannot even locate aborts the check.
package struct SnapshotTableCheck {
    package static let maxSnapshots: UInt32 = 65536
    package static let maxExtraData: UInt32 = 1024
    package static let maxTableBytes: UInt64 = 1024 * 65536

    package var entries: [SnapshotRecord] = []
    package var offset: UInt64 = 0
    /// Bytes the table occupies (what the recount charges to it).
    package var size: UInt64 = 0
    package var corruptions = 0
    /// Entries changed in memory, so a repair must write the table back.
    package var rewrite = false

    package struct Abort: Error { package var message: String; package var errnoText: String }

    package static func read(_ layout: CheckLayout, fix: Bool, log: (String) -> Void) throws -> SnapshotTableCheck {
        var t = SnapshotTableCheck()
        var count = layout.header.snapshotCount
        t.offset = layout.header.snapshotsOffset
        if count > maxSnapshots && fix {
            log("Discarding \(count - maxSnapshots) overhanging snapshots")
            var field = [UInt8](repeating: 0, count: 4)
            field.setBE(maxSnapshots, at: 0)
            try layout.file.write(field, at: 60)
            try layout.file.sync()
            count = maxSnapshots
        }
        if count > maxSnapshots {
            var m = "ERROR snapshot table too large"
            m += "\nYou can force-remove all \(count - maxSnapshots) overhanging snapshots with qemu-img check -r all"
            throw Abort(message: m, errnoText: "File too large")
        }
        guard t.offset % UInt64(layout.clusterSize) == 0, t.offset <= UInt64(Int64.max) - UInt64(count) * 40 else {
            throw Abort(message: "ERROR snapshot table offset invalid", errnoText: "Invalid argument")
        }
        var pos = t.offset
        for i in 0..<Int(count) {
            pos = (pos + 7) & ~7
            let fixed: [UInt8]
            do { fixed = try layout.file.checkedRead(count: 40, at: pos) } catch ImageError.io(_, _, _) {
                throw Abort(message: "ERROR failed to read the snapshot table: Failed to read snapshot table", errnoText: "Input/output error")
            }
            pos += 40
            var extraSize = fixed.beUnchecked(UInt32.self, at: 36)
            let stored = extraSize
            let idSize = Int(fixed.beUnchecked(UInt16.self, at: 12)), nameSize = Int(fixed.beUnchecked(UInt16.self, at: 14))
            if extraSize > maxExtraData {
                guard fix else {
                    throw Abort(message: "ERROR failed to read the snapshot table: Too much extra metadata in snapshot table entry \(i)"
                                + "\nYou can force-remove this extra metadata with qemu-img check -r all", errnoText: "File too large")
                }
                log("Discarding too much extra metadata in snapshot table entry \(i) (\(extraSize) > \(maxExtraData))")
                t.corruptions += 1
                t.rewrite = true
                extraSize = maxExtraData
            }
            let extra = try layout.file.checkedRead(count: Int(extraSize), at: pos)
            pos += UInt64(stored)
            let id = try layout.file.checkedRead(count: idSize, at: pos)
            pos += UInt64(idSize)
            let name = try layout.file.checkedRead(count: nameSize, at: pos)
            pos += UInt64(nameSize)
            if pos - t.offset > maxTableBytes {
                guard fix else {
                    throw Abort(message: "ERROR failed to read the snapshot table: Snapshot table is too big"
                                + "\nYou can force-remove all \(Int(count) - i) overhanging snapshots with qemu-img check -r all",
                                errnoText: "File too large")
                }
                log("Discarding \(Int(count) - i) overhanging snapshots (snapshot table is too big)")
                t.corruptions += Int(count) - i
                t.rewrite = true
                break
            }
            t.entries.append(SnapshotRecord(fixed: fixed, extra: extra, id: id, name: name, storedExtraSize: stored))
            t.size = pos - t.offset
        }
        if layout.isV3 {
            for (i, e) in t.entries.enumerated() where e.extra.count < 16 {
                t.corruptions += 1
                t.rewrite = true
                log("\(fix ? "Repairing" : "ERROR") snapshot table entry \(i) is incomplete")
            }
        }
        return t
    }
}
