/// Run-time options for an open qcow2 image, as QEMU's driver options.
public enum OverlapScan: String, Sendable {
    /// O(1) per cluster through the metadata index.
    case index
    /// QEMU since 2017: walk active L1 entries, refcount-table entries up to the last used
    /// one, and read inactive L2 tables from disk.
    case lastUsed = "last-used"
    /// QEMU before 2017: as lastUsed, but walk the whole refcount table.
    case fullTable = "full-table"
}

public struct Qcow2OpenOptions: Sendable {
    public var writable = false
    /// Bytes of L2 tables cached; nil picks the default (enough for 256 GiB at 64 KiB clusters).
    public var l2CacheSize: Int?
    public var refcountCacheSize: Int?
    public var overlapCheck: OverlapCheckPolicy = .cached
    /// How the overlap checks find L2 tables and refcount blocks. `.index` (the default) is
    /// img's hash lookup; the scans reproduce QEMU for benchmarks only.
    public var overlapScan: OverlapScan = .index
    /// Open the backing chain too (off for tools that only look at one layer).
    public var openBacking = true
    /// Ignore other processes' locks for read-only access (-U).
    public var forceShare = false
    public var lock = true

    public init() {}

    public static let defaultL2CacheBytes = 32 << 20
}
