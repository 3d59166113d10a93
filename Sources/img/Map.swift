import ArgumentParser
import ImageFormat

struct Map: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show how guest offsets map to the image files.")

    @OptionGroup var image: ImageOptions
    @Option(help: "Output format: human or json.")
    var output: OutputFormat = .human
    @Option(name: .customLong("start-offset"), help: "First guest byte to map.")
    var startOffset: String?
    @Option(name: .customLong("max-length"), help: "Most guest bytes to map.")
    var maxLength: String?
    @Argument(help: "The image file.")
    var filename: String

    func run() throws {
        try runReportingErrors {
            let device = try image.open(filename)
            defer { try? device.close() }
            let start = try startOffset.map { try SizeParser.require($0, what: "start offset") } ?? 0
            let size = device.virtualSize
            guard start <= size else { return }
            var length = size - start
            if let maxLength { length = min(length, try SizeParser.require(maxLength, what: "max length")) }
            var extents: [Extent] = []
            // Bounded steps so huge sparse images never build one giant array at once.
            var pos = start
            let step: UInt64 = 1 << 30
            while pos < start + length {
                let n = min(step, start + length - pos)
                for e in try device.blockStatus(at: pos, length: n) {
                    if let last = extents.last, last.merges(with: e) { extents[extents.count - 1].length += e.length }
                    else { extents.append(e) }
                }
                pos += n
            }
            switch output {
            case .json:
                let records = extents.map { e -> String in
                    var m: [(String, JSON)] = [("start", .uint(e.start)), ("length", .uint(e.length)),
                                               ("depth", .int(Int64(e.depth))), ("present", .bool(e.present)),
                                               ("zero", .bool(e.zero)), ("data", .bool(e.data)),
                                               ("compressed", .bool(e.compressed))]
                    if let o = e.hostOffset { m.append(("offset", .uint(o))) }
                    return JSON.object(m).compact()
                }
                print("[" + records.joined(separator: ",\n") + "]")
            case .human:
                print("Offset          Length          Mapped to       File")
                for e in extents where e.data && e.hostOffset != nil {
                    print(pad(hex(e.start), 16) + pad(hex(e.length), 16) + pad(hex(e.hostOffset!), 16) + (e.hostFile ?? ""))
                }
            }
        }
    }

    private func hex(_ v: UInt64) -> String { v == 0 ? "0" : "0x" + String(v, radix: 16) }
    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
}
