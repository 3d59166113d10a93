/// Reads a check's messages (img's and qemu-img's are the same text) to tell COPIED-flag
/// errors that are consequences of leaks from real ones: the flag is wrong only against a
/// stored refcount that exceeds the cluster's references, so repairing the leak makes it
/// right (or the -r all that follows sets it).
struct CopiedFlagErrors {
    /// Clusters whose COPIED flag disagrees with the stored refcount.
    var flagged: [UInt64] = []
    /// Clusters reported as "Leaked cluster N refcount=R reference=F" (R > F).
    var leaked = Set<UInt64>()

    init(_ lines: [String], clusterBits: Int) {
        for line in lines {
            if line.hasPrefix("Leaked cluster "), let n = UInt64(line.dropFirst(15).prefix { $0 != " " }) {
                leaked.insert(n)
            } else if line.hasPrefix("ERROR OFLAG_COPIED"), let offset = Self.entryOffset(line) {
                flagged.append(offset >> UInt64(clusterBits))
            }
        }
    }

    /// The host offset in "l1_entry=HEX" or "l2_entry=HEX" (flag bits masked off).
    static func entryOffset(_ line: String) -> UInt64? {
        guard let range = line.range(of: "_entry=") else { return nil }
        guard let entry = UInt64(line[range.upperBound...].prefix { $0.isHexDigit }, radix: 16) else { return nil }
        return entry & 0x00FF_FFFF_FFFF_FE00
    }

    /// Every one of the check's `errors` is a COPIED flag on a leaked cluster.
    func onlyOnLeakedClusters(errors: Int) -> Bool {
        flagged.count == errors && flagged.allSatisfy { leaked.contains($0) }
    }
}
