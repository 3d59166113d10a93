import ImageFormat

/// Walks an image's block status (as QEMU reports it) forward without asking for the whole rest of the image
/// at every step: extents are fetched a window at a time and handed out by offset.
final class BlockStatusCursor {
    let device: BlockDevice
    private let status: QemuBlockStatus
    private var extents: [Extent] = []
    private var index = 0
    private let window: UInt64 = 1 << 30

    init(_ device: BlockDevice) throws {
        self.device = device
        status = try QemuBlockStatus(device)
    }

    /// The status at `offset`, trimmed to start there (never past `end`).
    func extent(at offset: UInt64, end: UInt64) throws -> Extent {
        while index < extents.count && extents[index].start + extents[index].length <= offset { index += 1 }
        if index == extents.count || extents[index].start > offset {
            extents = try status.extents(at: offset, length: min(window, end - offset))
            index = 0
        }
        var e = extents[index]
        let stop = min(e.start + e.length, end)
        e.length = stop - offset
        e.start = offset
        return e
    }
}
