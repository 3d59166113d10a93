/// Compressed cluster writes, one whole cluster at a time, packed into host clusters the
/// way QEMU packs them: each compressed cluster adds one reference to every host cluster
/// its bytes touch.
extension Qcow2Image {
    /// Writes one guest cluster compressed (the image's last cluster may be short). Data
    /// that does not shrink is stored uncompressed, as QEMU does. Only unallocated or zero
    /// clusters can be written compressed.
    public func writeCompressed(_ data: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try requireWritable()
        try checkRange(offset, data.count)
        guard offsetInCluster(offset) == 0,
              data.count == clusterSize || offset + UInt64(data.count) == virtualSize else {
            throw ImageError.invalidArgument("'\(filename)': compressed writes must cover one whole cluster "
                + "(offset \(offset), length \(data.count), cluster size \(clusterSize))")
        }
        try markDirtyIfLazy()
        var full = [UInt8](repeating: 0, count: clusterSize)
        full.withUnsafeMutableBytes { UnsafeMutableRawBufferPointer(rebasing: $0[0..<data.count]).copyMemory(from: data) }
        let compressed = full.withUnsafeBytes {
            ClusterCompression.compress($0, type: compressionType, limit: clusterSize - 1)
        }
        guard let compressed else {
            try write(data, at: offset)
            return
        }
        let (entry, _) = try lookup(offset)
        guard entry & (EntryBits.offsetMask | EntryBits.compressed) == 0 else {
            throw ImageError.invalidArgument("'\(filename)': cannot write a compressed cluster over allocated "
                + "data at guest offset \(offset)")
        }
        let (l1Index, l2Index) = l2Position(offset)
        _ = try writableL2Slot(l1Index: l1Index)
        let host = try allocateCompressedBytes(compressed.count)
        try writeData(compressed, at: host)
        let slot = try writableL2Slot(l1Index: l1Index)
        setL2Entry(slot: slot, index: l2Index, entry: codec.compressedEntry(host: host, size: compressed.count), bitmap: 0)
    }

    /// Finds `size` bytes for compressed data, continuing in the last partly used cluster
    /// when the data fits there or the clusters after it can be allocated contiguously.
    func allocateCompressedBytes(_ size: Int) throws -> UInt64 {
        let cs = UInt64(clusterSize)
        if freeByteOffset != 0 {
            // Freed meanwhile, or as shared as the refcount width allows (QEMU starts a new
            // cluster then too): no more packing into it.
            let shared = try refcount(ofCluster: clusterIndex(freeByteOffset))
            if shared == 0 || shared >= refcountWidth.maxValue { freeByteOffset = 0 }
        }
        if freeByteOffset != 0 {
            let start = freeByteOffset
            let room = cs - (start % cs)
            if UInt64(size) <= room {
                try updateRefcounts(first: clusterIndex(start), count: 1, delta: 1)
            } else {
                let extra = (UInt64(size) - room + cs - 1) / cs
                let next = try allocateClusters(extra)
                if next != alignUp(start, cs) {
                    // Not contiguous: give the clusters back (nothing points at them yet).
                    try updateRefcounts(first: clusterIndex(next), count: extra, delta: -1)
                    freeByteOffset = 0
                    return try allocateCompressedBytes(size)
                }
                try updateRefcounts(first: clusterIndex(start), count: 1, delta: 1)
            }
            freeByteOffset = (start + UInt64(size)) % cs == 0 ? 0 : start + UInt64(size)
            return start
        }
        let n = (UInt64(size) + cs - 1) / cs
        let start = try allocateClusters(n)
        freeByteOffset = (start + UInt64(size)) % cs == 0 ? 0 : start + UInt64(size)
        return start
    }
}
