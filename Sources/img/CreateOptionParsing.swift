import ImageFormat

/// A new image's format options from qemu-img's "-o key=value,..." (shared by create,
/// convert and measure).
struct CreateOptionSet {
    var kind: ImageFormatName
    var qcow2 = Qcow2CreateOptions()
    var rawPreallocation = RawImage.Preallocation.off
    /// A size given as "-o size=".
    var size: UInt64?
    /// The options as given, for messages that echo them.
    var given: [String: String] = [:]

    /// Parses `specs` for a `kind` image; `filename` prefixes error messages.
    init(kind: ImageFormatName, specs: [String], filename: String) throws {
        self.kind = kind
        for (key, value) in try parseKeyValueOptions(specs) {
            given[key] = value
            try apply(key, value, filename)
        }
    }

    private mutating func apply(_ key: String, _ value: String, _ filename: String) throws {
        switch (kind, key) {
        case (_, "size"): size = try SizeParser.require(value)
        case (.qcow2, "compat"):
            switch value {
            case "0.10", "v2": qcow2.version = 2
            case "1.1", "v3": qcow2.version = 3
            default: throw fail(filename, "Parameter 'version' does not accept value '\(value)'")
            }
        case (.qcow2, "cluster_size"):
            guard let v = SizeParser.parse(value), v <= Int.max else {
                throw fail(filename, "Parameter 'cluster-size' expects a size")
            }
            qcow2.clusterSize = Int(v)
        case (.qcow2, "refcount_bits"):
            guard let v = Int(value) else { throw fail(filename, "Parameter 'refcount-bits' expects a number") }
            qcow2.refcountBits = v
        case (.qcow2, "lazy_refcounts"): qcow2.lazyRefcounts = try parseBool(value, key: "lazy-refcounts")
        case (.qcow2, "extended_l2"): qcow2.extendedL2 = try parseBool(value, key: "extended-l2")
        case (.qcow2, "compression_type"):
            switch value {
            case "zlib": qcow2.compressionType = .zlib
            case "zstd": qcow2.compressionType = .zstd
            default: throw fail(filename, "Parameter 'compression-type' does not accept value '\(value)'")
            }
        case (.qcow2, "preallocation"):
            guard let p = Qcow2CreateOptions.Preallocation(rawValue: value) else {
                throw fail(filename, "Parameter 'preallocation' does not accept value '\(value)'")
            }
            qcow2.preallocation = p
        case (.raw, "preallocation"):
            guard let p = RawImage.Preallocation(rawValue: value) else {
                throw fail(filename, "Parameter 'preallocation' does not accept value '\(value)'")
            }
            rawPreallocation = p
        case (.qcow2, "backing_file"): qcow2.backingFile = value
        case (.qcow2, "backing_fmt"): qcow2.backingFormat = value
        default: throw fail(filename, "Invalid parameter '\(key)'")
        }
    }

    /// Creates the image at `path` with `size` virtual bytes, rounded up to 512 as qemu-img does.
    func create(path: String, size: UInt64) throws {
        switch kind {
        case .raw:
            // qemu-img creates raw images in whole sectors too.
            try RawImage.create(path: path, size: alignUp(size, 512), preallocation: rawPreallocation)
            try allocateFirstBlock(path: path, size: size)
        case .qcow2:
            var q = qcow2
            q.size = alignUp(size, 512)
            try Qcow2Image.create(path: path, options: q)
        }
    }
}

/// QEMU's file driver writes the first 4 KiB of a new raw file (so block-size probing
/// works on it later); qemu-img's output always shows that block as data, and so does ours.
private func allocateFirstBlock(path: String, size: UInt64) throws {
    let n = Int(min(size, 4096))
    guard n > 0 else { return }
    let image = try RawImage.open(path: path, writable: true, forceShare: false)
    try image.write([UInt8](repeating: 0, count: n), at: 0)
    try image.close()
}

/// An option error, prefixed with the image name when there is one.
private func fail(_ filename: String, _ message: String) -> CLIError {
    CLIError(filename.isEmpty ? message : "\(filename): \(message)")
}

/// A format name from -f / -O, with qemu-img's message for an unknown one.
func formatName(_ name: String) throws -> ImageFormatName {
    guard let kind = ImageFormatName(rawValue: name) else { throw CLIError("Unknown file format '\(name)'") }
    return kind
}
