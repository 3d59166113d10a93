/// Rebase: point an overlay at a different backing file. Safe mode first copies into the
/// overlay every cluster it does not define itself whose contents differ between the old
/// and the new backing chain, so the guest reads the same data afterwards; only then is
/// the header switched. Unsafe mode (-u) only rewrites the header.
public struct RebaseRequest {
    public var path: String
    public var format: String?
    /// New backing file name as stored in the header (relative to the overlay); "" removes it.
    public var backing: String
    public var backingFormat: String?
    public var unsafe = false
    public var compress = false
    /// qcow2 driver options (overlap checks, caches) for the image being rebased.
    public var qcow2 = Qcow2OpenOptions()
    public init(path: String, backing: String) { self.path = path; self.backing = backing }
}

public func rebaseImage(_ request: RebaseRequest, progress: ((Double) -> Void)? = nil) throws {
    let path = request.path
    if !request.backing.isEmpty && request.backingFormat == nil {
        throw ImageError.invalidArgument("Could not change the backing file to '\(request.backing)': backing format must be specified")
    }
    var o = ImageOpenOptions()
    o.qcow2 = request.qcow2
    o.writable = true
    o.qcow2.openBacking = false
    let device = try openImage(path: path, format: request.format, options: o)
    defer { try? device.close() }
    guard let overlay = device as? Qcow2Image else {
        throw ImageError.invalidArgument("Could not change the backing file to '\(request.backing)': Operation not supported")
    }
    if !request.unsafe {
        var oldBacking: BlockDevice?
        var newBacking: BlockDevice?
        defer { try? oldBacking?.close(); try? newBacking?.close() }
        if let old = overlay.backingFileName, !old.isEmpty {
            let oldPath = resolveBackingPath(old, relativeTo: path)
            do {
                oldBacking = try openImage(path: oldPath, format: overlay.backingFormat, writable: false, forceShare: true)
            } catch let e as ImageError {
                throw ImageError.invalidArgument("Could not open old backing file '\(oldPath)': \(e)")
            }
        }
        if !request.backing.isEmpty {
            let newPath = resolveBackingPath(request.backing, relativeTo: path)
            do {
                newBacking = try openImage(path: newPath, format: request.backingFormat, writable: false, forceShare: true)
            } catch let e as ImageError {
                throw ImageError.invalidArgument("Could not open new backing file '\(request.backing)': \(e)")
            }
        }
        try copyDifferingClusters(overlay, old: oldBacking, new: newBacking, compress: request.compress, progress: progress)
    }
    try overlay.setBackingFile(request.backing, format: request.backingFormat)
    try overlay.close()
}

/// For every cluster the overlay leaves unallocated: if the old and the new backing read
/// differently there, the old contents are written into the overlay.
func copyDifferingClusters(_ overlay: Qcow2Image, old: BlockDevice?, new: BlockDevice?, compress: Bool,
                           progress: ((Double) -> Void)?) throws {
    let size = overlay.virtualSize
    let cs = UInt64(overlay.clusterSize)
    let step: UInt64 = 64 << 20
    var pos: UInt64 = 0
    while pos < size {
        let n = min(step, size - pos)
        for e in try overlay.blockStatus(at: pos, length: n) where !e.present {
            // Where block status says both chains read zero, nothing needs reading.
            var oldZero = try ZeroRuns(old, e.start, e.length), newZero = try ZeroRuns(new, e.start, e.length)
            var c = e.start
            let end = e.start + e.length
            while c < end {
                // Up to 1 MiB at a time, cut at cluster boundaries.
                let chunkEnd = min(end, c - c % cs + max(cs, 1 << 20))
                let len = Int(chunkEnd - c)
                if oldZero.covers(c, UInt64(len)) && newZero.covers(c, UInt64(len)) {
                    c = chunkEnd
                    continue
                }
                let before = try readOrZero(old, at: c, count: len)
                let after = try readOrZero(new, at: c, count: len)
                // Runs of clusters whose contents differ are written in one request each.
                var runStart: Int?
                var i = 0
                while i < len {
                    let piece = Int(min(cs - (c + UInt64(i)) % cs, UInt64(len - i)))
                    if !before[i..<(i + piece)].elementsEqual(after[i..<(i + piece)]) {
                        if runStart == nil { runStart = i }
                    } else if let start = runStart {
                        try writeRun(overlay, before[start..<i], at: c + UInt64(start), compress: compress)
                        runStart = nil
                    }
                    i += piece
                }
                if let start = runStart { try writeRun(overlay, before[start..<len], at: c + UInt64(start), compress: compress) }
                c = chunkEnd
            }
        }
        pos += n
        progress?(Double(pos) / Double(size))
    }
    try overlay.flush()
}

/// The parts of a range a device (or its absence) reads as zero according to block status,
/// queried in increasing offset order.
struct ZeroRuns {
    private var runs: [(start: UInt64, end: UInt64)] = []
    private var next = 0

    init(_ device: BlockDevice?, _ offset: UInt64, _ length: UInt64) throws {
        let end = offset + length
        guard let device, offset < device.virtualSize else { runs = [(offset, end)]; return }
        let inside = min(end, device.virtualSize)
        for e in try device.blockStatus(at: offset, length: inside - offset) where e.zero {
            if let last = runs.last, last.end == e.start { runs[runs.count - 1].end = e.start + e.length }
            else { runs.append((e.start, e.start + e.length)) }
        }
        if inside < end {
            if let last = runs.last, last.end == inside { runs[runs.count - 1].end = end } else { runs.append((inside, end)) }
        }
    }

    /// Whether [offset, offset+length) lies inside one zero run. Offsets must not decrease.
    mutating func covers(_ offset: UInt64, _ length: UInt64) -> Bool {
        while next < runs.count && runs[next].end <= offset { next += 1 }
        guard next < runs.count else { return false }
        return runs[next].start <= offset && offset + length <= runs[next].end
    }
}

/// What a guest of an image backed by `device` reads there: zeroes past its end or without it.
func readOrZero(_ device: BlockDevice?, at offset: UInt64, count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    guard let device, offset < device.virtualSize else { return bytes }
    let n = Int(min(UInt64(count), device.virtualSize - offset))
    let part = try device.read(count: n, at: offset)
    bytes.replaceSubrange(0..<n, with: part)
    return bytes
}

/// Writes a run of whole guest clusters (the image's last one may be short): zero clusters
/// where a v3 image can say so, compressed one cluster at a time with -c, else plain data.
func writeRun(_ overlay: Qcow2Image, _ data: ArraySlice<UInt8>, at offset: UInt64, compress: Bool) throws {
    if overlay.header.version >= 3 && !data.contains(where: { $0 != 0 }) {
        try overlay.writeZeroes(at: offset, length: UInt64(data.count), mayUnmap: false)
    } else if compress {
        var done = 0
        while done < data.count {
            let n = min(overlay.clusterSize, data.count - done)
            let piece = Array(data[(data.startIndex + done)..<(data.startIndex + done + n)])
            try piece.withUnsafeBytes { try overlay.writeCompressed($0, at: offset + UInt64(done)) }
            done += n
        }
    } else {
        try Array(data).withUnsafeBytes { try overlay.write($0, at: offset) }
    }
}
