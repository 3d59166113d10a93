import ArgumentParser
import ImageFormat

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show information about a disk image.")

    @OptionGroup var image: ImageOptions
    @Option(help: "Output format: human or json.")
    var output: OutputFormat = .human
    @Flag(name: .customLong("backing-chain"), help: "Show every image of the backing chain.")
    var backingChain = false
    @Argument(help: "The image file.")
    var filename: String

    func run() throws {
        try runReportingErrors {
            // Like qemu-img, plain info does not need (or open) the backing chain.
            var resolved = try image.resolve(filename)
            resolved.qcow2.openBacking = backingChain
            let device = try resolved.open(writable: false, forceShare: image.forceShare)
            defer { try? device.close() }
            var layers: [BlockDevice] = [device]
            if backingChain {
                while let q = layers.last as? Qcow2Image, let b = q.backing { layers.append(b) }
            }
            switch output {
            case .json:
                let objects = try layers.map { try ImageInfoReport(device: $0).json() }
                print(backingChain ? JSON.array(objects).pretty() : objects[0].pretty())
            case .human:
                print(try layers.map { try ImageInfoReport(device: $0).human() }.joined(separator: "\n\n"))
            }
        }
    }
}

/// What `img info` reports about one image, in qemu-img's field order.
struct ImageInfoReport {
    let device: BlockDevice

    var qcow2: Qcow2Image? { device as? Qcow2Image }

    func actualSize() throws -> UInt64 {
        if let q = qcow2 { return try q.file.allocatedSize() }
        if let r = device as? RawImage { return try r.file.allocatedSize() }
        return 0
    }

    var fullBackingName: String? {
        guard let q = qcow2, let name = q.backingFileName, !name.isEmpty else { return nil }
        return resolveBackingPath(name, relativeTo: q.filename)
    }

    func formatSpecific() throws -> [(String, JSON)]? {
        guard let q = qcow2 else { return nil }
        let v3 = q.header.version >= 3
        var data: [(String, JSON)] = [("compat", .string(v3 ? "1.1" : "0.10")),
                                      ("compression-type", .string(q.compressionType.name))]
        if v3 { data.append(("lazy-refcounts", .bool(q.header.compatibleFeatures & Qcow2Feature.Compatible.lazyRefcounts != 0))) }
        let bitmaps = try q.persistentBitmaps()
        if !bitmaps.isEmpty { data.append(("bitmaps", .array(bitmaps.map(ImageInfoReport.bitmapJSON)))) }
        data.append(("refcount-bits", .int(Int64(q.header.refcountBits))))
        if v3 {
            data.append(("corrupt", .bool(q.isCorrupt)))
            data.append(("extended-l2", .bool(q.header.incompatibleFeatures & Qcow2Feature.Incompatible.extendedL2 != 0)))
        }
        return data
    }

    /// A bitmap as qemu-img info lists it: flags (in-use before auto), name, granularity.
    static func bitmapJSON(_ b: Qcow2BitmapEntry) -> JSON {
        var flags: [JSON] = []
        if b.flags & 1 != 0 { flags.append(.string("in-use")) }
        if b.flags & 2 != 0 { flags.append(.string("auto")) }
        return .object([("flags", .array(flags)), ("name", .string(b.name)),
                        ("granularity", .uint(UInt64(1) << UInt64(b.granularityBits)))])
    }

    /// QEMU's human rendering of nested info: "key: value", or "key:" followed by the
    /// members one level deeper; list items are named [0], [1], ...; dashes in keys read
    /// as spaces.
    static func humanLines(_ value: JSON, indent: Int) -> [String] {
        let pad = String(repeating: "    ", count: indent)
        let members: [(String, JSON)]
        switch value {
        case .object(let m): members = m.map { ($0.0.replacing("-", with: " "), $0.1) }
        case .array(let items): members = items.enumerated().map { ("[\($0.offset)]", $0.element) }
        default: return []
        }
        var lines: [String] = []
        for (key, member) in members {
            switch member {
            case .object, .array:
                lines.append("\(pad)\(key):")
                lines += humanLines(member, indent: indent + 1)
            default:
                lines.append("\(pad)\(key): \(member.compact().replacing("\"", with: ""))")
            }
        }
        return lines
    }

    func json() throws -> JSON {
        var m: [(String, JSON)] = []
        if let q = qcow2, let fmt = q.backingFormat, q.backingFileName != nil { m.append(("backing-filename-format", .string(fmt))) }
        if let q = qcow2, !q.snapshots.isEmpty { m.append(("snapshots", .array(q.snapshots.map(SnapshotListing.json)))) }
        m.append(("virtual-size", .uint(device.virtualSize)))
        m.append(("filename", .string(device.filename)))
        if let q = qcow2 { m.append(("cluster-size", .int(Int64(q.clusterSize)))) }
        m.append(("format", .string(device.formatName)))
        m.append(("actual-size", .uint(try actualSize())))
        if let data = try formatSpecific() {
            m.append(("format-specific", .object([("type", .string("qcow2")), ("data", .object(data))])))
        }
        if let full = fullBackingName, let q = qcow2 {
            m.append(("full-backing-filename", .string(full)))
            m.append(("backing-filename", .string(q.backingFileName!)))
        }
        m.append(("dirty-flag", .bool(qcow2?.isDirty ?? false)))
        return .object(m)
    }

    func human() throws -> String {
        var lines = ["image: \(device.filename)", "file format: \(device.formatName)",
                     "virtual size: \(humanSize(device.virtualSize)) (\(device.virtualSize) bytes)",
                     "disk size: \(humanSize(try actualSize()))"]
        if let q = qcow2 {
            lines.append("cluster_size: \(q.clusterSize)")
            if let name = q.backingFileName, !name.isEmpty {
                let full = fullBackingName ?? name
                lines.append(full == name ? "backing file: \(name)" : "backing file: \(name) (actual path: \(full))")
                if let fmt = q.backingFormat { lines.append("backing file format: \(fmt)") }
            }
            if q.isDirty { lines.append("cleanly shut down: no") }
            if !q.snapshots.isEmpty {
                lines.append("Snapshot list:")
                lines.append(SnapshotListing.header)
                lines += q.snapshots.map(SnapshotListing.row)
            }
        }
        if let data = try formatSpecific() {
            lines.append("Format specific information:")
            lines += ImageInfoReport.humanLines(.object(data), indent: 1)
        }
        return lines.joined(separator: "\n")
    }
}
