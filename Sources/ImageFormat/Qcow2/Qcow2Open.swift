/// Opening a qcow2 image: every field and table location read from the file is checked
/// against QEMU's limits before anything is allocated from it.
extension Qcow2Image {
    /// Limits QEMU enforces on open (block/qcow2.h).
    public enum Limits {
        public static let minClusterBits: UInt32 = 9
        public static let maxClusterBits: UInt32 = 21
        public static let maxL1Bytes: UInt64 = 32 << 20
        public static let maxRefcountTableBytes: UInt64 = 8 << 20
        public static let maxBackingNameLength: UInt32 = 1023
        /// Virtual sizes past this overflow the offset arithmetic (QEMU: INT64_MAX / 2 ish).
        public static let maxVirtualSize: UInt64 = 1 << 62
    }

    public static func open(path: String, options: Qcow2OpenOptions = Qcow2OpenOptions(),
                            chain: Set<String> = []) throws -> Qcow2Image {
        let file = try HostFile(path: path, mode: options.writable ? .readWrite : .readOnly)
        if options.lock {
            let perms = options.writable ? ImageLock.writer : (options.forceShare ? ImageLock.sharedReader : ImageLock.reader)
            try ImageLock.acquire(file, use: perms.use, share: perms.share)
        }
        let fileSize = try file.size()
        let first = try file.read(count: Int(min(fileSize, 1 << Limits.maxClusterBits)), at: 0)
        let header = try Qcow2Header.parse(first, path: path)
        func bad(_ structure: String, _ offset: UInt64, _ detail: String) -> ImageError {
            .corrupt(path: path, structure: structure, offset: offset, detail: detail)
        }

        guard header.clusterBits >= Limits.minClusterBits, header.clusterBits <= Limits.maxClusterBits else {
            throw bad("qcow2 header", 20, "Unsupported cluster size: 2^\(header.clusterBits) (must be 2^9 to 2^21)")
        }
        let clusterSize = UInt64(header.clusterSize)
        guard UInt64(header.headerLength) <= clusterSize else {
            throw bad("qcow2 header", 100, "qcow2 header exceeds cluster size")
        }
        guard header.refcountOrder <= 6 else {
            throw bad("qcow2 header", 96, "Reference count entry width too large; may not exceed 64 bits")
        }
        let unknown = header.incompatibleFeatures & ~Qcow2Feature.Incompatible.supported
        guard header.cryptMethod == 0 else {
            throw ImageError.unsupported(path: path, feature: "encryption (crypt_method \(header.cryptMethod))")
        }
        guard header.size <= Limits.maxVirtualSize else {
            throw bad("qcow2 header", 24, "Image is too big: virtual size \(header.size)")
        }
        if header.version >= 3 {
            let hasBit = header.incompatibleFeatures & Qcow2Feature.Incompatible.compressionType != 0
            if header.compressionType > 1 {
                throw ImageError.unsupported(path: path, feature: "compression type \(header.compressionType)")
            }
            if header.compressionType != 0 && !hasBit {
                throw bad("qcow2 header", 104, "Compression type incompatible feature bit must be set")
            }
            if header.compressionType == 0 && hasBit {
                throw bad("qcow2 header", 72, "Compression type incompatible feature bit must not be set")
            }
            if header.incompatibleFeatures & Qcow2Feature.Incompatible.extendedL2 != 0 && header.clusterBits < 14 {
                throw bad("qcow2 header", 72,
                          "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes")
            }
        }

        // Header extensions and the backing file name, both inside the first cluster.
        let headerEnd = Int(header.headerLength)
        var extLimit = Int(min(clusterSize, UInt64(first.count)))
        var backingName: String?
        if header.backingFileOffset != 0 {
            guard header.backingFileOffset <= clusterSize else {
                throw bad("qcow2 header", 8, "Invalid backing file offset \(header.backingFileOffset)")
            }
            let off = Int(header.backingFileOffset)
            guard header.backingFileSize <= Limits.maxBackingNameLength,
                  UInt64(header.backingFileSize) <= clusterSize - UInt64(off),
                  off + Int(header.backingFileSize) <= first.count else {
                throw bad("qcow2 header", 16, "Backing file name too long (\(header.backingFileSize) bytes)")
            }
            backingName = String(decoding: first[off..<off + Int(header.backingFileSize)], as: UTF8.self)
            if off >= headerEnd { extLimit = min(extLimit, off) }
        }
        let extensions = headerEnd + 8 <= extLimit
            ? try HeaderExtension.parseAll(first, start: headerEnd, limit: extLimit, path: path) : []
        if unknown != 0 {
            let table = extensions.first { $0.type == HeaderExtension.featureNameTable }?.featureNames() ?? []
            throw ImageError.unsupported(path: path, feature: "Unsupported qcow2 feature(s): "
                + Qcow2Feature.describeUnsupported(unknown, table: table))
        }
        if options.writable && header.incompatibleFeatures & Qcow2Feature.Incompatible.corrupt != 0 {
            throw ImageError.markedCorrupt(path: path,
                detail: "qcow2: Image is corrupt; cannot be opened read/write (run 'img check -r all')")
        }

        // Tables: aligned, of bounded size, inside the file.
        func validateTable(_ name: String, field: UInt64, offset: UInt64, bytes: UInt64, max: UInt64) throws {
            guard bytes <= max else { throw bad("qcow2 header", field, "\(name) too large (\(bytes) bytes, limit \(max))") }
            guard offset % clusterSize == 0 else {
                throw bad(name, offset, "Invalid \(name) offset: not aligned to the cluster size")
            }
            guard let end = checkedAdd(offset, bytes), bytes == 0 || end <= fileSize else {
                throw bad(name, offset, "\(name) of \(bytes) bytes lies past the end of the file (\(fileSize) bytes)")
            }
            if bytes > 0 && offset == 0 {
                throw bad(name, offset, "\(name) overlaps the qcow2 header")
            }
        }
        let reftableBytes = UInt64(header.refcountTableClusters) * clusterSize
        try validateTable("refcount table", field: 56, offset: header.refcountTableOffset, bytes: reftableBytes,
                          max: Limits.maxRefcountTableBytes)
        guard reftableBytes > 0 else { throw bad("refcount table", 56, "Image does not contain a reference count table") }
        let l1Bytes = UInt64(header.l1Size) * 8
        try validateTable("L1 table", field: 36, offset: header.l1TableOffset, bytes: l1Bytes, max: Limits.maxL1Bytes)
        let l2Coverage = (clusterSize / (header.incompatibleFeatures & Qcow2Feature.Incompatible.extendedL2 != 0 ? 16 : 8)) * clusterSize
        let l1Needed = (header.size + l2Coverage - 1) / l2Coverage
        guard UInt64(header.l1Size) >= l1Needed else {
            throw bad("L1 table", header.l1TableOffset,
                      "L1 table is too small: \(header.l1Size) entries for a virtual size needing \(l1Needed)")
        }
        guard header.snapshotCount <= Qcow2Snapshot.maxCount else {
            throw bad("snapshot table", header.snapshotsOffset, "Too many snapshots (\(header.snapshotCount))")
        }
        if header.snapshotCount > 0 {
            try validateTable("snapshot table", field: 64, offset: header.snapshotsOffset, bytes: 40, max: .max)
        }

        let l1 = try readTable(file, offset: header.l1TableOffset, count: Int(header.l1Size))
        let reftable = try readTable(file, offset: header.refcountTableOffset, count: Int(reftableBytes / 8))
        var snapshots: [Qcow2Snapshot] = []
        if header.snapshotCount > 0 {
            let avail = min(Qcow2Snapshot.maxTableSize, fileSize - header.snapshotsOffset)
            let bytes = try file.read(count: Int(avail), at: header.snapshotsOffset)
            snapshots = try Qcow2Snapshot.parseTable(bytes, count: Int(header.snapshotCount),
                                                     base: header.snapshotsOffset, path: path)
            for (i, s) in snapshots.enumerated() {
                guard UInt64(s.l1Size) * 8 <= Limits.maxL1Bytes else {
                    throw bad("snapshot table entry \(i)", header.snapshotsOffset, "Snapshot L1 table too large")
                }
                guard s.l1TableOffset % clusterSize == 0 else {
                    throw bad("snapshot table entry \(i)", s.l1TableOffset, "Snapshot L1 table offset invalid")
                }
            }
        }

        let image = Qcow2Image(file: file, header: header, extensions: extensions, backingFileName: backingName,
                               snapshots: snapshots, l1: l1, refcountTable: reftable, options: options)
        image.freeClusterHint = 1
        if let name = backingName, options.openBacking, !name.isEmpty {
            image.backing = try openBackingFile(name, format: image.backingFormat, overlay: path, chain: chain,
                                                forceShare: options.forceShare)
        }
        return image
    }

    static func readTable(_ file: HostFile, offset: UInt64, count: Int) throws -> [UInt64] {
        guard count > 0 else { return [] }
        var table = [UInt64](repeating: 0, count: count)
        try table.withUnsafeMutableBytes { try file.read(into: $0, at: offset) }
        for i in 0..<count { table[i] = UInt64(bigEndian: table[i]) }
        return table
    }
}

/// Where a backing file named in an overlay lives: relative names are relative to the
/// overlay's directory, as QEMU resolves them.
public func resolveBackingPath(_ backing: String, relativeTo overlay: String) -> String {
    if backing.hasPrefix("/") { return backing }
    guard let slash = overlay.lastIndex(of: "/") else { return backing }
    return String(overlay[...slash]) + backing
}

func openBackingFile(_ name: String, format: String?, overlay: String, chain: Set<String>,
                     forceShare: Bool) throws -> BlockDevice {
    let path = resolveBackingPath(name, relativeTo: overlay)
    let key = canonicalPath(path)
    var seen = chain
    seen.insert(canonicalPath(overlay))
    guard !seen.contains(key) else {
        throw ImageError.corrupt(path: overlay, structure: "backing file name", offset: 0,
                                 detail: "backing chain loops back to '\(path)'")
    }
    guard seen.count < 256 else {
        throw ImageError.invalidArgument("'\(overlay)': backing chain deeper than 256 images")
    }
    var opts = ImageOpenOptions()
    opts.writable = false
    opts.forceShare = true  // a backing file is only read; do not block other readers
    opts.chain = seen
    do {
        return try openImage(path: path, format: format, options: opts)
    } catch let error as ImageError {
        throw ImageError.invalidArgument("Could not open backing file '\(path)' of '\(overlay)': \(error)")
    }
}
