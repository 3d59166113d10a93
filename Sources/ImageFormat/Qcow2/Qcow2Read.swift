
/// The read path and block status.
extension Qcow2Image {
    /// What a guest range inside one cluster resolves to, after subcluster bitmaps.
    enum RangeState: Equatable {
        case data(host: UInt64)  // host offset of the first byte of the range
        case zero
        case unallocated
        case compressed(host: UInt64, size: Int)
    }

    /// Resolves guest bytes [offset, offset+length) that lie in one cluster into runs.
    /// Calls `body(runStart, runLength, state)` in order.
    func resolve(_ offset: UInt64, _ length: Int, _ body: (UInt64, Int, RangeState) throws -> Void) throws {
        let (entry, bitmap) = try lookup(offset)
        let inCluster = offsetInCluster(offset)
        let kind = codec.kind(entry)
        if case let .compressed(host, size) = kind {
            try body(offset, length, .compressed(host: host, size: size)); return
        }
        guard extendedL2 else {
            switch kind {
            case .normal(let host): try body(offset, length, .data(host: host + UInt64(inCluster)))
            case .zeroPlain, .zeroAllocated: try body(offset, length, .zero)
            default: try body(offset, length, .unallocated)
            }
            return
        }
        let host = entry & EntryBits.offsetMask
        var pos = inCluster
        let end = inCluster + length
        while pos < end {
            let sc = pos / subclusterSize
            let state = subclusterState(host: host, bitmap: bitmap, index: sc)
            var runEnd = min(end, (sc + 1) * subclusterSize)
            while runEnd < end && subclusterState(host: host, bitmap: bitmap, index: runEnd / subclusterSize) == state {
                runEnd = min(end, (runEnd / subclusterSize + 1) * subclusterSize)
            }
            let runState: RangeState
            if case .data(let h) = state { runState = .data(host: h + UInt64(pos)) } else { runState = state }
            try body(offset + UInt64(pos - inCluster), runEnd - pos, runState)
            pos = runEnd
        }
    }

    /// State of subcluster `index` of an extended L2 entry; data states carry the cluster's host offset.
    @inline(__always)
    func subclusterState(host: UInt64, bitmap: UInt64, index: Int) -> RangeState {
        if host != 0 && bitmap & (1 << UInt64(index)) != 0 { return .data(host: host) }
        if bitmap & (1 << UInt64(32 + index)) != 0 { return .zero }
        return .unallocated
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard !closed else { throw ImageError.invalidArgument("'\(filename)': image is closed") }
        try checkRange(offset, buffer.count)
        var done = 0
        while done < buffer.count {
            let pos = offset + UInt64(done)
            let n = min(buffer.count - done, clusterSize - offsetInCluster(pos))
            try resolve(pos, n) { runStart, runLength, state in
                let dst = UnsafeMutableRawBufferPointer(rebasing: buffer[(Int(runStart - offset))..<(Int(runStart - offset) + runLength)])
                switch state {
                case .data(let host):
                    try file.read(into: dst, at: host)
                case .zero:
                    dst.initializeMemory(as: UInt8.self, repeating: 0)
                case .unallocated:
                    try readBacking(into: dst, at: runStart)
                case .compressed(let host, let size):
                    let from = offsetInCluster(runStart)
                    if runLength == clusterSize && decompressedCache?.host != host {
                        // The whole cluster: straight into the caller's buffer, no copy.
                        try decompressCluster(host: host, size: size, into: dst)
                        return
                    }
                    let cluster = try decompressCluster(host: host, size: size)
                    cluster.withUnsafeBytes { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[from..<(from + runLength)])) }
                }
            }
            done += n
        }
    }

    /// Reads from the backing file where it has data; past its end (or without one) zeroes.
    func readBacking(into dst: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard let backing, offset < backing.virtualSize else {
            dst.initializeMemory(as: UInt8.self, repeating: 0)
            return
        }
        let n = Int(min(UInt64(dst.count), backing.virtualSize - offset))
        try backing.read(into: UnsafeMutableRawBufferPointer(rebasing: dst[0..<n]), at: offset)
        if n < dst.count {
            UnsafeMutableRawBufferPointer(rebasing: dst[n...]).initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    /// The decompressed contents of the compressed cluster stored at `host`.
    func decompressCluster(host: UInt64, size: Int) throws -> [UInt8] {
        if let cached = decompressedCache, cached.host == host { return cached.bytes }
        let out = try [UInt8](unsafeUninitializedCapacity: clusterSize) { buf, count in
            try decompressCluster(host: host, size: size, into: UnsafeMutableRawBufferPointer(buf))
            count = clusterSize
        }
        decompressedCache = (host, out)
        return out
    }

    /// Decompresses the cluster stored at `host` into `out` (one cluster long). The stored
    /// size may reach past the end of the file (QEMU writes it rounded up to sectors).
    func decompressCluster(host: UInt64, size: Int, into out: UnsafeMutableRawBufferPointer) throws {
        guard size > 0, checkedAdd(host, UInt64(size)) != nil else {
            throw corrupt("compressed cluster", host, "compressed data of \(size) bytes lies past the end of the file")
        }
        let ok = try withUnsafeTemporaryAllocation(byteCount: size, alignment: 16) { input in
            // A short read stops at the end of the file; nothing at all means past it.
            let available = try file.readAvailable(into: input, at: host)
            guard available > 0 else {
                throw corrupt("compressed cluster", host, "compressed data of \(size) bytes lies past the end of the file")
            }
            return ClusterCompression.decompress(UnsafeRawBufferPointer(rebasing: input[0..<available]), into: out,
                                                 type: compressionType)
        }
        guard ok else {
            throw corrupt("compressed cluster", host, "\(compressionType.name) data does not decompress to a full cluster")
        }
    }

    public func blockStatus(at offset: UInt64, length: UInt64) throws -> [Extent] {
        try checkRange(offset, length)
        var extents: [Extent] = []
        func add(_ e: Extent) {
            if let last = extents.last, last.merges(with: e) { extents[extents.count - 1].length += e.length }
            else { extents.append(e) }
        }
        var pos = offset
        let end = offset + length
        while pos < end {
            let n = Int(min(end - pos, UInt64(clusterSize - offsetInCluster(pos))))
            // A whole unallocated L2 table is reported in one step rather than cluster by cluster.
            let l2pos = l2Position(pos)
            if try l2TableOffset(l1Index: l2pos.l1) == nil {
                let tableEnd = min(end, UInt64(l2pos.l1 + 1) * l2Coverage)
                for e in try backingStatus(pos, tableEnd - pos) { add(e) }
                pos = tableEnd
                continue
            }
            try resolve(pos, n) { runStart, runLength, state in
                switch state {
                case .data(let host):
                    add(Extent(start: runStart, length: UInt64(runLength), depth: 0, present: true, zero: false,
                               data: true, hostOffset: host, hostFile: filename))
                case .zero:
                    let (entry, _) = try lookup(runStart)
                    var host: UInt64? = nil
                    if case .zeroAllocated(let h) = codec.kind(entry) { host = h + UInt64(offsetInCluster(runStart)) }
                    add(Extent(start: runStart, length: UInt64(runLength), depth: 0, present: true, zero: true,
                               data: false, hostOffset: host, hostFile: host == nil ? nil : filename))
                case .compressed:
                    add(Extent(start: runStart, length: UInt64(runLength), depth: 0, present: true, zero: false,
                               data: true, compressed: true))
                case .unallocated:
                    for e in try backingStatus(runStart, UInt64(runLength)) { add(e) }
                }
            }
            pos += UInt64(n)
        }
        return extents
    }

    /// Status of a range this layer leaves unallocated: the backing chain's, one level deeper.
    func backingStatus(_ offset: UInt64, _ length: UInt64) throws -> [Extent] {
        var result: [Extent] = []
        var covered: UInt64 = 0
        if let backing, offset < backing.virtualSize {
            covered = min(length, backing.virtualSize - offset)
            for var e in try backing.blockStatus(at: offset, length: covered) {
                e.depth += 1
                result.append(e)
            }
        }
        if covered < length {
            result.append(Extent(start: offset + covered, length: length - covered, depth: backing == nil ? 0 : 1,
                                 present: false, zero: true, data: false))
        }
        return result
    }
}
