import ArgumentParser
import ImageFormat

/// qemu-img dd: copies `count` blocks of `bs` bytes after skipping `skip` blocks of the
/// input into a new image. As in qemu-img, the output's size is count*bs (or the input's
/// size) minus skip*bs, and every byte of it is written.
struct Dd: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Copy part of an image into a new image, dd style.")

    /// -f, -U and --image-opts apply to the input.
    @OptionGroup var image: ImageOptions
    @Option(name: .customShort("O"), help: "Output format (default raw).")
    var outputFormat = "raw"
    @Argument(help: "Operands: if=INPUT of=OUTPUT [bs=N] [count=N] [skip=N].")
    var operands: [String] = []

    struct Operands {
        var input: String?, output: String?
        var blockSize: UInt64 = 512
        var count: UInt64?
        var skip: UInt64 = 0
    }

    func run() throws {
        try runReportingErrors { try copy(try parse()) }
    }

    private func parse() throws -> Operands {
        var o = Operands()
        for operand in operands {
            guard let eq = operand.firstIndex(of: "=") else { throw CLIError("unrecognized operand \(operand)") }
            let key = String(operand[..<eq]), value = String(operand[operand.index(after: eq)...])
            switch key {
            case "if": o.input = value
            case "of": o.output = value
            case "bs":
                guard let v = SizeParser.parse(value), v >= 1, v <= UInt64(Int32.max) else {
                    throw CLIError("Invalid bs specified. Must be between 1 and \(Int32.max).")
                }
                o.blockSize = v
            case "count": o.count = try SizeParser.require(value, what: "count")
            case "skip": o.skip = try SizeParser.require(value, what: "skip")
            default: throw CLIError("unrecognized operand \(key)")
            }
        }
        return o
    }

    private func copy(_ o: Operands) throws {
        guard let input = o.input, let output = o.output else { throw CLIError("Must specify both input and output files") }
        let kind = try formatName(outputFormat)
        let inputImage = try image.resolve(input)
        if sameFile(inputImage.path, output) { throw CLIError("'\(output)' is also the input; refusing to overwrite it") }
        let source = try inputImage.open(writable: false, forceShare: image.forceShare)
        defer { try? source.close() }
        var end = source.virtualSize
        if let count = o.count, let bytes = checkedMultiply(count, o.blockSize), bytes < end { end = bytes }
        let skipBytes = checkedMultiply(o.skip, o.blockSize)
        var start = skipBytes ?? UInt64.max
        let outSize = start <= end ? end - start : 0
        try CreateOptionSet(kind: kind, specs: [], filename: output).create(path: output, size: outSize)
        let target = try openImage(path: output, format: kind.rawValue, writable: true, forceShare: false)
        defer { try? target.close() }
        if start > end {
            Console.error("\(input): cannot skip to specified offset")
            start = end
        }
        // Block by block as qemu-img does, in pieces of at most 4 MiB to bound memory.
        let piece = Int(min(o.blockSize, 4 << 20))
        var buffer = [UInt8](repeating: 0, count: piece)
        var inPos = start, outPos: UInt64 = 0
        while inPos < end {
            let n = Int(min(UInt64(piece), end - inPos))
            try buffer.withUnsafeMutableBytes { buf in
                let part = UnsafeMutableRawBufferPointer(rebasing: buf[0..<n])
                try source.read(into: part, at: inPos)
                try target.write(UnsafeRawBufferPointer(part), at: outPos)
            }
            inPos += UInt64(n)
            outPos += UInt64(n)
        }
        try target.close()
    }

    private func checkedMultiply(_ a: UInt64, _ b: UInt64) -> UInt64? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }
}
