import ArgumentParser
import ImageFormat

/// img resize: grow or (with --shrink) shrink the virtual size of a qcow2 or raw image.
struct Resize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change the virtual size of a disk image.",
        discussion: "SIZE is absolute, or relative with a leading + or -. Shrinking needs --shrink; "
            + "data past the new end is lost.")

    @OptionGroup var image: ImageSelection
    @Flag(help: "Allow shrinking the image (data past the new end is discarded).")
    var shrink = false
    @Option(help: ArgumentHelp("Preallocation for the new area: off, metadata (qcow2), falloc or full.", valueName: "mode"))
    var preallocation: String?
    @Flag(name: .customShort("q"), help: "Quiet: print nothing on success.")
    var quiet = false
    /// FILE and SIZE; taken raw so that a negative size ("-1G") is not read as an option.
    @Argument(parsing: .allUnrecognized, help: "FILE [+|-]SIZE")
    var operands: [String] = []

    func run() throws {
        try runReportingErrors {
            let args = operands.filter { $0 != "--" }
            guard args.count == 2 else { throw CLIError("Expecting image file name and size") }
            let (filename, sizeText) = (args[0], args[1])
            let mode = try preallocationMode()
            let device = try image.open(filename, writable: true)
            defer { try? device.close() }
            let newSize = try Resize.target(sizeText, current: device.virtualSize)
            if newSize < device.virtualSize && !shrink {
                throw CLIError("Use the --shrink option to perform a shrink operation.\n"
                    + "img: warning: Shrinking an image will delete all data beyond the shrunken image's end. "
                    + "Before performing such an operation, make sure there is no important data there.")
            }
            if let q = device as? Qcow2Image {
                try q.resize(to: newSize, preallocation: mode, allowShrink: shrink)
            } else if let raw = device as? RawImage {
                try Resize.resizeRaw(raw, to: newSize, mode: mode)
            }
            try device.close()
            if !quiet { print("Image resized.") }
        }
    }

    private func preallocationMode() throws -> Qcow2CreateOptions.Preallocation {
        guard let preallocation else { return .off }
        guard let mode = Qcow2CreateOptions.Preallocation(rawValue: preallocation) else {
            throw CLIError("Invalid preallocation mode: '\(preallocation)'")
        }
        return mode
    }

    /// The new size from "[+|-]SIZE" relative to `current`.
    static func target(_ text: String, current: UInt64) throws -> UInt64 {
        var body = Substring(text)
        var sign = 0
        if body.hasPrefix("+") { sign = 1; body = body.dropFirst() } else if body.hasPrefix("-") { sign = -1; body = body.dropFirst() }
        guard let value = SizeParser.parse(String(body)) else {
            throw CLIError("Parameter 'size' expects a non-negative number below 2^64\n"
                + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
                + "and exabytes, respectively.")
        }
        switch sign {
        case 1:
            guard let sum = checkedAdd(current, value), sum <= UInt64(Int64.max) else {
                throw CLIError("New image size is too large")
            }
            return sum
        case -1:
            guard value < current else { throw CLIError("New image size must be positive") }
            return current - value
        default:
            guard value > 0 else { throw CLIError("New image size must be positive") }
            return value
        }
    }

    static func resizeRaw(_ raw: RawImage, to size: UInt64, mode: Qcow2CreateOptions.Preallocation) throws {
        let old = raw.virtualSize
        if mode != .off && size < old { throw CLIError("Preallocation can only be used for growing images") }
        switch mode {
        case .off: break
        case .metadata: throw CLIError("Unsupported preallocation mode: metadata")
        case .falloc: try raw.file.allocate(offset: old, length: size - old)
        case .full: try raw.file.writeZeroes(offset: old, length: size - old)
        }
        try raw.resize(to: size)
    }
}
