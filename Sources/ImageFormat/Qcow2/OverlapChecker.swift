/// The metadata structures a write may be checked against, named as QEMU names them.
public enum MetadataStructure: Int, CaseIterable, Sendable {
    case mainHeader, activeL1, activeL2, refcountTable, refcountBlock, snapshotTable,
         inactiveL1, inactiveL2, bitmapDirectory

    public var name: String {
        switch self {
        case .mainHeader: return "qcow2_header"
        case .activeL1: return "active L1 table"
        case .activeL2: return "active L2 table"
        case .refcountTable: return "refcount table"
        case .refcountBlock: return "refcount block"
        case .snapshotTable: return "snapshot table"
        case .inactiveL1: return "inactive L1 table"
        case .inactiveL2: return "inactive L2 table"
        case .bitmapDirectory: return "bitmap directory"
        }
    }

    /// The option key of QEMU's per-structure switch (overlap-check.NAME).
    public var optionKey: String {
        switch self {
        case .mainHeader: return "main-header"
        case .activeL1: return "active-l1"
        case .activeL2: return "active-l2"
        case .refcountTable: return "refcount-table"
        case .refcountBlock: return "refcount-block"
        case .snapshotTable: return "snapshot-table"
        case .inactiveL1: return "inactive-l1"
        case .inactiveL2: return "inactive-l2"
        case .bitmapDirectory: return "bitmap-directory"
        }
    }
}

/// A set of metadata structures as a bit mask: checked on every write, so building or
/// intersecting one must not allocate.
public struct MetadataStructures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ structure: MetadataStructure) { rawValue = 1 << UInt16(structure.rawValue) }

    public static let mainHeader = MetadataStructures(.mainHeader)
    public static let activeL1 = MetadataStructures(.activeL1)
    public static let activeL2 = MetadataStructures(.activeL2)
    public static let refcountTable = MetadataStructures(.refcountTable)
    public static let refcountBlock = MetadataStructures(.refcountBlock)
    public static let snapshotTable = MetadataStructures(.snapshotTable)
    public static let inactiveL1 = MetadataStructures(.inactiveL1)
    public static let inactiveL2 = MetadataStructures(.inactiveL2)
    public static let bitmapDirectory = MetadataStructures(.bitmapDirectory)
}

/// Which structures are checked: QEMU's overlap-check modes plus per-structure switches.
public struct OverlapCheckPolicy: Equatable, Sendable {
    public var enabled: MetadataStructures

    public static let none = OverlapCheckPolicy(enabled: [])
    public static let constant = OverlapCheckPolicy(
        enabled: [.mainHeader, .activeL1, .refcountTable, .snapshotTable, .bitmapDirectory])
    public static let cached = OverlapCheckPolicy(
        enabled: constant.enabled.union([.activeL2, .refcountBlock, .inactiveL1]))
    public static let all = OverlapCheckPolicy(enabled: MetadataStructures(rawValue: (1 << 9) - 1))

    public static func mode(_ name: String) -> OverlapCheckPolicy? {
        switch name {
        case "none": return OverlapCheckPolicy.none
        case "constant": return .constant
        case "cached": return .cached
        case "all": return .all
        default: return nil
        }
    }
}
