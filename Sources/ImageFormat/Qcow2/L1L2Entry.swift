/// Bit layout of L1, L2 and refcount-table entries (docs/interop/qcow2.txt).
package enum EntryBits {
    static let copied: UInt64 = 1 << 63
    static let compressed: UInt64 = 1 << 62
    static let zero: UInt64 = 1
    /// Bits 9-55: host cluster offset of an L2 table or a standard data cluster.
    static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let l1Reserved: UInt64 = 0x7F00_0000_0000_01FE
    static let l2StandardReserved: UInt64 = 0x3F00_0000_0000_01FE
    static let refcountTableReserved: UInt64 = 0x1FF
}

/// What one guest cluster (or subcluster) of an L2 entry resolves to.
package enum ClusterKind: Equatable {
    case unallocated
    case zeroPlain
    case zeroAllocated(host: UInt64)
    case normal(host: UInt64)
    case compressed(host: UInt64, size: Int)
}

/// Decoding of standard and compressed L2 entries for a given cluster size.
package struct L2EntryCodec {
    let clusterBits: Int
    let csizeShift: UInt64
    let csizeMask: UInt64
    let compressedOffsetMask: UInt64

    init(clusterBits: Int) {
        self.clusterBits = clusterBits
        csizeShift = UInt64(62 - (clusterBits - 8))
        csizeMask = (1 << UInt64(clusterBits - 8)) - 1
        compressedOffsetMask = (1 << csizeShift) - 1
    }

    /// Kind of the whole cluster ignoring subcluster bitmaps.
    func kind(_ entry: UInt64) -> ClusterKind {
        if entry & EntryBits.compressed != 0 {
            let host = entry & compressedOffsetMask
            let sectors = ((entry >> csizeShift) & csizeMask) + 1
            let size = Int(sectors * 512) - Int(host & 511)
            return .compressed(host: host, size: size)
        }
        let host = entry & EntryBits.offsetMask
        if entry & EntryBits.zero != 0 {
            return host == 0 ? .zeroPlain : .zeroAllocated(host: host)
        }
        return host == 0 ? .unallocated : .normal(host: host)
    }

    /// The L2 entry describing `size` bytes of compressed data at `host`.
    func compressedEntry(host: UInt64, size: Int) -> UInt64 {
        let sectors = ((host + UInt64(size) - 1) >> 9) - (host >> 9)
        return EntryBits.compressed | (sectors << csizeShift) | host
    }
}
