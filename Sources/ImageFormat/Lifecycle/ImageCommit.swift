/// Commit: the data an overlay (and any images between it and the base) holds is written
/// into the base image, then the overlay is emptied unless asked to keep it.
///
/// Each file is opened once, without its backing chain, and the chain is walked here, so
/// the base can be opened writable while the overlay is open (QEMU's OFD locks are per
/// file descriptor: a second, read-only descriptor of the base would conflict).
/// Crash safety: the base is flushed before the overlay is emptied, so a crash leaves the
/// data in both at worst.
public struct CommitRequest {
    public var path: String
    public var format: String?
    /// The image in the chain to commit into; nil: the overlay's immediate backing file.
    public var base: String?
    /// Keep the overlay's contents (-d; implied by an explicit base, as in qemu-img).
    public var keepOverlay = false
    /// qcow2 driver options (overlap checks, caches) for the images the commit writes.
    public var qcow2 = Qcow2OpenOptions()
    public init(path: String) { self.path = path }
}

public func commitImage(_ request: CommitRequest, progress: ((Double) -> Void)? = nil) throws {
    let chain = try backingChainLayers(path: request.path, format: request.format)
    guard chain.count > 1 else { throw ImageError.invalidArgument("Image does not have a backing file") }
    var baseIndex = 1
    if let base = request.base {
        let wanted = canonicalPath(base)
        guard let i = chain.indices.dropFirst().first(where: { canonicalPath(chain[$0].path) == wanted }) else {
            throw ImageError.invalidArgument("Did not find '\(base)' in the backing chain of '\(request.path)'")
        }
        baseIndex = i
    }
    let emptyTop = !request.keepOverlay && request.base == nil

    var layers: [BlockDevice] = []
    defer { for l in layers { try? l.close() } }
    for (i, layer) in chain[0..<baseIndex].enumerated() {
        var o = ImageOpenOptions()
        o.qcow2 = request.qcow2
        o.writable = i == 0 && emptyTop
        o.forceShare = !o.writable
        o.qcow2.openBacking = false
        layers.append(try openImage(path: layer.path, format: layer.format, options: o))
    }
    var baseOptions = ImageOpenOptions()
    baseOptions.qcow2 = request.qcow2
    baseOptions.writable = true
    let base = try openImage(path: chain[baseIndex].path, format: chain[baseIndex].format, options: baseOptions)
    defer { try? base.close() }

    let top = layers[0]
    if base.virtualSize < top.virtualSize {
        if let q = base as? Qcow2Image { try q.resize(to: top.virtualSize, allowShrink: false) }
        else if let r = base as? RawImage { try r.resize(to: top.virtualSize) }
    }
    let chunk: UInt64 = 1 << 20
    var offset: UInt64 = 0
    while offset < top.virtualSize {
        let n = min(chunk, top.virtualSize - offset)
        try copyAbove(layers, 0, offset, n, into: base)
        offset += n
        progress?(Double(offset) / Double(top.virtualSize))
    }
    try base.flush()
    if emptyTop, let q = top as? Qcow2Image { try q.makeEmpty() }
    try base.close()
    for l in layers { try l.close() }
}

/// Writes into `base` what the guest of layers[index...] sees in [offset, offset+length)
/// wherever one of those layers defines it; ranges none of them defines are left alone.
func copyAbove(_ layers: [BlockDevice], _ index: Int, _ offset: UInt64, _ length: UInt64,
               into base: BlockDevice) throws {
    guard index < layers.count, length > 0 else { return }
    let layer = layers[index]
    let inside = offset < layer.virtualSize ? min(length, layer.virtualSize - offset) : 0
    if inside < length {
        // Past this layer's end the layers above read zeroes.
        try base.writeZeroes(at: offset + inside, length: length - inside, mayUnmap: false)
    }
    guard inside > 0 else { return }
    for e in try layer.blockStatus(at: offset, length: inside) {
        if !e.present || e.depth > 0 {
            try copyAbove(layers, index + 1, e.start, e.length, into: base)
        } else if e.zero && !e.data {
            try base.writeZeroes(at: e.start, length: e.length, mayUnmap: false)
        } else {
            let data = try layer.read(count: Int(e.length), at: e.start)
            try base.write(data, at: e.start)
        }
    }
}

/// The files of a backing chain, top first: path and format of each.
public func backingChainLayers(path: String, format: String?) throws -> [(path: String, format: String?)] {
    let top = try openImage(path: path, format: format, writable: false, forceShare: true)
    defer { try? top.close() }
    var result: [(String, String?)] = [(path, top.formatName)]
    var current: BlockDevice = top
    while let q = current as? Qcow2Image, let b = q.backing {
        result.append((b.filename, b.formatName))
        current = b
    }
    return result
}
