/// One run of guest addresses with the same allocation status, as `qemu-img map` reports it.
public struct Extent: Equatable, Sendable {
    public var start: UInt64
    public var length: UInt64
    /// How many layers down the backing chain the data comes from (0 = this image).
    public var depth: Int
    /// Whether any layer of the chain defines this range (false = reads as zero from nowhere).
    public var present: Bool
    /// Reads as zero.
    public var zero: Bool
    /// Backed by data stored in a file.
    public var data: Bool
    public var compressed: Bool
    /// Where the data sits in the layer's host file, when it sits in one place.
    public var hostOffset: UInt64?
    /// The file that holds it (for map's human output).
    public var hostFile: String?

    public init(start: UInt64, length: UInt64, depth: Int, present: Bool, zero: Bool, data: Bool,
                compressed: Bool = false, hostOffset: UInt64? = nil, hostFile: String? = nil) {
        self.start = start; self.length = length; self.depth = depth; self.present = present
        self.zero = zero; self.data = data; self.compressed = compressed
        self.hostOffset = hostOffset; self.hostFile = hostFile
    }

    /// Whether `next` continues this extent so the two can be reported as one.
    public func merges(with next: Extent) -> Bool {
        guard start + length == next.start, depth == next.depth, present == next.present,
              zero == next.zero, data == next.data, compressed == next.compressed,
              hostFile == next.hostFile else { return false }
        switch (hostOffset, next.hostOffset) {
        case (nil, nil): return true
        case let (a?, b?): return a + length == b
        default: return false
        }
    }
}

/// The protocol every image format exposes. Offsets and lengths are guest bytes.
public protocol BlockDevice: AnyObject {
    var filename: String { get }
    var formatName: String { get }
    var virtualSize: UInt64 { get }
    var isWritable: Bool { get }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws
    func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws
    /// Makes the range read as zero; `mayUnmap` lets the format deallocate it.
    func writeZeroes(at offset: UInt64, length: UInt64, mayUnmap: Bool) throws
    /// Tells the format the guest no longer needs the range; contents afterwards are
    /// zero or the backing file's, as the format defines.
    func discard(at offset: UInt64, length: UInt64) throws
    func flush() throws
    /// Status of the range, as contiguous extents covering exactly [offset, offset+length).
    func blockStatus(at offset: UInt64, length: UInt64) throws -> [Extent]
    /// Flushes and releases the image; further calls fail.
    func close() throws
}

extension BlockDevice {
    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        return bytes
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: offset) }
    }

    /// Checks a guest request against the virtual size with overflow-safe arithmetic.
    package func checkRange(_ offset: UInt64, _ length: Int) throws {
        try checkRange(offset, UInt64(length))
    }

    package func checkRange(_ offset: UInt64, _ length: UInt64) throws {
        guard let end = checkedAdd(offset, length), end <= virtualSize else {
            throw ImageError.invalidArgument(
                "'\(filename)': request at offset \(offset) length \(length) is past the end of the image (\(virtualSize) bytes)")
        }
    }
}
