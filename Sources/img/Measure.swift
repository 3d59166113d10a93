import ArgumentParser
import ImageFormat

/// qemu-img measure: the size a new image needs to hold a source (or a given virtual
/// size), and its size fully allocated.
struct Measure: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Estimate the file size of a new image.")

    @Option(help: "Output format: human or json.")
    var output: OutputFormat = .human
    @Option(name: .customShort("O"), help: "Format of the image to measure for (default raw).")
    var outputFormat = "raw"
    @Option(name: .customShort("o"), help: "Creation options of the new image (key=value,...).")
    var options: [String] = []
    @Option(name: .customLong("size"), help: "Measure an empty image of this virtual size instead of a file.")
    var size: String?
    @Option(name: .customShort("f"), help: "Format of FILE; probed when omitted.")
    var format: String?
    @Option(name: .customShort("l"), help: "Measure this internal snapshot of FILE.")
    var snapshot: String?
    @Flag(name: .customShort("U"), help: "Open FILE without taking QEMU's locks (force share).")
    var forceShare = false
    @Argument(help: "The source image.")
    var filename: String?

    func run() throws {
        try runReportingErrors { try measure() }
    }

    private func measure() throws {
        if size != nil && filename != nil { throw CLIError("--size N cannot be used together with a filename.") }
        if size == nil && filename == nil { throw CLIError("Either --size N or one filename must be specified.") }
        let kind = try formatName(outputFormat)
        let create = try CreateOptionSet(kind: kind, specs: options, filename: "")
        var source: BlockDevice?
        defer { try? source?.close() }
        if let filename {
            let device = try openImage(path: filename, format: format, writable: false, forceShare: forceShare)
            source = device
            if let snapshot { try loadSnapshot(snapshot, of: device, path: filename) }
        }
        let givenSize = try size.map { try SizeParser.require($0) } ?? create.size ?? 0
        let virtualSize = source?.virtualSize ?? givenSize
        var required: UInt64, full: UInt64
        var bitmaps: UInt64?
        switch kind {
        case .raw:
            full = (virtualSize + 511) / 512 * 512
            required = full
        case .qcow2:
            var q = create.qcow2
            q.size = virtualSize
            try q.validate()
            let cs = UInt64(q.clusterSize)
            let dataSize = (virtualSize + cs - 1) / cs * cs
            full = SizeEstimate.qcow2FullyAllocated(virtualSize: virtualSize, clusterSize: q.clusterSize,
                                                   refcountBits: q.refcountBits, extendedL2: q.extendedL2)
            var data: UInt64 = 0
            if q.preallocation == .full || q.preallocation == .falloc || q.backingFile != nil {
                data = dataSize
            } else if let source {
                data = try SizeEstimate.qcow2DataBytes(source: source, clusterSize: q.clusterSize)
            }
            required = full - dataSize + data
            // Persistent bitmaps are a v3 feature and only a qcow2 source can carry them.
            if q.version >= 3, let image = source as? Qcow2Image {
                bitmaps = SizeEstimate.qcow2BitmapBytes(try image.persistentBitmaps(), virtualSize: virtualSize,
                                                        clusterSize: q.clusterSize)
            }
        }
        switch output {
        case .human:
            print("required size: \(required)")
            print("fully allocated size: \(full)")
            if let bitmaps { print("bitmaps size: \(bitmaps)") }
        case .json:
            var m: [(String, JSON)] = []
            if let bitmaps { m.append(("bitmaps", .uint(bitmaps))) }
            m.append(("required", .uint(required)))
            m.append(("fully-allocated", .uint(full)))
            print(JSON.object(m).pretty())
        }
    }
}
