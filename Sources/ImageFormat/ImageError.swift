#if canImport(Glibc)
import Glibc
#endif

/// Every failure the format layer reports. Each case names the file and, where there is one,
/// the on-disk structure and its offset, so a person can tell what is wrong and where.
public enum ImageError: Error, CustomStringConvertible, Equatable {
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)
    /// An on-disk structure is malformed or violates a format limit.
    case corrupt(path: String, structure: String, offset: UInt64, detail: String)
    /// The image uses a feature img does not implement.
    case unsupported(path: String, feature: String)
    /// The caller asked for something impossible (bad option, out of range request).
    case invalidArgument(String)
    /// Another process holds a conflicting lock on the image.
    case locked(path: String, permission: String, shared: Bool)
    /// The image has the corrupt bit set (or an overlap was just prevented).
    case markedCorrupt(path: String, detail: String)
    /// A write would overwrite live metadata.
    case overlap(path: String, structure: String, offset: UInt64, length: UInt64)
    /// Read-only image or device.
    case readOnly(path: String)

    public var description: String {
        switch self {
        case let .io(path, op, err):
            return "Could not \(op) '\(path)': \(String(cString: strerror(err)))"
        case let .corrupt(path, structure, offset, detail):
            return "'\(path)': corrupt \(structure) at offset 0x\(String(offset, radix: 16)): \(detail)"
        case let .unsupported(path, feature):
            return "'\(path)': unsupported feature: \(feature)"
        case let .invalidArgument(message):
            return message
        case let .locked(path, permission, shared):
            let kind = shared ? "shared \"\(permission)\"" : "\"\(permission)\""
            return "Failed to get \(kind) lock on '\(path)'\nIs another process using the image [\(path)]?"
        case let .markedCorrupt(path, detail):
            return "'\(path)': \(detail)"
        case let .overlap(path, structure, offset, length):
            return "'\(path)': Preventing invalid write on metadata (overlaps with \(structure)); "
                + "write at offset 0x\(String(offset, radix: 16)) length \(length) refused, image marked corrupt"
        case let .readOnly(path):
            return "'\(path)': image is opened read-only"
        }
    }
}
