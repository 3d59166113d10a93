#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import ImageFormat

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert, copy or compress disk images.",
        discussion: """
        Copies SRC (several sources are concatenated) into DST, leaving unallocated and zero \
        ranges unwritten. Reading, zero detection and compression run on -m worker threads; \
        writes happen in guest order, so the output does not depend on -m.
        """)

    /// -f, -U and --image-opts apply to the sources.
    @OptionGroup var image: ImageOptions
    @Flag(name: .customLong("target-image-opts"),
          help: "DST is an option string (driver=qcow2,file.filename=PATH,overlap-check=MODE,...); needs -n.")
    var targetImageOpts = false
    @Option(name: .customShort("O"), help: "Target format (default raw).")
    var outputFormat = "raw"
    @Option(name: .customShort("o"), help: "Target creation options (key=value,...).")
    var options: [String] = []
    @Flag(name: .customShort("c"), help: "Write compressed clusters (qcow2 target).")
    var compress = false
    @Option(name: .customShort("S"), help: "Zero runs at least this long are not written (default 4k; 0 allocates everything).")
    var sparseSize: String?
    @Flag(name: .customShort("n"), help: "Write into an existing target instead of creating it.")
    var noCreate = false
    @Flag(name: .customLong("target-is-zero"), help: "With -n: the target already reads as zero; do not zero it.")
    var targetIsZero = false
    @Option(name: .customShort("B"), help: "Make the target an overlay of this backing file; only differences are stored.")
    var backingFile: String?
    @Option(name: .customShort("F"), help: "Format of the -B backing file.")
    var backingFormat: String?
    @Option(name: .customShort("l"), help: "Convert this internal snapshot (id, name, or snapshot.id=/snapshot.name=).")
    var snapshot: String?
    @Option(name: .customShort("m"), help: "Worker threads (1-16; default: the number of cores).")
    var workers: Int?
    @Flag(name: .customShort("W"), help: "Write chunks as they become ready, not in guest order (a qcow2 target's layout then varies between runs).")
    var outOfOrder = false
    @Flag(name: .customShort("p"), help: "Show progress and throughput on stderr.")
    var progress = false
    @Flag(name: .customShort("q"), help: "Quiet.")
    var quiet = false
    @Flag(name: .customLong("salvage"), help: "Turn source read errors into zeros, with a warning naming the range.")
    var salvage = false
    @Argument(help: "Source images, then the target.")
    var files: [String] = []

    func validate() throws {
        guard files.count >= 2 else { throw ValidationError("Expecting one or more sources and a target") }
    }

    func run() throws {
        try runReportingErrors { try convert() }
    }

    private var targetSpec: String { files[files.count - 1] }
    private var sources: [String] { Array(files.dropLast()) }

    /// The target's path and open options (from --target-image-opts, which needs -n).
    private func resolveTarget(_ kind: ImageFormatName) throws -> ResolvedImage {
        guard targetImageOpts else {
            return ResolvedImage(path: targetSpec, format: noCreate ? nil : kind.rawValue, qcow2: Qcow2OpenOptions())
        }
        guard noCreate else { throw CLIError("--target-image-opts requires use of -n flag") }
        let parsed = try ImageOptionsString.parse(targetSpec)
        return ResolvedImage(path: parsed.path, format: parsed.format, qcow2: parsed.options)
    }

    private func settings() throws -> ConvertSettings {
        var s = ConvertSettings()
        s.compress = compress
        s.salvage = salvage
        s.outOfOrder = outOfOrder
        if let sparseSize {
            guard let v = SizeParser.parse(sparseSize), v % 512 == 0, v <= 16 << 20 else {
                throw CLIError("Invalid buffer size for sparse output specified. Valid sizes are multiples of 512 "
                    + "up to 16777216. Select 0 to disable sparse detection (fully allocates output).")
            }
            s.sparseSize = Int(v)
        }
        if let workers {
            guard (1...16).contains(workers) else {
                throw CLIError("Invalid number of coroutines. Allowed number of coroutines is between 1 and 16")
            }
            s.workers = workers
        } else {
            s.workers = min(16, max(1, onlineProcessorCount()))
        }
        if targetIsZero && !noCreate { throw CLIError("--target-is-zero requires use of -n flag") }
        s.targetReadsZero = !noCreate || targetIsZero
        return s
    }

    /// Opens the sources as one device (a snapshot of the single source with -l).
    private func openSources(_ resolved: [ResolvedImage]) throws -> BlockDevice {
        if snapshot != nil && resolved.count > 1 { throw CLIError("No support for concatenating multiple snapshot") }
        return try Convert.open(resolved, forceShare: image.forceShare, snapshot: snapshot)
    }

    private func convert() throws {
        var settings = try settings()
        let kind = try formatName(outputFormat)
        let targetImage = try resolveTarget(kind)
        let target = targetImage.path
        var create = try CreateOptionSet(kind: kind, specs: options, filename: target)
        if compress && kind != .qcow2 { throw CLIError("Compression not supported for this file format") }
        if let backingFile {
            guard kind == .qcow2 else { throw CLIError("Backing file not supported for file format '\(kind.rawValue)'") }
            create.qcow2.backingFile = backingFile
            create.qcow2.backingFormat = backingFormat
        }
        if create.qcow2.backingFile != nil && create.qcow2.backingFormat == nil {
            throw CLIError("Use of backing file requires explicit backing format")
        }
        let sourceImages = try sources.map { try image.resolve($0) }
        let source = try openSources(sourceImages)
        defer { try? source.close() }

        let interrupts = InterruptFlag()
        defer { interrupts.restore() }
        var created = false
        var targetDevice: BlockDevice?
        try refuseOverwritingInput(source, target: target)
        do {
            if !noCreate {
                try create.create(path: target, size: source.virtualSize)
                created = true
            }
            let device = try targetImage.open(writable: true)
            targetDevice = device
            if noCreate && device.virtualSize < source.virtualSize {
                throw CLIError("Output image is too small")
            }
            if noCreate, compress, !(device is Qcow2Image) {
                throw CLIError("Compression not supported for this file format")
            }
            var openBacking: (() throws -> BlockDevice)?
            if let q = device as? Qcow2Image, let name = q.backingFileName, !name.isEmpty {
                let path = resolveBackingPath(name, relativeTo: target)
                let fmt = q.backingFormat
                openBacking = { try openImage(path: path, format: fmt, writable: false, forceShare: true) }
                settings.targetReadsZero = false
            }
            let snap = snapshot
            let converter = ImageConverter(source: source, openSource: {
                try Convert.open(sourceImages, forceShare: true, snapshot: snap)
            }, target: device, openBacking: openBacking, settings: settings)
            let bar = ProgressLine(enabled: progress && !quiet, stream: stderr, showRate: true)
            converter.progress = { bar.update(done: $0, total: $1) }
            converter.warning = { Console.error("warning: " + $0) }
            converter.interrupted = { interrupts.check() }
            do { try converter.run() } catch { bar.finish(); throw error }
            bar.finish()
            try device.close()
        } catch {
            try? targetDevice?.close()
            if created {
                unlink(target)
            } else if targetDevice != nil {
                Console.error("warning: '\(target)' is incomplete: the conversion did not finish")
            }
            if let e = error as? ImageError { throw CLIError("\(target): error while converting: \(e.description)") }
            throw error
        }
    }

    /// Creating the target truncates it: it must not be a source or a file a source reads
    /// through its backing chain.
    private func refuseOverwritingInput(_ source: BlockDevice, target: String) throws {
        guard !noCreate else { return }
        var layers = (source as? ConcatenatedDevice)?.members ?? [source]
        while let layer = layers.popLast() {
            if sameFile(layer.filename, target) {
                throw CLIError("'\(target)' is also read by the conversion ('\(layer.filename)'); refusing to overwrite it")
            }
            if let q = layer as? Qcow2Image, let b = q.backing { layers.append(b) }
        }
    }

    /// The sources as one read-only device. Workers open their own handles with forceShare
    /// (the main handle holds the locks).
    static func open(_ images: [ResolvedImage], forceShare: Bool, snapshot: String?) throws -> BlockDevice {
        let devices = try images.map { try $0.open(writable: false, forceShare: forceShare) }
        if let snapshot { try loadSnapshot(snapshot, of: devices[0], path: images[0].path) }
        return devices.count == 1 ? devices[0] : try ConcatenatedDevice(devices)
    }
}
