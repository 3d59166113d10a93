/// A raw image: guest offset = host offset. Holes in the host file are reported as zero,
/// unallocated-in-this-layer extents, as QEMU's file driver reports them.
public final class RawImage: BlockDevice {
    public let file: HostFile
    public var filename: String { file.path }
    public var formatName: String { "raw" }
    public private(set) var virtualSize: UInt64
    public var isWritable: Bool { file.writable }

    init(file: HostFile) throws {
        self.file = file
        virtualSize = try file.size()
    }

    public static func open(path: String, writable: Bool, forceShare: Bool, lock: Bool = true) throws -> RawImage {
        let file = try HostFile(path: path, mode: writable ? .readWrite : .readOnly)
        if lock {
            let perms = writable ? ImageLock.writer : (forceShare ? ImageLock.sharedReader : ImageLock.reader)
            try ImageLock.acquire(file, use: perms.use, share: perms.share)
        }
        return try RawImage(file: file)
    }

    public enum Preallocation: String, Sendable { case off, falloc, full }

    public static func create(path: String, size: UInt64, preallocation: Preallocation = .off) throws {
        let file = try HostFile(path: path, mode: .create)
        try file.truncate(to: 0)
        switch preallocation {
        case .off: break
        case .falloc: try file.allocate(offset: 0, length: size)
        case .full: try file.writeZeroes(offset: 0, length: size)
        }
        try file.truncate(to: size)
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        try checkRange(offset, buffer.count)
        try file.read(into: buffer, at: offset)
    }

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        try checkRange(offset, buffer.count)
        try file.write(buffer, at: offset)
    }

    public func writeZeroes(at offset: UInt64, length: UInt64, mayUnmap: Bool) throws {
        try checkRange(offset, length)
        if mayUnmap, try file.punchHole(offset: offset, length: length) { return }
        try file.writeZeroes(offset: offset, length: length)
    }

    public func discard(at offset: UInt64, length: UInt64) throws {
        try checkRange(offset, length)
        _ = try file.punchHole(offset: offset, length: length)
    }

    public func flush() throws { try file.sync() }

    public func blockStatus(at offset: UInt64, length: UInt64) throws -> [Extent] {
        try checkRange(offset, length)
        var extents: [Extent] = []
        var pos = offset
        let end = offset + length
        while pos < end {
            let dataStart = min(file.nextData(from: pos) ?? end, end)
            if dataStart > pos {
                extents.append(Extent(start: pos, length: dataStart - pos, depth: 0, present: true,
                                      zero: true, data: false, hostOffset: pos, hostFile: filename))
                pos = dataStart
                continue
            }
            let holeStart = min(file.nextHole(from: pos), end)
            let stop = holeStart > pos ? holeStart : end
            extents.append(Extent(start: pos, length: stop - pos, depth: 0, present: true, zero: false,
                                  data: true, hostOffset: pos, hostFile: filename))
            pos = stop
        }
        return extents
    }

    public func resize(to size: UInt64) throws {
        try file.truncate(to: size)
        virtualSize = size
    }

    public func close() throws { file.closeDescriptor() }
}
