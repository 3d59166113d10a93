/// The qcow2 header (docs/interop/qcow2.txt, "Header"), parsed and written field by field.
/// Bytes past the fields we know (a longer header_length from a newer writer) are kept in
/// `unknownTail` and written back unchanged.
public struct Qcow2Header: Equatable {
    public static let magic: UInt32 = 0x5146_49FB  // "QFI\xfb"
    public static let v2Length = 72
    public static let v3Length = 104
    /// The length QEMU writes today: v3 fields plus compression_type and 7 padding bytes.
    public static let currentV3Length = 112

    public var version: UInt32
    public var backingFileOffset: UInt64
    public var backingFileSize: UInt32
    public var clusterBits: UInt32
    public var size: UInt64
    public var cryptMethod: UInt32
    public var l1Size: UInt32
    public var l1TableOffset: UInt64
    public var refcountTableOffset: UInt64
    public var refcountTableClusters: UInt32
    public var snapshotCount: UInt32
    public var snapshotsOffset: UInt64
    public var incompatibleFeatures: UInt64
    public var compatibleFeatures: UInt64
    public var autoclearFeatures: UInt64
    public var refcountOrder: UInt32
    public var headerLength: UInt32
    public var compressionType: UInt8
    /// Bytes 105..<headerLength that this version does not interpret.
    public var unknownTail: [UInt8]

    public var clusterSize: Int { 1 << Int(clusterBits) }
    public var refcountBits: Int { 1 << Int(refcountOrder) }

    public init(version: UInt32, clusterBits: UInt32, size: UInt64) {
        self.version = version
        backingFileOffset = 0; backingFileSize = 0
        self.clusterBits = clusterBits
        self.size = size
        cryptMethod = 0; l1Size = 0; l1TableOffset = 0
        refcountTableOffset = 0; refcountTableClusters = 0
        snapshotCount = 0; snapshotsOffset = 0
        incompatibleFeatures = 0; compatibleFeatures = 0; autoclearFeatures = 0
        refcountOrder = 4
        headerLength = version >= 3 ? UInt32(Self.currentV3Length) : UInt32(Self.v2Length)
        compressionType = 0
        unknownTail = headerLength > 105 ? [UInt8](repeating: 0, count: Int(headerLength) - 105) : []
    }

    /// Parses the header from the start of the file. Checks only what is needed to read the
    /// fields themselves; `Qcow2Limits.validate` applies the format's limits.
    public static func parse(_ b: [UInt8], path: String) throws -> Qcow2Header {
        func bad(_ offset: UInt64, _ detail: String) -> ImageError {
            .corrupt(path: path, structure: "qcow2 header", offset: offset, detail: detail)
        }
        guard b.count >= v2Length else { throw bad(0, "file too short for a qcow2 header (\(b.count) bytes)") }
        guard b.beUnchecked(UInt32.self, at: 0) == magic else { throw bad(0, "bad magic, not a qcow2 image") }
        let version = b.beUnchecked(UInt32.self, at: 4)
        guard version == 2 || version == 3 else {
            throw ImageError.unsupported(path: path, feature: "qcow2 version \(version)")
        }
        var h = Qcow2Header(version: version, clusterBits: b.beUnchecked(UInt32.self, at: 20),
                            size: b.beUnchecked(UInt64.self, at: 24))
        h.backingFileOffset = b.beUnchecked(UInt64.self, at: 8)
        h.backingFileSize = b.beUnchecked(UInt32.self, at: 16)
        h.cryptMethod = b.beUnchecked(UInt32.self, at: 32)
        h.l1Size = b.beUnchecked(UInt32.self, at: 36)
        h.l1TableOffset = b.beUnchecked(UInt64.self, at: 40)
        h.refcountTableOffset = b.beUnchecked(UInt64.self, at: 48)
        h.refcountTableClusters = b.beUnchecked(UInt32.self, at: 56)
        h.snapshotCount = b.beUnchecked(UInt32.self, at: 60)
        h.snapshotsOffset = b.beUnchecked(UInt64.self, at: 64)
        if version == 2 {
            h.headerLength = UInt32(v2Length)
            h.unknownTail = []
            return h
        }
        guard b.count >= v3Length else { throw bad(72, "file too short for a version 3 header") }
        h.incompatibleFeatures = b.beUnchecked(UInt64.self, at: 72)
        h.compatibleFeatures = b.beUnchecked(UInt64.self, at: 80)
        h.autoclearFeatures = b.beUnchecked(UInt64.self, at: 88)
        h.refcountOrder = b.beUnchecked(UInt32.self, at: 96)
        h.headerLength = b.beUnchecked(UInt32.self, at: 100)
        guard h.headerLength >= UInt32(v3Length) else {
            throw bad(100, "header_length \(h.headerLength) is below the version 3 minimum of \(v3Length)")
        }
        guard Int(h.headerLength) <= b.count else {
            throw bad(100, "header_length \(h.headerLength) exceeds the first cluster")
        }
        h.compressionType = h.headerLength > 104 ? b[104] : 0
        h.unknownTail = h.headerLength > 105 ? Array(b[105..<Int(h.headerLength)]) : []
        return h
    }

    public func serialize() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: version == 2 ? Self.v2Length : Int(headerLength))
        b.setBE(Self.magic, at: 0)
        b.setBE(version, at: 4)
        b.setBE(backingFileOffset, at: 8)
        b.setBE(backingFileSize, at: 16)
        b.setBE(clusterBits, at: 20)
        b.setBE(size, at: 24)
        b.setBE(cryptMethod, at: 32)
        b.setBE(l1Size, at: 36)
        b.setBE(l1TableOffset, at: 40)
        b.setBE(refcountTableOffset, at: 48)
        b.setBE(refcountTableClusters, at: 56)
        b.setBE(snapshotCount, at: 60)
        b.setBE(snapshotsOffset, at: 64)
        guard version >= 3 else { return b }
        b.setBE(incompatibleFeatures, at: 72)
        b.setBE(compatibleFeatures, at: 80)
        b.setBE(autoclearFeatures, at: 88)
        b.setBE(refcountOrder, at: 96)
        b.setBE(headerLength, at: 100)
        if headerLength > 104 { b[104] = compressionType }
        for (i, byte) in unknownTail.enumerated() { b[105 + i] = byte }
        return b
    }
}

/// Byte offsets of header fields that are updated in place (each a single small write).
package enum HeaderField {
    static let l1Size: UInt64 = 36
    static let l1TableOffset: UInt64 = 40
    static let refcountTable: UInt64 = 48
    static let snapshots: UInt64 = 60
    static let incompatibleFeatures: UInt64 = 72
}
