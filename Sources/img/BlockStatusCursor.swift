import ImageFormat

/// Walks an image's block status (as QEMU reports it) forward without asking for the whole rest of the image
/// at every step: extents are fetched a window at a time and handed out by offset.
final class BlockStatusCursor {
    let device: BlockDevice
    private let status: QemuBlockStatus
    private var extents: [Extent] = []
    private var index = 0
    private let window: UInt64 = 1 << 30
    /// Where the extents fetched last stop (the window may cut the last one short).
    private var fetchedEnd: UInt64 = 0

    init(_ device: BlockDevice) throws {
        self.device = device
        status = try QemuBlockStatus(device)
    }

    /// The status at `offset`, trimmed to start there (never past `end`).
    func extent(at offset: UInt64, end: UInt64) throws -> Extent {
        while index < extents.count && extents[index].start + extents[index].length <= offset { index += 1 }
        if index == extents.count || extents[index].start > offset {
            try fetch(at: offset, length: min(window, end - offset))
        }
        var e = extents[index]
        let stop = min(e.start + e.length, end)
        e.length = stop - offset
        e.start = offset
        return e
    }

    /// Whether the extent at `offset` runs up to `end`: QEMU's EOF flag, which qemu-img
    /// compare -s includes in the block status it compares. A window that cuts the extent
    /// short is widened until the extent ends inside it.
    func reachesEnd(at offset: UInt64, end: UInt64) throws -> Bool {
        _ = try extent(at: offset, end: end)
        var span = window
        while true {
            let stop = extents[index].start + extents[index].length
            if stop >= end { return true }
            if stop < fetchedEnd { return false }
            span = span.multipliedReportingOverflow(by: 2).overflow ? end - offset : span * 2
            try fetch(at: offset, length: min(span, end - offset))
        }
    }

    private func fetch(at offset: UInt64, length: UInt64) throws {
        extents = try status.extents(at: offset, length: length)
        index = 0
        fetchedEnd = offset + length
    }
}
