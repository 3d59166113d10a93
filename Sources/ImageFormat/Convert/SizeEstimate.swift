/// How large a new image will be (qemu-img measure): the file size with every cluster
/// allocated, and the size needed to hold a given source's data. The arithmetic follows
/// QEMU's documented behaviour: metadata for the fully allocated image is always counted,
/// data only for source clusters that hold data.
public enum SizeEstimate {
    /// A qcow2 image's size with all `virtualSize` bytes allocated: header cluster, L2
    /// tables, L1 table (whole clusters of entries), refcount table and blocks covering
    /// everything including themselves, and the data.
    public static func qcow2FullyAllocated(virtualSize: UInt64, clusterSize: Int, refcountBits: Int,
                                           extendedL2: Bool) -> UInt64 {
        let cs = UInt64(clusterSize)
        let entrySize: UInt64 = extendedL2 ? 16 : 8
        let data = roundUp(virtualSize, cs)
        var meta = cs
        let l2Entries = roundUp(data / cs, cs / entrySize)
        meta += l2Entries * entrySize
        let l1Entries = roundUp(l2Entries * entrySize / cs, cs / 8)
        meta += l1Entries * 8
        meta += refcountMetadata(clusters: (meta + data) / cs, clusterSize: cs, refcountBits: UInt64(refcountBits))
        return meta + data
    }

    /// Bytes of refcount blocks and refcount table needed to count `clusters` clusters
    /// plus the refcount structures themselves (a fixed point).
    static func refcountMetadata(clusters: UInt64, clusterSize cs: UInt64, refcountBits: UInt64) -> UInt64 {
        let perBlock = cs * 8 / refcountBits
        let perTableCluster = cs / 8
        var blocks: UInt64 = 0, table: UInt64 = 0, n: UInt64 = 0, last: UInt64
        repeat {
            last = n
            blocks = divRoundUp(clusters + table + blocks, perBlock)
            table = divRoundUp(blocks, perTableCluster)
            n = clusters + blocks + table
        } while n != last
        return (blocks + table) * cs
    }

    /// Bytes of data clusters a qcow2 copy of `source` needs: every cluster the source has
    /// data in (through its backing chain); zero and unallocated ranges need none. Like
    /// QEMU, holes of the host file count as zero on an image that looks preallocated.
    public static func qcow2DataBytes(source: BlockDevice, clusterSize: Int) throws -> UInt64 {
        let cs = UInt64(clusterSize)
        let size = source.virtualSize
        var required: UInt64 = 0
        var offset: UInt64 = 0
        let step: UInt64 = 1 << 30
        let view = try QemuBlockStatus(source)
        while offset < size {
            let windowEnd = min(size, offset + step)
            for e in try view.extents(at: offset, length: windowEnd - offset) {
                let end = e.start + e.length
                if end <= offset { continue }
                let start = max(e.start, offset)
                if e.zero || !(e.present && e.data) {
                    offset = end
                    continue
                }
                // A data run counts whole clusters, up to the end of its last cluster.
                let runEnd = roundUp(end, cs)
                required += start % cs + (runEnd - start)
                offset = runEnd
                if runEnd >= windowEnd { break }
            }
        }
        return required
    }

    static func roundUp(_ v: UInt64, _ a: UInt64) -> UInt64 { (v + a - 1) / a * a }
    static func divRoundUp(_ v: UInt64, _ a: UInt64) -> UInt64 { (v + a - 1) / a }
}
