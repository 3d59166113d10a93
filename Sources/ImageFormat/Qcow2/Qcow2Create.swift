/// Creation options for a new qcow2 image, with qemu-img's names and defaults.
public struct Qcow2CreateOptions: Sendable {
    public enum Preallocation: String, Sendable { case off, metadata, falloc, full }

    public var size: UInt64 = 0
    public var version: UInt32 = 3
    public var clusterSize = 65536
    public var refcountBits = 16
    public var lazyRefcounts = false
    public var compressionType: Qcow2Feature.CompressionType = .zlib
    public var preallocation: Preallocation = .off
    public var extendedL2 = false
    public var backingFile: String?
    public var backingFormat: String?

    public init() {}

    /// qemu-img's checks and messages for option combinations.
    public func validate() throws {
        func fail(_ m: String) -> ImageError { .invalidArgument(m) }
        guard clusterSize >= 512, clusterSize <= 2 << 20, clusterSize & (clusterSize - 1) == 0 else {
            throw fail("Cluster size must be a power of two between 512 and 2048k")
        }
        guard refcountBits >= 1, refcountBits <= 64, refcountBits & (refcountBits - 1) == 0 else {
            throw fail("Refcount width must be a power of two and may not exceed 64 bits")
        }
        if version < 3 {
            if refcountBits != 16 {
                throw fail("Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or greater)")
            }
            if lazyRefcounts {
                throw fail("Lazy refcounts only supported with compatibility level 1.1 and above (use version=v3 or greater)")
            }
            if extendedL2 {
                throw fail("Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)")
            }
            if compressionType != .zlib {
                throw fail("Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 or greater)")
            }
        }
        if extendedL2 && clusterSize < 16384 {
            throw fail("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes")
        }
        if backingFile != nil && preallocation != .off && !extendedL2 {
            throw fail("Backing file and preallocation can only be used at the same time if extended_l2 is on")
        }
        if backingFormat != nil && backingFile == nil {
            throw fail("Backing format cannot be used without backing file")
        }
    }
}

extension Qcow2Image {
    /// Creates a qcow2 image as qemu-img lays it out: header, refcount table, one refcount
    /// block, then the L1 table (allocated through the normal allocator so any size works).
    public static func create(path: String, options: Qcow2CreateOptions) throws {
        try options.validate()
        let clusterBits = UInt32(options.clusterSize.trailingZeroBitCount)
        let cs = UInt64(options.clusterSize)
        var header = Qcow2Header(version: options.version, clusterBits: clusterBits, size: 0)
        header.refcountOrder = UInt32(options.refcountBits.trailingZeroBitCount)
        header.refcountTableOffset = cs
        header.refcountTableClusters = 1
        if options.version >= 3 {
            if options.lazyRefcounts { header.compatibleFeatures |= Qcow2Feature.Compatible.lazyRefcounts }
            if options.extendedL2 { header.incompatibleFeatures |= Qcow2Feature.Incompatible.extendedL2 }
            if options.compressionType != .zlib {
                header.incompatibleFeatures |= Qcow2Feature.Incompatible.compressionType
                header.compressionType = options.compressionType.rawValue
            }
        }
        var extensions: [HeaderExtension] = []
        if let fmt = options.backingFormat {
            extensions.append(HeaderExtension(type: HeaderExtension.backingFormat, data: Array(fmt.utf8)))
        }
        // qemu-img 7.2 writes the feature-name table into new v3 images with clusters of
        // 8 KiB and more (measured), and new images here match its bytes.
        if options.version >= 3 && options.clusterSize >= 8192 {
            extensions.append(HeaderExtension.featureNameTable(HeaderExtension.defaultFeatureNames))
        }
        let area = try headerCluster(header: &header, extensions: extensions, backingName: options.backingFile,
                                     clusterSize: options.clusterSize, path: path)

        let file = try HostFile(path: path, mode: .create)
        try ImageLock.acquire(file, use: ImageLock.writer.use, share: ImageLock.writer.share)
        try file.truncate(to: 0)
        try file.write(area, at: 0)
        var table = [UInt8](repeating: 0, count: options.clusterSize)
        table.setBE(2 * cs, at: 0)
        try file.write(table, at: cs)
        var block = [UInt8](repeating: 0, count: options.clusterSize)
        let width = RefcountWidth(order: Int(header.refcountOrder))
        block.withUnsafeMutableBytes { for c in 0..<3 { width.set($0, c, 1) } }
        try file.write(block, at: 2 * cs)
        try file.sync()

        var openOptions = Qcow2OpenOptions()
        openOptions.writable = true
        openOptions.lock = false
        openOptions.openBacking = false
        let image = Qcow2Image(file: file, header: header, extensions: extensions, backingFileName: options.backingFile,
                               snapshots: [], l1: [], refcountTable: [2 * cs] + [UInt64](repeating: 0, count: Int(cs / 8) - 1),
                               options: openOptions)
        image.freeClusterHint = 3
        try image.growL1(toCover: options.size)
        try image.setVirtualSize(options.size)
        if options.preallocation != .off {
            try image.preallocate(options.preallocation)
        }
        try image.close()
    }

    /// Replaces the L1 table by one large enough for `size` guest bytes (never shrinks):
    /// new table written and synced, header switched, old table freed.
    package func growL1(toCover size: UInt64) throws {
        let needed = l1EntriesNeeded(for: size)
        guard needed > UInt64(l1.count) else { return }
        guard needed * 8 <= Limits.maxL1Bytes else {
            throw ImageError.invalidArgument("'\(filename)': L1 table would exceed \(Limits.maxL1Bytes) bytes for size \(size)")
        }
        let bytes = needed * 8
        let clusters = (bytes + UInt64(clusterSize) - 1) / UInt64(clusterSize)
        let newOffset = try allocateClusters(clusters)
        var table = [UInt8](repeating: 0, count: Int(bytes))
        for (i, e) in l1.enumerated() { table.setBE(e, at: i * 8) }
        try flushRefcountsForDependency()
        try writeMetadata(table, at: newOffset, ignoring: [.activeL1])
        try file.sync()
        var field = [UInt8](repeating: 0, count: 12)
        field.setBE(UInt32(needed), at: 0)
        field.setBE(newOffset, at: 4)
        let oldOffset = header.l1TableOffset, oldClusters = alignUp(UInt64(l1.count) * 8, UInt64(clusterSize)) / UInt64(clusterSize)
        try writeMetadata(field, at: HeaderField.l1Size, ignoring: [.mainHeader])
        // Written is what the file now says (a failed sync does not undo it): memory follows
        // before the sync, so later writes never go to the table the header left.
        header.l1Size = UInt32(needed)
        header.l1TableOffset = newOffset
        l1 += [UInt64](repeating: 0, count: Int(needed) - l1.count)
        try file.sync()
        if oldOffset != 0 && oldClusters > 0 {
            try updateRefcounts(first: clusterIndex(oldOffset), count: oldClusters, delta: -1)
        }
    }

    package func setVirtualSize(_ size: UInt64) throws {
        try writeMetadataField(size, at: 24, ignoring: [.mainHeader])
        header.size = size
    }

    /// preallocation=metadata/falloc/full: every guest cluster gets a host cluster and a
    /// normal L2 entry; falloc and full also reserve or zero the host space.
    func preallocate(_ mode: Qcow2CreateOptions.Preallocation) throws {
        let clusters = (virtualSize + UInt64(clusterSize) - 1) / UInt64(clusterSize)
        var guest: UInt64 = 0
        var dataEnd: UInt64 = 0
        while guest < clusters {
            let l1Index = Int(guest / UInt64(l2Entries))
            let inTable = min(UInt64(l2Entries) - guest % UInt64(l2Entries), clusters - guest)
            _ = try writableL2Slot(l1Index: l1Index)
            let host = try allocateClusters(inTable)
            let slot = try writableL2Slot(l1Index: l1Index)
            for i in 0..<inTable {
                setL2Entry(slot: slot, index: Int((guest + i) % UInt64(l2Entries)),
                           entry: (host + i * UInt64(clusterSize)) | EntryBits.copied,
                           bitmap: 0)
            }
            let length = inTable * UInt64(clusterSize)
            switch mode {
            case .full: try file.writeZeroes(offset: host, length: length)
            case .falloc: try file.allocate(offset: host, length: length)
            default: break
            }
            guest += inTable
            dataEnd = max(dataEnd, host + length)
        }
        try flush()
        // The file reaches the end of the last data cluster, as QEMU leaves it.
        if try file.size() < dataEnd { try file.truncate(to: dataEnd) }
    }
}
