/// Storing clusters that another thread already compressed. The converter compresses in
/// parallel workers with `ClusterCompression` and hands the bytes to the one thread that
/// owns the image, which places them in guest order so the output never depends on timing.
extension Qcow2Image {
    /// Stores `compressed` (the image's compression type applied to one whole, zero-padded
    /// guest cluster) as the compressed cluster at guest `offset`.
    package func writePrecompressed(_ compressed: [UInt8], at offset: UInt64) throws {
        try requireWritable()
        try checkRange(offset, 1)
        guard offsetInCluster(offset) == 0, !compressed.isEmpty, compressed.count < clusterSize else {
            throw ImageError.invalidArgument("'\(filename)': precompressed cluster at offset \(offset) "
                + "must start a cluster and be shorter than it (\(compressed.count) bytes, cluster size \(clusterSize))")
        }
        try markDirtyIfLazy()
        try storeCompressedCluster(compressed, at: offset)
    }

    /// The guest bytes one allocation decision covers: a subcluster with extended L2
    /// entries, else a cluster.
    package var allocationUnit: Int { extendedL2 ? subclusterSize : clusterSize }
}
