/// A qcow2 image: the read and write paths, refcounts, caches and overlap checks live in
/// extensions of this class, one file per mechanism (Qcow2Open, Qcow2Read, Qcow2Write,
/// Qcow2Refcounts, Qcow2L2Tables, Qcow2Overlap, Qcow2Flush).
public final class Qcow2Image: BlockDevice {
    public let file: HostFile
    public var filename: String { file.path }
    public var formatName: String { "qcow2" }
    public var isWritable: Bool { options.writable && !closed }
    public var virtualSize: UInt64 { header.size }

    public package(set) var header: Qcow2Header
    public package(set) var extensions: [HeaderExtension]
    public package(set) var backingFileName: String?
    public package(set) var backing: BlockDevice?
    public package(set) var snapshots: [Qcow2Snapshot] {
        didSet {
            metadataIndex.inactiveValid = false
            snapshotTableBytes = UInt64(Qcow2Snapshot.tableSize(snapshots))
        }
    }
    /// Bytes of the snapshot table, kept with `snapshots` (read by every overlap check).
    var snapshotTableBytes: UInt64 = 0
    package var options: Qcow2OpenOptions

    let clusterBits: Int
    public let clusterSize: Int
    let extendedL2: Bool
    /// Bytes per L2 entry: 8, or 16 with extended L2 (entry + subcluster bitmap).
    let l2EntrySize: Int
    /// Entries per L2 table.
    let l2Entries: Int
    let subclustersPerCluster: Int
    let subclusterSize: Int
    let codec: L2EntryCodec
    var refcountWidth: RefcountWidth
    var refcountEntriesPerBlock: Int
    public var compressionType: Qcow2Feature.CompressionType

    /// The active L1 table, authoritative in memory; every change is written through.
    /// A change outside `setL1Entry` marks the metadata index's active-L2 part stale.
    package var l1: [UInt64] { didSet { if !indexKeptByCaller { metadataIndex.activeValid = false } } }
    package var refcountTable: [UInt64] {
        didSet { if !indexKeptByCaller { metadataIndex.refcountValid = false; recomputeRefcountTableMaxIndex() } }
    }
    /// Host clusters holding L2 tables and refcount blocks, for O(1) overlap checks.
    package var metadataIndex = MetadataIndex()
    /// Set while a mutation path updates `metadataIndex` itself.
    var indexKeptByCaller = false
    /// Index of the last non-zero refcount-table entry (-1 when none), kept current on every
    /// change of the table so the refcount-block overlap check scans only the used part.
    package var refcountTableMaxIndex = -1

    let l2Cache: MetadataCache
    let refcountCache: MetadataCache
    /// Lowest cluster index that may be free.
    var freeClusterHint: UInt64 = 0
    /// Where multi-cluster searches start: the end of the last such allocation.
    var appendHint: UInt64 = 0
    /// Where the next compressed cluster can be packed, 0 when a new cluster is needed.
    var freeByteOffset: UInt64 = 0
    /// Clusters whose references were dropped but whose refcount decrement must wait until
    /// the tables that dropped them are on disk (a pointer goes before its refcount drops).
    var pendingFrees: [(offset: UInt64, count: UInt64)] = []
    var dirtyBitSet = false
    /// Data clusters or new tables were written that a pointer not yet on disk will name;
    /// they must be synced before that pointer is written (even with lazy refcounts).
    var unsyncedPointees = false
    /// End of the clusters handed out by `reserveFreshClusters` whose data other threads may
    /// not have written yet: the file counts as at least this long.
    var reservedEnd: UInt64 = 0
    var closed = false
    /// Set when an overlap was prevented: no further writes.
    var markedCorrupt = false
    /// Last decompressed cluster (guest cluster index -> bytes), so sequential small reads
    /// of a compressed cluster decompress it once.
    var decompressedCache: (host: UInt64, bytes: [UInt8])?

    init(file: HostFile, header: Qcow2Header, extensions: [HeaderExtension], backingFileName: String?,
         snapshots: [Qcow2Snapshot], l1: [UInt64], refcountTable: [UInt64], options: Qcow2OpenOptions) {
        self.file = file
        self.header = header
        self.extensions = extensions
        self.backingFileName = backingFileName
        self.snapshots = snapshots
        self.l1 = l1
        self.refcountTable = refcountTable
        self.options = options
        clusterBits = Int(header.clusterBits)
        clusterSize = 1 << clusterBits
        extendedL2 = header.incompatibleFeatures & Qcow2Feature.Incompatible.extendedL2 != 0
        l2EntrySize = extendedL2 ? 16 : 8
        l2Entries = clusterSize / l2EntrySize
        subclustersPerCluster = extendedL2 ? 32 : 1
        subclusterSize = clusterSize / subclustersPerCluster
        codec = L2EntryCodec(clusterBits: clusterBits)
        refcountWidth = RefcountWidth(order: Int(header.refcountOrder))
        refcountEntriesPerBlock = refcountWidth.entriesPerBlock(clusterSize: clusterSize)
        compressionType = Qcow2Feature.CompressionType(rawValue: header.compressionType) ?? .zlib
        let l2Bytes = options.l2CacheSize ?? Qcow2OpenOptions.defaultL2CacheBytes
        // No point caching more tables than the image can have.
        let maxL2Tables = max(l1.count, 2)
        l2Cache = MetadataCache(tableSize: clusterSize, capacity: min(max(l2Bytes / clusterSize, 4), maxL2Tables))
        let rcBytes = options.refcountCacheSize ?? max(l2Bytes / 4, 4 * clusterSize)
        refcountCache = MetadataCache(tableSize: clusterSize,
                                      capacity: min(max(rcBytes / clusterSize, 4), max(refcountTable.count, 4)))
        recomputeRefcountTableMaxIndex()
        snapshotTableBytes = UInt64(Qcow2Snapshot.tableSize(snapshots))
    }

    // MARK: geometry

    @inline(__always) func clusterIndex(_ hostOffset: UInt64) -> UInt64 { hostOffset >> UInt64(clusterBits) }
    @inline(__always) func offsetInCluster(_ offset: UInt64) -> Int { Int(offset & UInt64(clusterSize - 1)) }
    var l2Coverage: UInt64 { UInt64(l2Entries) << UInt64(clusterBits) }
    /// Guest bytes one L2 table maps.
    public var l2CoverageBytes: UInt64 { l2Coverage }

    /// L1 entries needed to map `size` guest bytes.
    func l1EntriesNeeded(for size: UInt64) -> UInt64 {
        (size + l2Coverage - 1) / l2Coverage
    }

    package func recomputeRefcountTableMaxIndex() {
        refcountTableMaxIndex = refcountTable.lastIndex(where: { $0 != 0 }) ?? -1
    }

    package var lazyRefcounts: Bool {
        header.compatibleFeatures & Qcow2Feature.Compatible.lazyRefcounts != 0
    }

    public var isDirty: Bool { header.incompatibleFeatures & Qcow2Feature.Incompatible.dirty != 0 }
    public var isCorrupt: Bool { header.incompatibleFeatures & Qcow2Feature.Incompatible.corrupt != 0 }

    public var backingFormat: String? {
        extensions.first { $0.type == HeaderExtension.backingFormat }
            .map { String(decoding: $0.data, as: UTF8.self) }
    }

    public var featureNames: [FeatureNameEntry] {
        extensions.first { $0.type == HeaderExtension.featureNameTable }?.featureNames() ?? []
    }

    func requireWritable() throws {
        guard options.writable, !closed else { throw ImageError.readOnly(path: filename) }
        if markedCorrupt || isCorrupt {
            throw ImageError.markedCorrupt(path: filename,
                detail: "image is marked corrupt; writes are refused until 'img check -r all' repairs it")
        }
    }

    func corrupt(_ structure: String, _ offset: UInt64, _ detail: String) -> ImageError {
        .corrupt(path: filename, structure: structure, offset: offset, detail: detail)
    }
}
