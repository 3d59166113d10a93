/// Emptying the active layer (after a commit): every guest cluster becomes unallocated so
/// reads fall through to the backing file again. The zeroed L1 table is on disk before the
/// refcounts of the L2 tables and data it pointed at fall; snapshots keep their references.
extension Qcow2Image {
    public func makeEmpty() throws {
        try requireWritable()
        try flush()
        let counts = try referenceCounts(ofL1: l1, l1Offset: header.l1TableOffset, structure: "L1 table")
        guard !counts.isEmpty else { return }
        try checkDecrementsPossible(counts, holder: "the active L1 table")
        try writeActiveL1([UInt64](repeating: 0, count: l1.count))
        l2Cache.invalidateAll()
        try applyReferenceCounts(counts, sign: -1)
        try recomputeCopiedFlags()
    }
}
