import ImageFormat
@testable import Repair

/// Workloads for the operations that landed after the harness: snapshot create and delete,
/// resize grow and shrink, refcount-width change (amend), and check -r all itself.
extension Workloads {
    /// Snapshot create copies the L1 table and raises refcounts; writes then copy shared
    /// clusters and L2 tables; apply makes a snapshot's tables the active ones; delete drops
    /// the refcounts again. Two L2 tables (512-byte clusters), two snapshots alive at once
    /// (refcounts of 3), deletes in creation order.
    static let snapshotCreateDelete = Workload(name: "snapshot-create-delete", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 256 << 10, clusterSize: 512)
        try ImageMaker.fill(path, tag: 0x5A, count: 48 << 10)
        return path
    }, run: { d in
        func delete(_ name: String) throws {
            try d.custom("snapshot delete \(name)") { image in
                guard let index = image.findSnapshot(nameOrID: name) else { return }
                try image.deleteSnapshot(at: index)
            }
        }
        try d.custom("snapshot create a") { image in _ = try image.createSnapshot(name: "a") }
        try d.write(tag: 1, at: 4000, count: 300)
        try d.flush()
        try d.custom("snapshot create b") { image in _ = try image.createSnapshot(name: "b") }
        try d.write(tag: 2, at: 40 << 10, count: 1500)
        try delete("a")
        try d.write(tag: 3, at: 100, count: 100)
        try d.flush()
        try d.custom("snapshot apply b") { image in
            guard let index = image.findSnapshot(idOrName: "b") else { return }
            try image.applySnapshot(at: index)
        }
        try d.write(tag: 5, at: 20 << 10, count: 600)
        try delete("b")
        try d.write(tag: 4, at: 33 << 10, count: 700)
        try d.flush()
    }, missed: { before, after in
        after.snapshots.isEmpty ? nil : "the snapshots were not deleted"
    })

    /// Grow past the L1 table's reach, write there, then shrink below data already written.
    static let resizeGrowShrink = Workload(name: "resize-grow-shrink", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 48 << 10, clusterSize: 512)
        try ImageMaker.fill(path, tag: 0x6B, count: 40 << 10)
        return path
    }, run: { d in
        try d.custom("grow to 2.5 MiB") { image in try image.resize(to: 5 << 19, allowShrink: false) }
        try d.write(tag: 1, at: (2 << 20) + 100, count: 2000)
        try d.flush()
        try d.custom("shrink to 24 KiB") { image in try image.resize(to: 24 << 10, allowShrink: true) }
        try d.write(tag: 2, at: 1000, count: 500)
        try d.flush()
    }, missed: { before, after in
        after.virtualSize == 24 << 10 ? nil : "the image did not end at 24 KiB"
    })

    /// The refcount structure rewritten at another width, up and then down.
    static let amendRefcountBits = Workload(name: "amend-refcount-bits", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 256 << 10, clusterSize: 512)
        try ImageMaker.fill(path, tag: 0x7C, count: 96 << 10)
        return path
    }, run: { d in
        try d.custom("refcount_bits=64") { image in try image.changeRefcountWidth(bits: 64) }
        try d.write(tag: 1, at: 100 << 10, count: 3000)
        try d.flush()
        try d.custom("refcount_bits=2") { image in try image.changeRefcountWidth(bits: 2) }
        try d.write(tag: 2, at: 5000, count: 100)
        try d.flush()
    }, missed: { before, after in
        after.header.refcountOrder == 1 ? nil : "the refcount width did not end at 2 bits"
    })

    /// check -r all rebuilding a refcount structure whose blocks were zeroed: a crash during
    /// the repair must leave an image a second repair fixes, with the data intact.
    static let checkRepairAll = Workload(name: "check-repair-all", repairFirst: true, prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 256 << 10, clusterSize: 512)
        try ImageMaker.fill(path, tag: 0x3D, count: 128 << 10)
        var options = Qcow2OpenOptions()
        options.writable = true
        let image = try Qcow2Image.open(path: path, options: options)
        let blocks = image.refcountTable.filter { $0 != 0 }
        for block in blocks { try image.file.write([UInt8](repeating: 0, count: 512), at: block) }
        image.file.closeDescriptor()
        return path
    }, run: { d in
        try d.custom("check -r all") { image in
            let result = try Qcow2Checker.check(file: image.file, fix: .all, log: { _ in })
            // Check errors (an I/O error the repair survived) fail it, as `img check` exits 1.
            if let incomplete = result.incomplete { throw incomplete }
        }
    })
}
