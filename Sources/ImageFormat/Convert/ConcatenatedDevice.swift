/// Several images read back to back as one (qemu-img convert with several sources):
/// guest offset 0 of each member follows the last byte of the one before. Read-only.
public final class ConcatenatedDevice: BlockDevice {
    public let members: [BlockDevice]
    /// Guest offset where each member starts.
    private let starts: [UInt64]
    public let virtualSize: UInt64

    public init(_ members: [BlockDevice]) throws {
        self.members = members
        var starts: [UInt64] = []
        var total: UInt64 = 0
        for m in members {
            starts.append(total)
            guard let sum = checkedAdd(total, m.virtualSize) else {
                throw ImageError.invalidArgument("the sources' sizes add up to more than 2^64 bytes")
            }
            total = sum
        }
        self.starts = starts
        virtualSize = total
    }

    public var filename: String { members.map(\.filename).joined(separator: " + ") }
    public var formatName: String { members.first?.formatName ?? "raw" }
    public var isWritable: Bool { false }

    /// Calls `body(member, memberOffset, outerOffset, length)` for each member piece of the range.
    private func pieces(_ offset: UInt64, _ length: UInt64,
                        _ body: (BlockDevice, UInt64, UInt64, UInt64) throws -> Void) throws {
        try checkRange(offset, length)
        var pos = offset
        let end = offset + length
        var i = (starts.lastIndex { $0 <= pos }) ?? 0
        while pos < end && i < members.count {
            let memberEnd = starts[i] + members[i].virtualSize
            if pos < memberEnd {
                let n = min(end, memberEnd) - pos
                try body(members[i], pos - starts[i], pos, n)
                pos += n
            }
            i += 1
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        try pieces(offset, UInt64(buffer.count)) { dev, inner, outer, n in
            let from = Int(outer - offset)
            try dev.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[from..<(from + Int(n))]), at: inner)
        }
    }

    public func blockStatus(at offset: UInt64, length: UInt64) throws -> [Extent] {
        var result: [Extent] = []
        try pieces(offset, length) { dev, inner, outer, n in
            for var e in try dev.blockStatus(at: inner, length: n) {
                e.start = e.start - inner + outer
                result.append(e)
            }
        }
        return result
    }

    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws { throw ImageError.readOnly(path: filename) }
    public func writeZeroes(at offset: UInt64, length: UInt64, mayUnmap: Bool) throws { throw ImageError.readOnly(path: filename) }
    public func discard(at offset: UInt64, length: UInt64) throws { throw ImageError.readOnly(path: filename) }
    public func flush() throws {}
    public func close() throws { for m in members { try m.close() } }
}
