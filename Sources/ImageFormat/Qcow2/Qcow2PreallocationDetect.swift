/// QEMU's test for an image created with preallocation=metadata: more clusters have a
/// refcount than the host file really stores (10% more, or two clusters). On such an image QEMU's block
/// status looks through data clusters into the host file and reports its holes as zero,
/// which changes what qemu-img measure counts; img's estimate follows it.
extension Qcow2Image {
    package func looksMetadataPreallocated() throws -> Bool {
        let cs = UInt64(clusterSize)
        let realClusters = try file.allocatedSize() / cs
        let threshold = max(realClusters * 10 / 9, realClusters + 2)
        let endCluster = (try file.size() + cs - 1) / cs
        var counted: UInt64 = 0
        var c: UInt64 = 0
        while c < endCluster && counted < threshold {
            if try refcount(ofCluster: c) != 0 { counted += 1 }
            c += 1
        }
        return counted >= threshold
    }

    /// Splits this image's own data extents (depth 0, with a host offset) where the host
    /// file has holes, reporting the holes as zero: QEMU's view of a preallocated image.
    package func splitAtHostHoles(_ extents: [Extent]) -> [Extent] {
        var result: [Extent] = []
        for e in extents {
            guard e.depth == 0, e.data, !e.compressed, let host = e.hostOffset else { result.append(e); continue }
            var pos: UInt64 = 0
            while pos < e.length {
                let h = host + pos
                let dataAt = file.nextData(from: h) ?? (host + e.length)
                var piece = e
                piece.start = e.start + pos
                if dataAt > h {
                    piece.length = min(dataAt - h, e.length - pos)
                    piece.data = false
                    piece.zero = true
                } else {
                    piece.length = min(file.nextHole(from: h) - h, e.length - pos)
                }
                piece.hostOffset = h
                result.append(piece)
                pos += max(piece.length, 1)
            }
        }
        return result
    }
}
