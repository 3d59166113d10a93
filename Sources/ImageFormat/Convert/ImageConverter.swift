#if canImport(Glibc)
import Glibc
#endif

/// Copies a source image into a target image with a pipeline: the planner cuts the source
/// into jobs, worker threads read, detect zeros and compress, and the calling thread
/// writes results in guest order (see OrderedPipeline). Memory stays bounded by the
/// window of jobs in flight.
public final class ImageConverter {
    public let source: BlockDevice
    public let target: BlockDevice
    public var settings: ConvertSettings
    /// Opens a fresh read-only handle of the source, one per worker.
    let openSource: () throws -> BlockDevice
    /// Opens a fresh read-only handle of the target's backing file (overlay targets).
    let openBacking: (() throws -> BlockDevice)?

    /// Called on the writing thread after each job: bytes done, total bytes.
    public var progress: (UInt64, UInt64) -> Void = { _, _ in }
    /// Called with each salvaged read error.
    public var warning: (String) -> Void = { _ in }
    /// Polled while converting; an error returned stops the conversion with it.
    public var interrupted: () -> Error? = { nil }

    public init(source: BlockDevice, openSource: @escaping () throws -> BlockDevice, target: BlockDevice,
                openBacking: (() throws -> BlockDevice)?, settings: ConvertSettings) {
        self.source = source
        self.openSource = openSource
        self.target = target
        self.openBacking = openBacking
        self.settings = settings
    }

    public func run() throws {
        let qcow2 = target as? Qcow2Image
        if settings.compress && qcow2 == nil {
            throw ImageError.invalidArgument("'\(target.filename)': this format does not support compression")
        }
        let unitSize = qcow2?.allocationUnit ?? ZeroDetection.sector
        let clusterSize = qcow2?.clusterSize ?? unitSize
        var settings = self.settings
        settings.chunkSize = max(settings.chunkSize, clusterSize)
        let compression = settings.compress ? qcow2?.compressionType : nil
        let total = source.virtualSize
        let planner = try ConvertPlanner(source: source, settings: settings)
        let writerBacking = try openBacking?()
        defer { try? writerBacking?.close() }
        let pool = BufferPool()
        // A raw source is read through a mapping: one copy of every byte less. Not with
        // --salvage, whose sector-by-sector retry needs read errors, not zero pages.
        let mapped = settings.salvage ? nil : (source as? RawImage).flatMap { MappedFile($0.file) }
        // One data-writing thread: buffered writes to one file serialize on its inode lock
        // anyway, and a second writer only spins on that lock, taking a core from the readers.
        // Four queued chunks keep it busy; more would only hold memory (the workers' window
        // already scales with -m).
        let writeBehind = WriteBehind(threads: 1, limit: 4)
        defer { writeBehind.stop() }
        let writer = ConvertWriter(target: target, backing: writerBacking, settings: settings, total: total,
                                   writeBehind: writeBehind, release: { $0.release(to: pool) })
        let openSource = self.openSource, openBacking = self.openBacking
        var done: UInt64 = 0
        progress(0, total)
        try OrderedPipeline<ConvertJob, ConvertChunk>().run(
            workers: settings.workers, window: 2 * settings.workers + 2,
            makeWorker: {
                let processor = ChunkProcessor(source: try openSource(), backing: try openBacking?(), settings: settings,
                                               unitSize: unitSize, compression: compression, clusterSize: clusterSize,
                                               pool: pool, mapped: mapped)
                return { try processor.process($0) }
            },
            next: { try planner.next() },
            consume: { chunk in
                for w in chunk.warnings { warning(w) }
                try writer.apply(chunk)
                done += chunk.length
                progress(done, total)
            },
            interrupted: interrupted,
            inOrder: !settings.outOfOrder)
        try writer.finish()
        try mapped?.checkReadable()
        try target.flush()
    }
}
