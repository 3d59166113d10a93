/// qemu-img amend for qcow2: compat up/downgrade, refcount width, lazy refcounts, size.
/// Everything is validated before the first write; the steps then run in QEMU's order
/// (upgrade, refcount width, lazy refcounts, size, downgrade last so data stays readable).
public struct Qcow2AmendOptions: Sendable {
    public var version: UInt32?
    public var refcountBits: Int?
    public var lazyRefcounts: Bool?
    public var size: UInt64?
    public init() {}
}

extension Qcow2Image {
    public func amend(_ o: Qcow2AmendOptions, progress: ((Double) -> Void)? = nil) throws {
        try requireWritable()
        let newVersion = o.version ?? header.version
        if let bits = o.refcountBits {
            guard bits >= 1, bits <= 64, bits & (bits - 1) == 0 else {
                throw ImageError.invalidArgument("Refcount width must be a power of two and may not exceed 64 bits")
            }
            if newVersion < 3 && bits != 16 {
                throw ImageError.invalidArgument("Refcount widths other than 16 bits require compatibility level 1.1 "
                    + "or above (use compat=1.1 or greater)")
            }
        }
        if o.lazyRefcounts == true && newVersion < 3 {
            throw ImageError.invalidArgument("Lazy refcounts only supported with compatibility level 1.1 and above "
                + "(use compat=1.1 or greater)")
        }
        let downgrade = newVersion < header.version
        if downgrade { try checkDowngradePossible(refcountBits: o.refcountBits ?? header.refcountBits) }

        if newVersion > header.version { try upgradeToV3() }
        if let bits = o.refcountBits, bits != header.refcountBits { try changeRefcountWidth(bits: bits) }
        progress?(0.25)
        if let lazy = o.lazyRefcounts, lazy != lazyRefcounts { try setLazyRefcounts(lazy) }
        if let size = o.size, size != virtualSize { try resize(to: size, allowShrink: true) }
        progress?(0.5)
        if downgrade { try downgradeToV2(progress: progress) }
        progress?(1)
    }

    /// What compat=0.10 cannot hold, refused before anything changes.
    func checkDowngradePossible(refcountBits: Int) throws {
        if refcountBits != 16 { throw ImageError.invalidArgument("compat=0.10 requires refcount_bits=16") }
        let blocking = header.incompatibleFeatures
            & ~(Qcow2Feature.Incompatible.dirty | Qcow2Feature.Incompatible.compressionType)
        if blocking != 0 {
            throw ImageError.invalidArgument("Cannot downgrade an image with incompatible features 0x\(String(blocking, radix: 16)) set")
        }
        if extensions.contains(where: { $0.type == HeaderExtension.bitmaps }) {
            throw ImageError.invalidArgument("Cannot downgrade an image with persistent bitmaps")
        }
        if compressionType != .zlib, try hasCompressedClusters() {
            throw ImageError.invalidArgument("Cannot downgrade an image with \(compressionType.name)-compressed clusters "
                + "(compat=0.10 only knows zlib); convert it instead")
        }
    }

    func allL1Tables() throws -> [(table: [UInt64], offset: UInt64, structure: String)] {
        var tables = [(l1, header.l1TableOffset, "L1 table")]
        for s in snapshots {
            let name = "snapshot '\(s.name)' L1 table"
            tables.append((try readL1Table(offset: s.l1TableOffset, count: Int(s.l1Size), structure: name), s.l1TableOffset, name))
        }
        return tables
    }

    func hasCompressedClusters() throws -> Bool {
        try flush()
        var done = Set<UInt64>()
        for t in try allL1Tables() {
            for (i, e) in t.table.enumerated() {
                guard let l2 = try l2Offset(inL1Entry: e, index: i, structure: t.structure, l1Offset: t.offset),
                      done.insert(l2).inserted else { continue }
                let bytes = try l2TableBytes(at: l2)
                for j in 0..<l2Entries where (bytes.be(UInt64.self, at: j * l2EntrySize) ?? 0) & EntryBits.compressed != 0 {
                    return true
                }
            }
        }
        return false
    }

    /// compat=1.1: v3 header (with the feature-name table); snapshots get the extra data v3
    /// requires (the disk size) in a rewritten table before the header names version 3.
    func upgradeToV3() throws {
        try flush()
        if snapshots.contains(where: { $0.extraData.count < 16 }) {
            try writeSnapshotTable(snapshots.map { s in
                var s = s
                var extra = s.extraData
                if extra.count < 24 { extra += [UInt8](repeating: 0, count: 24 - extra.count) }
                if s.extraData.count < 8 { extra.setBE(UInt64(s.vmStateSize), at: 0) }
                if s.extraData.count < 16 { extra.setBE(virtualSize, at: 8) }
                if s.extraData.count < 24 { extra.setBE(UInt64.max, at: 16) }
                s.extraData = extra
                return s
            })
        }
        var h = header
        h.version = 3
        h.headerLength = UInt32(Qcow2Header.currentV3Length)
        h.unknownTail = [UInt8](repeating: 0, count: Qcow2Header.currentV3Length - 105)
        h.incompatibleFeatures = 0
        h.compatibleFeatures = 0
        h.autoclearFeatures = 0
        h.refcountOrder = 4
        h.compressionType = 0
        var exts = extensions
        if !exts.contains(where: { $0.type == HeaderExtension.featureNameTable }) {
            let at = (exts.firstIndex { $0.type == HeaderExtension.backingFormat }).map { $0 + 1 } ?? 0
            exts.insert(HeaderExtension.featureNameTable(HeaderExtension.defaultFeatureNames), at: at)
        }
        try replaceHeader(h, extensions: exts)
    }

    /// Writes a new first cluster; the in-memory header changes only once it is on disk.
    func replaceHeader(_ h: Qcow2Header, extensions exts: [HeaderExtension]) throws {
        let savedHeader = header, savedExtensions = extensions
        header = h
        extensions = exts
        do { try rewriteHeader() } catch {
            header = savedHeader
            extensions = savedExtensions
            throw error
        }
    }

    func setLazyRefcounts(_ on: Bool) throws {
        try flush()
        var h = header
        if on {
            h.compatibleFeatures |= Qcow2Feature.Compatible.lazyRefcounts
        } else {
            // Refcounts are exact after the flush: the image is clean without the dirty bit.
            h.compatibleFeatures &= ~Qcow2Feature.Compatible.lazyRefcounts
            h.incompatibleFeatures &= ~Qcow2Feature.Incompatible.dirty
            dirtyBitSet = false
        }
        try replaceHeader(h, extensions: extensions)
    }

    /// compat=0.10: zero clusters (a v3 feature) are expanded in every L1 table, then the
    /// header is rewritten as version 2 without the v3 fields and the feature-name table.
    func downgradeToV2(progress: ((Double) -> Void)?) throws {
        try flush()
        l2Cache.invalidateAll()
        let tables = try allL1Tables()
        var done = Set<UInt64>()
        for (k, t) in tables.enumerated() {
            for (i, e) in t.table.enumerated() {
                guard let l2 = try l2Offset(inL1Entry: e, index: i, structure: t.structure, l1Offset: t.offset),
                      done.insert(l2).inserted else { continue }
                try expandZeroClusters(inL2At: l2)
            }
            progress?(0.5 + 0.5 * Double(k + 1) / Double(tables.count))
        }
        l2Cache.invalidateAll()
        var h = header
        h.version = 2
        h.headerLength = UInt32(Qcow2Header.v2Length)
        h.unknownTail = []
        h.incompatibleFeatures = 0
        h.compatibleFeatures = 0
        h.autoclearFeatures = 0
        h.compressionType = 0
        try replaceHeader(h, extensions: extensions.filter { $0.type != HeaderExtension.featureNameTable })
        dirtyBitSet = false
        compressionType = .zlib
    }

    /// Rewrites one L2 table without zero clusters: plain zero entries become unallocated
    /// (no backing file) or point at a new zeroed cluster; allocated zero entries get their
    /// cluster zeroed. New clusters are counted once per L1 table sharing the L2 table, and
    /// their refcounts and contents are on disk before the table points at them.
    func expandZeroClusters(inL2At l2: UInt64) throws {
        var bytes = try file.read(count: clusterSize, at: l2)
        let l2Refcount = try refcount(ofCluster: clusterIndex(l2))
        let hasBacking = !(backingFileName ?? "").isEmpty
        let zeroes = [UInt8](repeating: 0, count: clusterSize)
        var changed = false
        for j in 0..<l2Entries {
            guard let entry = bytes.be(UInt64.self, at: j * l2EntrySize) else { continue }
            switch codec.kind(entry) {
            case .zeroPlain:
                if hasBacking {
                    let host = try allocateClusters(1)
                    if l2Refcount > 1 { try updateRefcounts(first: clusterIndex(host), count: 1, delta: Int64(l2Refcount - 1)) }
                    try writeData(zeroes, at: host)
                    bytes.setBE(host | (l2Refcount == 1 ? EntryBits.copied : 0), at: j * l2EntrySize)
                } else {
                    bytes.setBE(UInt64(0), at: j * l2EntrySize)
                }
                changed = true
            case .zeroAllocated(let h):
                try writeData(zeroes, at: h)
                bytes.setBE(entry & ~EntryBits.zero, at: j * l2EntrySize)
                changed = true
            default:
                break
            }
        }
        guard changed else { return }
        try flushRefcountBlocks()
        try file.sync()
        try writeMetadata(bytes, at: l2, ignoring: [.activeL2, .inactiveL2])
        try file.sync()
    }
}
