import ImageFormat

/// The workloads the format layer supports on main. Sizes are small (512 B to 16 KiB
/// clusters, images of a few MiB at most) so that every crash point can be judged in CI.
enum Workloads {
    static var all: [Workload] {
        [l2Boundaries, l2BoundariesLazy, backingCopyOnWrite, backingExtendedL2, zeroesAndDiscards,
         discardsOverBackingV2, compressed, l1Growth, refcountTableGrowth64, refcountBlocks1Bit]
    }

    /// Allocating writes that straddle L2 tables (512 B clusters: one table maps 32 KiB).
    static let l2Boundaries = Workload(name: "l2-boundaries", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 256 << 10, clusterSize: 512)
        return path
    }, run: l2BoundaryOps)

    static let l2BoundariesLazy = Workload(name: "l2-boundaries-lazy-refcounts", repairFirst: true, prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 256 << 10, clusterSize: 512) { $0.lazyRefcounts = true }
        return path
    }, run: l2BoundaryOps)

    static func l2BoundaryOps(_ d: WorkloadDriver) throws {
        for r in 0..<SweepMode.rounds {
            let t = UInt8(r * 16), shift = r * 1536
            try d.write(tag: t + 1, at: (30 << 10) + shift, count: 3 << 10)
            try d.flush()
            try d.write(tag: t + 2, at: (60 << 10) + 100 + shift, count: 40 << 10)
            try d.write(tag: t + 3, at: (128 << 10) + shift, count: 512)
            try d.flush()
            try d.write(tag: t + 4, at: (31 << 10) + shift, count: 1000)
            try d.write(tag: t + 5, at: (200 << 10) - 7 - shift, count: 33 << 10)
            try d.flush()
        }
    }

    /// Partial-cluster writes over a raw backing file: the rest of each cluster is copied up.
    static let backingCopyOnWrite = Workload(name: "backing-copy-on-write", prepare: { dir in
        try overRawBacking(dir, size: 384 << 10, clusterSize: 4096, tag: 0xB0)
    }, run: { d in
        for r in 0..<SweepMode.rounds {
            let t = UInt8(r * 16), shift = r * 48 << 10
            try d.write(tag: t + 1, at: 5000 + shift, count: 100)
            try d.flush()
            try d.write(tag: t + 2, at: 8190 + shift, count: 20)
            try d.write(tag: t + 3, at: 20000 + shift, count: 3000)
            try d.flush()
            try d.write(tag: t + 4, at: 5100 + shift, count: 50)
            try d.write(tag: t + 5, at: 40000 + shift, count: 4106)
            try d.discard(at: 20480 + shift, count: 4096)
            try d.flush()
        }
    })

    /// The same over extended L2 entries (16 KiB clusters of 512 B subclusters).
    static let backingExtendedL2 = Workload(name: "backing-extended-l2", prepare: { dir in
        try overRawBacking(dir, size: 768 << 10, clusterSize: 16384, tag: 0xB1) { $0.extendedL2 = true }
    }, run: { d in
        for r in 0..<SweepMode.rounds {
            let t = UInt8(r * 16), shift = r * 96 << 10
            try d.write(tag: t + 1, at: 5000 + shift, count: 100)
            try d.flush()
            try d.write(tag: t + 2, at: 33000 + shift, count: 3000)
            try d.writeZeroes(at: 8192 + shift, count: 2048, mayUnmap: false)
            try d.flush()
            try d.write(tag: t + 3, at: 16384 - 300 + shift, count: 600)
            try d.writeZeroes(at: 65536 + shift, count: 16384, mayUnmap: true)
            try d.write(tag: t + 4, at: 9000 + shift, count: 300)
            try d.flush()
        }
    })

    /// Zero writes (unmapping and not, whole and partial clusters) and discards, then
    /// writes that reuse the freed clusters.
    static let zeroesAndDiscards = Workload(name: "zeroes-and-discards", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 128 << 10, clusterSize: 1024)
        return path
    }, run: { d in
        for r in 0..<SweepMode.rounds {
            let t = UInt8(r * 16)
            try d.write(tag: t + 1, at: 0, count: 16 << 10)
            try d.flush()
            try d.writeZeroes(at: 1024, count: 2048, mayUnmap: true)
            try d.writeZeroes(at: 4096, count: 1024, mayUnmap: false)
            try d.writeZeroes(at: 6000, count: 100, mayUnmap: true)
            try d.discard(at: 8192, count: 4096)
            try d.flush()
            try d.write(tag: t + 2, at: 20000, count: 4096)
            try d.write(tag: t + 4, at: 4096 + 100, count: 200)
            try d.flush()
            try d.discard(at: 0, count: 16 << 10)
            try d.write(tag: t + 3, at: 1000, count: 2048)
            try d.flush()
        }
    })

    /// A version 2 image over a backing file: discarded clusters read the backing file again.
    static let discardsOverBackingV2 = Workload(name: "discards-over-backing-v2", prepare: { dir in
        try overRawBacking(dir, size: 64 << 10, clusterSize: 512, tag: 0xB2) { $0.version = 2 }
    }, run: { d in
        for r in 0..<SweepMode.rounds {
            let t = UInt8(r * 16), shift = r * 8 << 10
            try d.write(tag: t + 1, at: 1000 + shift, count: 6000)
            try d.flush()
            try d.discard(at: 1024 + shift, count: 2048)
            try d.writeZeroes(at: 4096 + shift, count: 1024, mayUnmap: false)
            try d.flush()
            try d.write(tag: t + 2, at: 2000 + shift, count: 700)
            try d.flush()
        }
    })

    /// Compressed clusters packed together, a copy-on-write out of one, a discard of one,
    /// and a compressed rewrite into the freed space.
    static let compressed = Workload(name: "compressed", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 256 << 10, clusterSize: 4096)
        return path
    }, run: { d in
        for r in 0..<SweepMode.rounds {
            let t = UInt8(r * 32), base = r * 8
            for c in 0..<3 { try d.writeCompressed(tag: t + UInt8(10 + c), cluster: base + c) }
            try d.flush()
            try d.write(tag: t + 1, at: (base + 1) * 4096 + 50, count: 100)
            try d.discard(at: (base + 2) * 4096, count: 4096)
            try d.flush()
            try d.writeCompressed(tag: t + 20, cluster: base + 2)
            try d.writeCompressed(tag: t + 21, cluster: base + 7)
            try d.flush()
        }
    })

    /// The L1 table outgrows its cluster and moves (512 B clusters: 64 entries map 2 MiB).
    static let l1Growth = Workload(name: "l1-growth", prepare: { dir in
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 48 << 10, clusterSize: 512)
        return path
    }, run: { d in
        try d.write(tag: 1, at: 1000, count: 2048)
        try d.flush()
        try d.custom("grow L1 and the disk to 2.5 MiB") { image in
            try image.growL1(toCover: 5 << 19)
            try image.setVirtualSize(5 << 19)
        }
        try d.write(tag: 2, at: (2 << 20) + 100, count: 1024)
        try d.flush()
        try d.write(tag: 3, at: 1500, count: 100)
        try d.flush()
    }, missed: { before, after in
        after.header.l1TableOffset == before.l1TableOffset ? "the L1 table did not move" : nil
    })

    /// A qcow2 image over a raw backing file full of tagged data.
    static func overRawBacking(_ dir: ScratchDir, size: Int, clusterSize: Int, tag: UInt8,
                               configure: (inout Qcow2CreateOptions) -> Void = { _ in }) throws -> String {
        let base = dir.file("base.raw"), path = dir.file("start.qcow2")
        try ImageMaker.rawBacking(base, size: size, tag: tag)
        try ImageMaker.qcow2(path, size: size, clusterSize: clusterSize) {
            $0.backingFile = base; $0.backingFormat = "raw"
            configure(&$0)
        }
        return path
    }

    /// A 2.25 MiB image of 512 B clusters whose first `filled` guest bytes hold data, so the
    /// host file is just short of what its first refcount structures can describe.
    static func nearlyFull(_ dir: ScratchDir, refcountBits: Int, filled: Int) throws -> String {
        let path = dir.file("start.qcow2")
        try ImageMaker.qcow2(path, size: 9 << 18, clusterSize: 512) { $0.refcountBits = refcountBits }
        try ImageMaker.fill(path, tag: 0xF0, count: filled)
        return path
    }

    /// 64-bit refcounts at 512 B clusters: one refcount table cluster covers 2 MiB of host
    /// file, so writes past that replace the table (and add blocks on the way).
    static let refcountTableGrowth64 = Workload(name: "refcount-table-growth-64bit", prepare: { dir in
        try nearlyFull(dir, refcountBits: 64, filled: (15 << 17) - (32 << 10))
    }, run: { d in
        let base = (15 << 17) - (32 << 10)
        try d.write(tag: 1, at: base, count: 48 << 10)
        try d.flush()
        try d.write(tag: 2, at: base + (48 << 10), count: 64 << 10)
        try d.flush()
        try d.write(tag: 3, at: 100, count: 300)
        try d.flush()
    }, missed: { before, after in
        after.header.refcountTableOffset == before.refcountTableOffset ? "the refcount table did not grow" : nil
    })

    /// 1-bit refcounts at 512 B clusters: one refcount block covers 2 MiB, so the writes
    /// create new refcount blocks; discards and rewrites flip bits both ways.
    static let refcountBlocks1Bit = Workload(name: "refcount-blocks-1bit", prepare: { dir in
        try nearlyFull(dir, refcountBits: 1, filled: (15 << 17) - (16 << 10))
    }, run: { d in
        let base = (15 << 17) - (16 << 10)
        try d.write(tag: 1, at: base, count: 128 << 10)
        try d.flush()
        try d.discard(at: 64 << 10, count: 8 << 10)
        try d.flush()
        try d.write(tag: 2, at: base + (128 << 10), count: 12 << 10)
        try d.flush()
    }, missed: { _, after in
        after.refcountTableMaxIndex < 1 ? "no second refcount block was created" : nil
    })
}
