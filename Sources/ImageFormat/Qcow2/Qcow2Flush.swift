/// Flush and close: the order in which cached metadata reaches the disk.
extension Qcow2Image {
    /// Refcount blocks, sync, L2 tables, sync; then the deferred refcount decrements of
    /// clusters the written tables no longer reference, and a final sync.
    public func flush() throws {
        guard options.writable, !closed, !markedCorrupt else { return }
        try flushRefcountsForDependency()
        for slot in l2Cache.dirtySlots() { try writeBackL2(slot) }
        try file.sync()
        if !pendingFrees.isEmpty {
            try applyPendingFrees()
            try flushRefcountBlocks()
            try file.sync()
        }
    }

    public func close() throws {
        guard !closed else { return }
        defer {
            closed = true
            file.closeDescriptor()
        }
        if options.writable && !markedCorrupt {
            try flush()
            if dirtyBitSet {
                try setIncompatibleFeatures(header.incompatibleFeatures & ~Qcow2Feature.Incompatible.dirty)
                dirtyBitSet = false
            }
        }
        try backing?.close()
    }

    /// Rewrites the whole first cluster: header, extensions (unknown ones kept in order),
    /// backing file name. Used when a field outside the in-place ones changes.
    package func rewriteHeader() throws {
        let area = try Qcow2Image.headerCluster(header: &header, extensions: extensions,
                                                backingName: backingFileName, clusterSize: clusterSize, path: filename)
        try writeMetadata(area, at: 0, ignoring: [.mainHeader])
        try file.sync()
    }

    /// Serializes header + extensions + backing name into one cluster, fixing up the
    /// backing-name offset and size fields.
    static func headerCluster(header: inout Qcow2Header, extensions: [HeaderExtension], backingName: String?,
                              clusterSize: Int, path: String) throws -> [UInt8] {
        var exts = HeaderExtension.serializeAll(extensions)
        if header.version == 2 && extensions.isEmpty { exts = [] }
        let headerLen = header.version == 2 ? Qcow2Header.v2Length : Int(header.headerLength)
        let name = Array((backingName ?? "").utf8)
        let nameOffset = headerLen + exts.count
        if let backingName, !backingName.isEmpty {
            header.backingFileOffset = UInt64(nameOffset)
            header.backingFileSize = UInt32(name.count)
        } else {
            header.backingFileOffset = 0
            header.backingFileSize = 0
        }
        if nameOffset + name.count > clusterSize,
           extensions.contains(where: { $0.type == HeaderExtension.featureNameTable }) {
            // The feature-name table is optional: QEMU leaves it out when it does not fit
            // (512-byte clusters with a backing file).
            return try headerCluster(header: &header, extensions: extensions.filter { $0.type != HeaderExtension.featureNameTable },
                                     backingName: backingName, clusterSize: clusterSize, path: path)
        }
        guard nameOffset + name.count <= clusterSize else {
            throw ImageError.invalidArgument("'\(path)': header, extensions and backing file name do not fit in one cluster")
        }
        var area = header.serialize() + exts + name
        area += [UInt8](repeating: 0, count: clusterSize - area.count)
        return area
    }

    /// A dirty image (lazy refcounts, not closed cleanly) has refcounts that may be too low;
    /// QEMU repairs it on a read-write open. The recount lives in the repair engine, which
    /// installs itself here.
    func repairAfterUncleanShutdown() throws {
        guard let handler = Qcow2Image.dirtyImageRepair else {
            throw ImageError.markedCorrupt(path: filename,
                detail: "image is dirty (lazy refcounts, not closed cleanly); run 'img check -r all' first")
        }
        try handler(self)
    }

    nonisolated(unsafe) public static var dirtyImageRepair: ((Qcow2Image) throws -> Void)?

    /// Deinit cannot throw; an image dropped without close() is flushed best-effort.
    func closeQuietly() { try? close() }
}
