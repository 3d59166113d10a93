/// One persistent dirty bitmap as its bitmap-directory entry describes it.
public struct Qcow2BitmapEntry: Sendable, Equatable {
    public let name: String
    /// Each bit covers 2^granularityBits bytes of the guest.
    public let granularityBits: Int
    public let flags: UInt32
}

extension Qcow2Image {
    /// QEMU's limits on the bitmap directory (qcow2.txt: at most 65535 bitmaps, names up to
    /// 1023 bytes, granularity 512 B to 2 GiB).
    static let maxBitmaps = 65535
    static let maxBitmapDirectorySize: UInt64 = 1024 * 65535
    static let maxBitmapNameSize = 1023

    /// The persistent bitmaps of the image, from the bitmap directory. None when the
    /// bitmaps autoclear bit is clear: a program that did not know bitmaps has written the
    /// image since, so QEMU treats the extension as stale and ignores it.
    public func persistentBitmaps() throws -> [Qcow2BitmapEntry] {
        guard header.autoclearFeatures & Qcow2Feature.Autoclear.bitmaps != 0,
              let ext = extensions.first(where: { $0.type == HeaderExtension.bitmaps }) else { return [] }
        let structure = "bitmap directory"
        guard let count = ext.data.be(UInt32.self, at: 0), let size = ext.data.be(UInt64.self, at: 8),
              let offset = ext.data.be(UInt64.self, at: 16) else {
            throw ImageError.corrupt(path: filename, structure: "bitmaps header extension", offset: 0,
                                     detail: "extension shorter than 24 bytes")
        }
        guard Int(count) <= Self.maxBitmaps, size <= Self.maxBitmapDirectorySize else {
            throw ImageError.corrupt(path: filename, structure: structure, offset: offset,
                                     detail: "\(count) bitmaps in \(size) bytes exceed QEMU's limits")
        }
        guard count > 0 else { return [] }
        guard offset % UInt64(clusterSize) == 0, let end = checkedAdd(offset, size), end <= (try file.size()) else {
            throw ImageError.corrupt(path: filename, structure: structure, offset: offset,
                                     detail: "directory of \(size) bytes is unaligned or past the end of the file")
        }
        let bytes = try file.read(count: Int(size), at: offset)
        var entries: [Qcow2BitmapEntry] = []
        var at = 0
        for _ in 0..<count {
            let entry = try parseBitmapEntry(bytes, at: &at, directoryOffset: offset)
            entries.append(entry)
        }
        return entries
    }

    private func parseBitmapEntry(_ bytes: [UInt8], at: inout Int, directoryOffset: UInt64) throws -> Qcow2BitmapEntry {
        func bad(_ detail: String) -> ImageError {
            .corrupt(path: filename, structure: "bitmap directory", offset: directoryOffset + UInt64(at), detail: detail)
        }
        guard let flags = bytes.be(UInt32.self, at: at + 12), let granularity = bytes.be(UInt8.self, at: at + 17),
              let nameSize = bytes.be(UInt16.self, at: at + 18), let extraSize = bytes.be(UInt32.self, at: at + 20) else {
            throw bad("entry runs past the end of the directory")
        }
        guard (9...31).contains(granularity) else { throw bad("granularity bits \(granularity) outside 9..31") }
        guard nameSize > 0, Int(nameSize) <= Self.maxBitmapNameSize else { throw bad("name size \(nameSize)") }
        let nameStart = at + 24 + Int(extraSize)
        let entrySize = (24 + Int(extraSize) + Int(nameSize) + 7) / 8 * 8
        guard UInt64(extraSize) <= Self.maxBitmapDirectorySize, nameStart + Int(nameSize) <= bytes.count else {
            throw bad("entry runs past the end of the directory")
        }
        let name = String(decoding: bytes[nameStart..<nameStart + Int(nameSize)], as: UTF8.self)
        at += entrySize
        return Qcow2BitmapEntry(name: name, granularityBits: Int(granularity), flags: flags)
    }
}
