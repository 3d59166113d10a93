import ArgumentParser
import ImageFormat

/// img amend: change options of an existing qcow2 image in place, as qemu-img amend.
struct Amend: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change format options of an existing qcow2 image.",
        discussion: """
        Options (-o): compat=0.10|1.1 (v2|v3), refcount_bits, lazy_refcounts=on|off, size. \
        The backing file is changed with 'img rebase'; cluster_size, preallocation, encryption, \
        extended_l2 and compression_type can only be chosen at creation.
        """)

    @OptionGroup var image: ImageSelection
    @Option(name: .customShort("o"), help: "Comma-separated key=value options to change.")
    var options: [String] = []
    @Flag(name: .customShort("p"), help: "Show progress.")
    var progress = false
    @Flag(name: .customShort("q"), help: "Quiet.")
    var quiet = false
    @Flag(help: "Allow operations that may be unsafe (accepted for compatibility).")
    var force = false
    @Argument(help: "The image file.")
    var filename: String

    static let creationOnly: Set<String> = ["cluster_size", "preallocation", "encryption", "extended_l2",
                                            "compression_type", "encrypt.format"]

    func run() throws {
        try runReportingErrors {
            guard !options.isEmpty else {
                throw CLIError("Must specify options (-o)\nTry 'img --help' for more information")
            }
            if options.contains("help") || options.contains("?") {
                print(Amend.help)
                return
            }
            let amend = try parse(parseKeyValueOptions(options))
            let device = try image.open(filename, writable: true)
            defer { try? device.close() }
            guard let q = device as? Qcow2Image else {
                throw CLIError("Format driver '\(device.formatName)' does not support option amendment")
            }
            let line = ProgressLine(enabled: progress && !quiet)
            try q.amend(amend, progress: { line.show($0) })
            try q.close()
            line.finish()
        }
    }

    func parse(_ pairs: [(key: String, value: String)]) throws -> Qcow2AmendOptions {
        var o = Qcow2AmendOptions()
        for (key, value) in pairs {
            switch key {
            case "compat":
                switch value {
                case "0.10", "v2": o.version = 2
                case "1.1", "v3": o.version = 3
                default: throw CLIError("Unknown compatibility level \(value)")
                }
            case "refcount_bits":
                guard let bits = Int(value) else { throw CLIError("Parameter 'refcount_bits' expects a number") }
                o.refcountBits = bits
            case "lazy_refcounts": o.lazyRefcounts = try parseBool(value, key: "lazy_refcounts")
            case "size": o.size = try SizeParser.require(value)
            case "backing_file", "backing_fmt":
                throw CLIError("Cannot amend the backing file\nYou can use 'img rebase' instead.")
            case "data_file", "data_file_raw":
                throw CLIError("\(key.replacing("_", with: "-")) can only be set for images that use an external data file")
            case let k where Amend.creationOnly.contains(k):
                throw CLIError("Invalid parameter '\(k)'\nThis option is only supported for image creation")
            default:
                throw CLIError("Invalid parameter '\(key)'")
            }
        }
        return o
    }

    static let help = """
    Amend options for 'qcow2':
      compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])
      lazy_refcounts=<bool (on/off)> - Postpone refcount updates
      refcount_bits=<num>    - Width of a reference count entry in bits
      size=<size>            - Virtual disk size
    """
}
