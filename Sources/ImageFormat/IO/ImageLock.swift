import CHost

/// Image locking compatible with QEMU's file-posix driver: one-byte OFD locks at
/// 100 + permission bit ("I use this permission") and 200 + permission bit ("I do not let
/// others use it"). A conflict is another open file description holding the opposite byte.
public struct ImageLock {
    public struct Permissions: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let consistentRead = Permissions(rawValue: 1 << 0)
        public static let write = Permissions(rawValue: 1 << 1)
        public static let writeUnchanged = Permissions(rawValue: 1 << 2)
        public static let resize = Permissions(rawValue: 1 << 3)
        public static let all: Permissions = [.consistentRead, .write, .writeUnchanged, .resize]
    }

    static let permissionBase: Int64 = 100
    static let sharedBase: Int64 = 200
    static let names = ["consistent read", "write", "write unchanged", "resize"]

    /// What a writer takes: every permission, sharing only reads that tolerate change.
    public static let writer = (use: Permissions.all, share: Permissions([.consistentRead, .writeUnchanged]))
    /// A plain reader: consistent reads, and nobody may write meanwhile.
    public static let reader = (use: Permissions.consistentRead,
                                share: Permissions([.consistentRead, .writeUnchanged]))
    /// -U / force-share: read whatever others do.
    public static let sharedReader = (use: Permissions.consistentRead, share: Permissions.all)

    /// Checks for conflicts and takes the lock bytes on `file`'s descriptor. The locks last
    /// as long as the descriptor stays open.
    public static func acquire(_ file: HostFile, use: Permissions, share: Permissions) throws {
        let unshared = Permissions.all.subtracting(share)
        for bit in 0..<4 {
            if use.rawValue & (1 << bit) != 0 {
                if try conflict(file, at: sharedBase + Int64(bit)) {
                    throw ImageError.locked(path: file.path, permission: names[bit], shared: false)
                }
            }
            if unshared.rawValue & (1 << bit) != 0 {
                if try conflict(file, at: permissionBase + Int64(bit)) {
                    throw ImageError.locked(path: file.path, permission: names[bit], shared: true)
                }
            }
        }
        for bit in 0..<4 {
            if use.rawValue & (1 << bit) != 0 { try set(file, at: permissionBase + Int64(bit)) }
            if unshared.rawValue & (1 << bit) != 0 { try set(file, at: sharedBase + Int64(bit)) }
        }
    }

    private static func conflict(_ file: HostFile, at byte: Int64) throws -> Bool {
        let r = img_ofd_testlk(file.fd, byte, 1)
        if r < 0 { throw ImageError.io(path: file.path, operation: "test lock on", errno: -r) }
        return r == 1
    }

    private static func set(_ file: HostFile, at byte: Int64) throws {
        let r = img_ofd_setlk(file.fd, byte, 0)
        if r < 0 { throw ImageError.locked(path: file.path, permission: "lock byte \(byte)", shared: true) }
    }
}
