/// Reading an internal snapshot (qemu-img's -l): a read-only handle is switched to the
/// snapshot's L1 table and disk size. L2 tables and data clusters are shared with the
/// active image, so the normal read path and block status work unchanged.
extension Qcow2Image {
    /// The snapshot qemu-img's -l names: "snapshot.id=ID", "snapshot.name=NAME", or a bare
    /// string matched against ids first, then names.
    public func findSnapshot(_ spec: String) -> Qcow2Snapshot? {
        var id: String?, name: String?
        if spec.hasPrefix("snapshot.") {
            for part in spec.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { return nil }
                switch kv[0] {
                case "snapshot.id": id = kv[1]
                case "snapshot.name": name = kv[1]
                default: return nil
                }
            }
            return snapshots.first { s in (id == nil || s.id == id) && (name == nil || s.name == name) }
        }
        return snapshots.first { $0.id == spec } ?? snapshots.first { $0.name == spec }
    }

    /// Makes this read-only handle show `snapshot` instead of the active image.
    public func viewSnapshot(_ snapshot: Qcow2Snapshot) throws {
        guard !options.writable else {
            throw ImageError.invalidArgument("'\(filename)': a snapshot can only be viewed through a read-only handle")
        }
        let bytes = UInt64(snapshot.l1Size) * 8
        let fileSize = try file.size()
        guard bytes <= Limits.maxL1Bytes, offsetInCluster(snapshot.l1TableOffset) == 0,
              let end = checkedAdd(snapshot.l1TableOffset, bytes), bytes == 0 || end <= fileSize else {
            throw corrupt("snapshot L1 table", snapshot.l1TableOffset,
                          "L1 table of snapshot '\(snapshot.name)' (\(snapshot.l1Size) entries) is not inside the file")
        }
        let size = snapshot.diskSize ?? header.size
        guard size <= Limits.maxVirtualSize else {
            throw corrupt("snapshot table", header.snapshotsOffset, "snapshot '\(snapshot.name)' disk size \(size) too large")
        }
        l1 = try Qcow2Image.readTable(file, offset: snapshot.l1TableOffset, count: Int(snapshot.l1Size))
        header.size = size
        decompressedCache = nil
    }
}
