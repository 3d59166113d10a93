/// Split writes for bulk copiers (img convert): the calling thread allocates host clusters
/// and links them in guest order, which fixes every byte of the output, while the data
/// itself is written later, by other threads, in parallel.
///
/// Ordering: unlike `write`, the L2 entries point at the clusters before their data is on
/// disk. The caller must write every reserved run before the next `flush`; until then a
/// crash (or an L2 table leaving the cache) can expose clusters that read garbage, which a
/// conversion accepts because it removes an unfinished target.
extension Qcow2Image {
    /// Reserves host clusters for up to `limit` whole guest clusters from the cluster-aligned
    /// `offset` that need new ones, and points the L2 entries at them. Returns the host
    /// offset and cluster count of the run, or nil when the first cluster needs the normal
    /// write path (already allocated and owned, so written in place).
    package func reserveFreshClusters(at offset: UInt64, limit: Int) throws -> (host: UInt64, count: Int)? {
        try requireWritable()
        guard offsetInCluster(offset) == 0, limit > 0 else { return nil }
        try checkRange(offset, limit * clusterSize)
        try markDirtyIfLazy()
        let n = try freshClusterCount(at: offset, limit: limit)
        guard n > 0 else { return nil }
        let host = try allocateClusters(UInt64(n))
        let length = UInt64(n * clusterSize)
        try preventOverlap(offset: host, length: length, ignoring: [])
        // The file counts as grown now, as if the data were written: later allocation
        // decisions that look at the file size must not depend on when the data threads get
        // to it. (Not an ftruncate: that would wait on the inode lock the data writes hold.)
        reservedEnd = max(reservedEnd, host + length)
        unsyncedPointees = true
        try linkFreshClusters(at: offset, host: host, count: n)
        return (host, n)
    }

    /// Writes data into clusters `reserveFreshClusters` handed out. Safe on any thread
    /// (one positioned host write, no image state touched).
    package func writeReserved(_ data: UnsafeRawBufferPointer, at host: UInt64) throws {
        try file.write(data, at: host)
    }
}
