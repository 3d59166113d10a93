import ImageFormat

/// A starting image and a sequence of guest operations. A new workload (snapshot create /
/// delete, resize, amend, check -r all) is one more `Workload` value in `Workloads.all`.
struct Workload {
    let name: String
    /// Judge each state after a repair (`qemu-img check -r all`, then a clean check):
    /// lazy-refcounts images, which QEMU repairs on open, and crashes during a repair
    /// (check -r all), which a second repair must fix.
    var repairFirst = false
    /// Builds the starting image (and any backing file) in the directory; returns its path.
    let prepare: (ScratchDir) throws -> String
    let run: (WorkloadDriver) throws -> Void
    /// After a clean run: what the workload was meant to exercise, nil when it did.
    var missed: (_ before: Qcow2Header, _ after: Qcow2Image) -> String? = { _, _ in nil }
}

/// A prepared workload: the starting host file, kept in memory, and a place to run it.
final class WorkloadSession {
    let workload: Workload
    let dir: ScratchDir
    let start: [UInt8]
    let startHeader: Qcow2Header
    /// Where each run's copy of the starting image lives (backing files stay where they are).
    let workPath: String

    init(_ workload: Workload) throws {
        self.workload = workload
        dir = try ScratchDir(workload.name)
        let prepared = try workload.prepare(dir)
        start = try Files.read(prepared)
        workPath = dir.file("work.qcow2")
        startHeader = try Qcow2Header.parse(start, path: prepared)
    }

    struct Outcome {
        var driver: WorkloadDriver?
        /// The first error any call reported (open, an operation, or close).
        var error: Error?
        var missed: String?
    }

    /// Runs the workload once on a fresh copy of the starting image with `observer` on every
    /// host file opened meanwhile. Stops at the first error, then closes the image.
    func execute(observer: HostFileObserver, pause: @escaping (Bool) -> Void, logPosition: @escaping () -> Int,
                 tracking: Bool) throws -> Outcome {
        try Files.write(start, to: workPath)
        HostFile.observerForNewFiles = observer
        let device: BlockDevice
        do {
            defer { HostFile.observerForNewFiles = nil }
            device = try openImage(path: workPath, format: "qcow2", writable: true, forceShare: false)
        } catch {
            return Outcome(driver: nil, error: error)
        }
        guard let image = device as? Qcow2Image else { fatalError("workload images are qcow2") }
        var outcome = Outcome()
        do {
            let driver = try WorkloadDriver(image: image, tracking: tracking, pauseObserver: pause, logPosition: logPosition)
            outcome.driver = driver
            try workload.run(driver)
            outcome.missed = workload.missed(startHeader, image)
        } catch {
            outcome.error = error
        }
        do { try image.close() } catch { if outcome.error == nil { outcome.error = error } }
        return outcome
    }
}

/// Small helpers the workloads use to build their starting images.
enum ImageMaker {
    static func qcow2(_ path: String, size: Int, clusterSize: Int, configure: (inout Qcow2CreateOptions) -> Void = { _ in }) throws {
        var o = Qcow2CreateOptions()
        o.size = UInt64(size)
        o.clusterSize = clusterSize
        configure(&o)
        try Qcow2Image.create(path: path, options: o)
    }

    /// Writes `count` bytes of tagged data from guest offset 0 and closes (not recorded).
    static func fill(_ path: String, tag: UInt8, count: Int) throws {
        let image = try openImage(path: path, format: nil, writable: true, forceShare: false)
        let chunk = 64 << 10
        var pos = 0
        while pos < count {
            let n = min(chunk, count - pos)
            try image.write(Pattern.bytes(tag: tag, offset: pos, count: n), at: UInt64(pos))
            pos += n
        }
        try image.close()
    }

    static func rawBacking(_ path: String, size: Int, tag: UInt8) throws {
        try RawImage.create(path: path, size: UInt64(size))
        try fill(path, tag: tag, count: size)
    }
}
