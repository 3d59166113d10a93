import ImageFormat

/// QEMU repairs a dirty image (lazy refcounts, not closed cleanly) when it opens it
/// read-write: a full check with every repair, then the dirty bit is cleared. The format
/// layer calls this hook from its read-write open; the CLI installs it at startup.
package enum DirtyImageRepair {
    package static func install() {
        Qcow2Image.dirtyImageRepair = { image in try repair(image) }
    }

    static func repair(_ image: Qcow2Image) throws {
        let log = BufferedLog()
        defer { log.flush() }
        let result = try Qcow2Checker.check(file: image.file, fix: .all, log: log.line)
        if result.checkErrors != 0 || result.corruptions != 0 {
            throw ImageError.corrupt(path: image.filename, structure: "image", offset: 0,
                                     detail: "Could not repair dirty image: run 'img check -r all'")
        }
        // The repair may have moved the refcount table or changed COPIED flags: reload what
        // the open image keeps in memory (its caches are still empty right after open).
        let layout = try CheckLayout.load(image.file)
        image.header = layout.header
        image.l1 = layout.l1
        image.refcountTable = layout.reftable
        image.recomputeRefcountTableMaxIndex()
        if layout.header.snapshotCount > 0 {
            let size = min(UInt64(SnapshotTableCheck.maxTableBytes), layout.fileSize - min(layout.fileSize, layout.header.snapshotsOffset))
            let bytes = try image.file.checkedRead(count: Int(size), at: layout.header.snapshotsOffset)
            image.snapshots = try Qcow2Snapshot.parseTable(bytes, count: Int(layout.header.snapshotCount),
                                                           base: layout.header.snapshotsOffset, path: image.filename)
        } else {
            image.snapshots = []
        }
    }
}
