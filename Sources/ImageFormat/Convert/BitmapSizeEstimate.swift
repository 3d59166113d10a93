extension SizeEstimate {
    /// Bytes a source's persistent bitmaps take in a new qcow2 image, counted as qemu-img
    /// measure counts them: each bitmap fully allocated, its table of 8-byte entries rounded
    /// up to clusters, and the whole directory rounded up to clusters.
    public static func qcow2BitmapBytes(_ bitmaps: [Qcow2BitmapEntry], virtualSize: UInt64, clusterSize: Int) -> UInt64 {
        guard !bitmaps.isEmpty else { return 0 }
        let cs = UInt64(clusterSize)
        func roundUp(_ v: UInt64) -> UInt64 { (v + cs - 1) / cs * cs }
        var total: UInt64 = 0
        var directory: UInt64 = 0
        for bitmap in bitmaps {
            let granularity = UInt64(1) << UInt64(bitmap.granularityBits)
            let bits = (virtualSize + granularity - 1) / granularity
            let clusters = roundUp((bits + 7) / 8) / cs
            total += clusters * cs + roundUp(clusters * 8)
            directory += (24 + UInt64(bitmap.name.utf8.count) + 7) / 8 * 8
        }
        return total + roundUp(directory)
    }
}
