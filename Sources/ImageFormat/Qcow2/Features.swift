/// Feature bits of the v3 header, and what this implementation supports.
public enum Qcow2Feature {
    public enum Incompatible {
        public static let dirty: UInt64 = 1 << 0
        public static let corrupt: UInt64 = 1 << 1
        public static let externalDataFile: UInt64 = 1 << 2
        public static let compressionType: UInt64 = 1 << 3
        public static let extendedL2: UInt64 = 1 << 4
        /// Bits we can open images with.
        public static let supported: UInt64 = dirty | corrupt | compressionType | extendedL2
        static let names: [(UInt64, String)] = [
            (dirty, "dirty bit"), (corrupt, "corrupt bit"), (externalDataFile, "external data file"),
            (compressionType, "compression type"), (extendedL2, "extended L2 entries"),
        ]
    }
    public enum Compatible {
        public static let lazyRefcounts: UInt64 = 1 << 0
    }
    public enum Autoclear {
        public static let bitmaps: UInt64 = 1 << 0
        public static let rawExternalData: UInt64 = 1 << 1
    }

    public enum CompressionType: UInt8, Sendable {
        case zlib = 0
        case zstd = 1
        public var name: String { self == .zlib ? "zlib" : "zstd" }
    }

    /// Names unknown incompatible bits: from the image's feature-name table when it has an
    /// entry, otherwise from our own table, otherwise by number.
    static func describeUnsupported(_ bits: UInt64, table: [FeatureNameEntry]) -> String {
        var names: [String] = []
        for bit in 0..<64 where bits & (1 << UInt64(bit)) != 0 {
            if let entry = table.first(where: { $0.type == 0 && Int($0.bit) == bit }) {
                names.append(entry.name)
            } else if let known = Incompatible.names.first(where: { $0.0 == 1 << UInt64(bit) }) {
                names.append(known.1)
            } else {
                names.append("Unknown incompatible feature: \(String(1 << UInt64(bit), radix: 16))")
            }
        }
        return names.joined(separator: ", ")
    }
}
