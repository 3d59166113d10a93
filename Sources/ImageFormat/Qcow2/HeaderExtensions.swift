/// One entry of the feature-name table extension: type (0 incompatible, 1 compatible,
/// 2 autoclear), bit number, and a name of up to 46 bytes.
public struct FeatureNameEntry: Equatable {
    public var type: UInt8
    public var bit: UInt8
    public var name: String
}

/// A header extension as stored: type, and payload (without the padding to 8 bytes).
/// Extensions we do not understand are kept byte for byte and written back in order.
public struct HeaderExtension: Equatable {
    public var type: UInt32
    public var data: [UInt8]

    public static let backingFormat: UInt32 = 0xE279_2ACA
    public static let featureNameTable: UInt32 = 0x6803_F857
    public static let bitmaps: UInt32 = 0x2385_2875
    public static let fullDiskEncryption: UInt32 = 0x0537_BE77
    public static let externalDataFile: UInt32 = 0x4441_5441

    /// Parses extensions starting at `start` inside the first cluster `b` (which ends at
    /// `limit`: the cluster end or the backing file name, whichever comes first).
    static func parseAll(_ b: [UInt8], start: Int, limit: Int, path: String) throws -> [HeaderExtension] {
        var result: [HeaderExtension] = []
        var offset = start
        while true {
            guard offset + 8 <= limit, let type = b.be(UInt32.self, at: offset),
                  let length = b.be(UInt32.self, at: offset + 4) else {
                throw ImageError.corrupt(path: path, structure: "header extension", offset: UInt64(offset),
                                         detail: "extension header runs past the end of the header area")
            }
            if type == 0 { return result }
            let dataStart = offset + 8
            guard UInt64(length) <= UInt64(limit - dataStart) else {
                throw ImageError.corrupt(path: path, structure: "header extension", offset: UInt64(offset),
                                         detail: "extension 0x\(String(type, radix: 16)) length \(length) runs past the header area")
            }
            result.append(HeaderExtension(type: type, data: Array(b[dataStart..<dataStart + Int(length)])))
            offset = dataStart + Int(alignUp(UInt64(length), 8))
            if result.count > 4096 {
                throw ImageError.corrupt(path: path, structure: "header extension", offset: UInt64(offset),
                                         detail: "too many header extensions")
            }
        }
    }

    /// Serializes a list of extensions followed by the end marker.
    static func serializeAll(_ exts: [HeaderExtension]) -> [UInt8] {
        var out: [UInt8] = []
        for ext in exts {
            out.appendBE(ext.type)
            out.appendBE(UInt32(ext.data.count))
            out += ext.data
            out += [UInt8](repeating: 0, count: Int(alignUp(UInt64(ext.data.count), 8)) - ext.data.count)
        }
        out += [UInt8](repeating: 0, count: 8)
        return out
    }

    func featureNames() -> [FeatureNameEntry] {
        var entries: [FeatureNameEntry] = []
        var i = 0
        while i + 48 <= data.count {
            let nameBytes = data[(i + 2)..<(i + 48)].prefix { $0 != 0 }
            entries.append(FeatureNameEntry(type: data[i], bit: data[i + 1],
                                            name: String(decoding: nameBytes, as: UTF8.self)))
            i += 48
        }
        return entries
    }

    static func featureNameTable(_ entries: [FeatureNameEntry]) -> HeaderExtension {
        var data: [UInt8] = []
        for e in entries {
            var name = Array(e.name.utf8.prefix(46))
            name += [UInt8](repeating: 0, count: 46 - name.count)
            data += [e.type, e.bit] + name
        }
        return HeaderExtension(type: featureNameTable, data: data)
    }

    /// The table QEMU writes into every new image.
    static let defaultFeatureNames: [FeatureNameEntry] = [
        .init(type: 0, bit: 0, name: "dirty bit"),
        .init(type: 0, bit: 1, name: "corrupt bit"),
        .init(type: 0, bit: 2, name: "external data file"),
        .init(type: 0, bit: 3, name: "compression type"),
        .init(type: 0, bit: 4, name: "extended L2 entries"),
        .init(type: 1, bit: 0, name: "lazy refcounts"),
        .init(type: 2, bit: 0, name: "bitmaps"),
        .init(type: 2, bit: 1, name: "raw external data"),
    ]
}
