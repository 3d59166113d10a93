import ArgumentParser
import ImageFormat

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a simple sequential I/O benchmark on an image.",
        discussion: """
        Prints like qemu-img bench. img's format layer completes requests in order, one at a \
        time: -d (queue depth) and -i/-n (AIO engine) are accepted for compatibility and do not \
        change how requests are issued.
        """)

    @OptionGroup var image: ImageOptions
    @Option(name: .customShort("c"), help: "Number of requests.")
    var count = 75000
    @Option(name: .customShort("d"), help: "Queue depth (accepted; requests complete in order).")
    var depth = 64
    @Option(name: .customShort("i"), help: "AIO engine (accepted; img does synchronous I/O).")
    var aio: String?
    @Flag(name: .customShort("n"), help: "Native AIO (accepted; img does synchronous I/O).")
    var nativeAIO = false
    @Option(name: .customShort("o"), help: "First offset.")
    var offset = "0"
    @Option(name: .customShort("s"), help: "Request size.")
    var bufferSize = "4096"
    @Option(name: .customShort("S"), help: "Distance between request offsets (default: the request size).")
    var stepSize: String?
    @Option(name: .customShort("t"), help: "Cache mode: writeback (default), writethrough or unsafe.")
    var cache = "writeback"
    @Flag(name: .customShort("w"), help: "Write instead of read.")
    var write = false
    @Option(name: .customLong("pattern"), help: "Byte written by write requests.")
    var pattern = 0
    @Option(name: .customLong("flush-interval"), help: "Flush after every N requests (writes only).")
    var flushInterval = 0
    @Flag(name: .customLong("no-drain"), help: "Do not wait for requests before a flush (accepted).")
    var noDrain = false
    @Flag(name: .customShort("q"), help: "Quiet.")
    var quiet = false
    @Argument(help: "The image file.")
    var filename: String

    func run() throws {
        try runReportingErrors {
            let size = try SizeParser.require(bufferSize, what: "buffer size")
            let step = try stepSize.map { try SizeParser.require($0, what: "step size") } ?? size
            let start = try SizeParser.require(offset, what: "offset")
            guard size > 0, size <= 1 << 30 else { throw CLIError("Invalid buffer size specified") }
            guard count > 0 else { throw CLIError("Invalid request count specified") }
            guard (0...255).contains(pattern) else { throw CLIError("Invalid pattern byte specified") }
            guard flushInterval == 0 || write else { throw CLIError("--flush-interval is only available in write tests") }
            let writethrough: Bool
            switch cache {
            case "writeback", "unsafe": writethrough = false
            case "writethrough": writethrough = true
            default: throw CLIError("Invalid cache mode '\(cache)': img supports writeback, writethrough and unsafe (no O_DIRECT)")
            }
            let device = try image.open(filename, writable: write)
            defer { if cache != "unsafe" { try? device.flush() }; try? device.close() }
            let imageSize = device.virtualSize
            guard start + size <= imageSize else { throw CLIError("Offset and request size exceed the image size") }
            if !quiet {
                print("Sending \(count) \(write ? "write" : "read") requests, \(size) bytes each, \(depth) in parallel "
                      + "(starting at offset \(start), step size \(step))")
                if flushInterval > 0 { print("Sending flush every \(flushInterval) requests") }
            }
            var buffer = [UInt8](repeating: UInt8(pattern), count: Int(size))
            // Plain locals: property-wrapper reads in the loop would be timed too.
            let (isWrite, requests, interval) = (write, count, flushInterval)
            let began = monotonicSeconds()
            var pos = start
            try buffer.withUnsafeMutableBytes { buf in
                for i in 1...requests {
                    if isWrite {
                        try device.write(UnsafeRawBufferPointer(buf), at: pos)
                        if writethrough || (interval > 0 && i % interval == 0) { try device.flush() }
                    } else {
                        try device.read(into: buf, at: pos)
                    }
                    // Wrap to the start of the image, as qemu-img bench does.
                    pos += step
                    if pos + size > imageSize { pos = start == 0 ? 0 : start % imageSize; if pos + size > imageSize { pos = 0 } }
                }
            }
            let seconds = monotonicSeconds() - began
            if !quiet { print(cFormat("Run completed in %3.3f seconds.", seconds)) }
        }
    }
}
