/// Walks the source's block status in guest order and cuts it into jobs: long runs the
/// source reports as zero become one zero job each (so a 1 TiB image with little data
/// costs little), everything else becomes chunk-sized data jobs aligned to the chunk grid.
/// The cut depends only on the source and the settings, never on timing.
final class ConvertPlanner {
    private let source: BlockDevice
    private let status: QemuBlockStatus
    private let chunk: UInt64
    private let detectZeros: Bool
    private var pos: UInt64 = 0
    private var window: [Extent] = []
    private var windowEnd: UInt64 = 0
    private var index = 0
    /// Block status is asked for in steps of this many bytes (a multiple of the chunk). The
    /// planner runs on the writer's thread, so a step holding data must cost little: the
    /// host's SEEK_HOLE walks every page of a data run (1 GiB steps held the first write back
    /// by 15 ms on a tmpfs, and starved the writer at each step after). Steps over nothing
    /// but zeros are cheap and double, so a 1 TiB sparse image takes few of them.
    private static let dataStep: UInt64 = 64 << 20
    private static let maxStep: UInt64 = 64 << 30
    private var statusStep = dataStep

    init(source: BlockDevice, settings: ConvertSettings) throws {
        self.source = source
        status = try QemuBlockStatus(source)
        chunk = UInt64(settings.chunkSize)
        detectZeros = settings.sparseSize > 0
    }

    /// The next job, or nil at the end of the source.
    func next() throws -> ConvertJob? {
        let total = source.virtualSize
        guard pos < total else { return nil }
        if pos >= windowEnd {
            windowEnd = min(total, pos + statusStep)
            window = try status.extents(at: pos, length: windowEnd - pos)
            index = 0
            statusStep = window.allSatisfy(readsZero) ? min(statusStep * 2, Self.maxStep) : Self.dataStep
        }
        while index < window.count && window[index].start + window[index].length <= pos { index += 1 }
        let chunkEnd = min(windowEnd, pos + chunk)
        if detectZeros {
            // Zero extents from here on: the run can become a job if it covers whole chunks.
            var runEnd = pos
            var i = index
            while i < window.count && readsZero(window[i]) {
                runEnd = window[i].start + window[i].length
                i += 1
            }
            let aligned = runEnd == windowEnd ? runEnd : runEnd / chunk * chunk
            if aligned >= chunkEnd {
                let job = ConvertJob.zero(start: pos, length: aligned - pos)
                pos = aligned
                return job
            }
        }
        var extents: [Extent] = []
        var i = index
        while i < window.count && window[i].start < chunkEnd {
            var e = window[i]
            let s = max(e.start, pos), end = min(e.start + e.length, chunkEnd)
            e.start = s
            e.length = end - s
            extents.append(e)
            i += 1
        }
        let job = ConvertJob.data(start: pos, length: Int(chunkEnd - pos), extents: extents)
        pos = chunkEnd
        return job
    }

    private func readsZero(_ e: Extent) -> Bool { e.zero && !e.data }
}
