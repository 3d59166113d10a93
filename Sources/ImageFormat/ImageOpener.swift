#if canImport(Glibc)
import Glibc
#endif

/// How to open an image, whatever its format.
public struct ImageOpenOptions: Sendable {
    public var writable = false
    public var forceShare = false
    public var qcow2 = Qcow2OpenOptions()
    /// Canonical paths already open above this image in a backing chain (loop detection).
    public var chain: Set<String> = []
    public init() {}
}

/// Formats img can open.
public enum ImageFormatName: String, CaseIterable, Sendable {
    case qcow2, raw
}

/// Guesses the format from the first bytes, as qemu-img does for the formats we support.
public func probeFormat(path: String) throws -> ImageFormatName {
    let file = try HostFile(path: path, mode: .readOnly)
    let head = try file.read(count: 4, at: 0)
    let isQcow2 = head.be(UInt32.self, at: 0) == Qcow2Header.magic
    return try isQcow2 && file.size() >= 4 ? .qcow2 : .raw
}

/// Opens an image of the named format (probed when nil), with its backing chain.
public func openImage(path: String, format: String?, options: ImageOpenOptions = ImageOpenOptions()) throws -> BlockDevice {
    let kind: ImageFormatName
    if let format {
        guard let k = ImageFormatName(rawValue: format) else {
            throw ImageError.invalidArgument("Unknown driver '\(format)'")
        }
        kind = k
    } else {
        kind = try probeFormat(path: path)
    }
    switch kind {
    case .raw:
        return try RawImage.open(path: path, writable: options.writable, forceShare: options.forceShare)
    case .qcow2:
        var q = options.qcow2
        q.writable = options.writable
        q.forceShare = options.forceShare
        let image = try Qcow2Image.open(path: path, options: q, chain: options.chain)
        if options.writable && image.isDirty {
            try image.repairAfterUncleanShutdown()
        }
        return image
    }
}

/// The same overload the emulator and other tools call.
public func openImage(path: String, format: String?, writable: Bool, forceShare: Bool) throws -> BlockDevice {
    var options = ImageOpenOptions()
    options.writable = writable
    options.forceShare = forceShare
    return try openImage(path: path, format: format, options: options)
}

func canonicalPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}
