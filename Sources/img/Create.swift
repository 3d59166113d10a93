import ArgumentParser
import ImageFormat

struct Create: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a new disk image.",
        discussion: """
        qcow2 options (-o): compat=0.10|1.1 (v2|v3), cluster_size, lazy_refcounts, refcount_bits, \
        compression_type=zlib|zstd, preallocation=off|metadata|falloc|full, extended_l2, \
        backing_file, backing_fmt, size. raw options: preallocation=off|falloc|full, size.
        """)

    @Option(name: .customShort("f"), help: "Format of the new image (qcow2 or raw).")
    var format = "raw"
    @Option(name: .customShort("o"), help: "Comma-separated key=value format options.")
    var options: [String] = []
    @Option(name: .customShort("b"), help: "Backing file of the new image.")
    var backingFile: String?
    @Option(name: .customShort("F"), help: "Format of the backing file.")
    var backingFormat: String?
    @Flag(name: .customShort("u"), help: "Do not open the backing file (size must then be given).")
    var unsafe = false
    @Flag(name: .customShort("q"), help: "Quiet: print nothing on success.")
    var quiet = false
    @Argument(help: "The image file to create.")
    var filename: String
    @Argument(help: "Virtual size, with optional k, M, G, T, P or E suffix.")
    var size: String?

    func run() throws {
        try runReportingErrors {
            do { try create() } catch let e as ImageError {
                throw CLIError("\(filename): \(e.description)")
            }
        }
    }

    private func create() throws {
        guard let kind = ImageFormatName(rawValue: format) else {
            throw CLIError("\(filename): Unknown file format '\(format)'")
        }
        var sizeValue: UInt64?
        if let size {
            guard let v = SizeParser.parse(size) else {
                throw CLIError("Invalid image size specified. You may use k, M, G, T, P or E suffixes for\n"
                    + "img: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.")
            }
            sizeValue = v
        }
        var q = Qcow2CreateOptions()
        q.backingFile = backingFile
        q.backingFormat = backingFormat
        var rawPrealloc = RawImage.Preallocation.off
        var shown: [String: String] = [:]
        for (key, value) in try parseKeyValueOptions(options) {
            shown[key] = value
            switch (kind, key) {
            case (_, "size"): sizeValue = try SizeParser.require(value)
            case (.qcow2, "compat"):
                switch value {
                case "0.10", "v2": q.version = 2
                case "1.1", "v3": q.version = 3
                default: throw CLIError("\(filename): Parameter 'version' does not accept value '\(value)'")
                }
            case (.qcow2, "cluster_size"):
                guard let v = SizeParser.parse(value), v <= Int.max else {
                    throw CLIError("\(filename): Parameter 'cluster-size' expects a size")
                }
                q.clusterSize = Int(v)
            case (.qcow2, "refcount_bits"):
                guard let v = Int(value) else { throw CLIError("\(filename): Parameter 'refcount-bits' expects a number") }
                q.refcountBits = v
            case (.qcow2, "lazy_refcounts"): q.lazyRefcounts = try parseBool(value, key: "lazy-refcounts")
            case (.qcow2, "extended_l2"): q.extendedL2 = try parseBool(value, key: "extended-l2")
            case (.qcow2, "compression_type"):
                switch value {
                case "zlib": q.compressionType = .zlib
                case "zstd": q.compressionType = .zstd
                default: throw CLIError("\(filename): Parameter 'compression-type' does not accept value '\(value)'")
                }
            case (.qcow2, "preallocation"):
                guard let p = Qcow2CreateOptions.Preallocation(rawValue: value) else {
                    throw CLIError("\(filename): Parameter 'preallocation' does not accept value '\(value)'")
                }
                q.preallocation = p
            case (.raw, "preallocation"):
                guard let p = RawImage.Preallocation(rawValue: value) else {
                    throw CLIError("\(filename): Parameter 'preallocation' does not accept value '\(value)'")
                }
                rawPrealloc = p
            case (.qcow2, "backing_file"): q.backingFile = value
            case (.qcow2, "backing_fmt"): q.backingFormat = value
            default: throw CLIError("\(filename): Invalid parameter '\(key)'")
            }
        }

        if kind == .raw {
            guard let sizeValue else { throw CLIError("\(filename): Image creation needs a size parameter") }
            if !quiet {
                var line = "Formatting '\(filename)', fmt=raw size=\(sizeValue)"
                if let p = shown["preallocation"] { line += " preallocation=\(p)" }
                print(line)
            }
            try RawImage.create(path: filename, size: sizeValue, preallocation: rawPrealloc)
            return
        }

        if let backing = q.backingFile {
            if q.backingFormat == nil && !unsafe {
                let detected = (try? probeFormat(path: resolveBackingPath(backing, relativeTo: filename)))?.rawValue ?? "raw"
                throw CLIError("\(filename): Backing file specified without backing format\nDetected format of \(detected).")
            }
            if sizeValue == nil || !unsafe {
                do {
                    let image = try openImage(path: resolveBackingPath(backing, relativeTo: filename),
                                              format: q.backingFormat, writable: false, forceShare: true)
                    if sizeValue == nil { sizeValue = image.virtualSize }
                    try image.close()
                } catch let e as ImageError {
                    if sizeValue == nil || !unsafe {
                        throw CLIError("\(filename): \(e.description)\nCould not open backing image.")
                    }
                }
            }
        }
        guard let sizeValue else { throw CLIError("\(filename): Image creation needs a size parameter") }
        q.size = alignUp(sizeValue, 512)

        if !quiet {
            var line = "Formatting '\(filename)', fmt=qcow2 cluster_size=\(q.clusterSize) extended_l2=\(q.extendedL2 ? "on" : "off")"
            if let p = shown["preallocation"] { line += " preallocation=\(p)" }
            line += " compression_type=\(q.compressionType.name) size=\(q.size)"
            if let c = shown["compat"] { line += " compat=\(c)" }
            if let b = q.backingFile { line += " backing_file=\(b)" }
            if let f = q.backingFormat { line += " backing_fmt=\(f)" }
            line += " lazy_refcounts=\(q.lazyRefcounts ? "on" : "off") refcount_bits=\(q.refcountBits)"
            print(line)
        }
        try Qcow2Image.create(path: filename, options: q)
    }
}

func alignUp(_ v: UInt64, _ a: UInt64) -> UInt64 { (v + a - 1) / a * a }
