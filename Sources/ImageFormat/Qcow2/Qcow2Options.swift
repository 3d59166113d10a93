/// Run-time options for an open qcow2 image, as QEMU's driver options.
public struct Qcow2OpenOptions: Sendable {
    public var writable = false
    /// Bytes of L2 tables cached; nil picks the default (enough for 256 GiB at 64 KiB clusters).
    public var l2CacheSize: Int?
    public var refcountCacheSize: Int?
    public var overlapCheck: OverlapCheckPolicy = .cached
    /// Benchmark-only: scan the whole refcount table in the refcount-block overlap check
    /// instead of stopping at the last used entry (QEMU's behaviour before 2017).
    public var overlapFullTableScan = false
    /// Open the backing chain too (off for tools that only look at one layer).
    public var openBacking = true
    /// Ignore other processes' locks for read-only access (-U).
    public var forceShare = false
    public var lock = true

    public init() {}

    public static let defaultL2CacheBytes = 32 << 20
}
