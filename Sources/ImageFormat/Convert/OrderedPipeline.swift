
/// Runs jobs on worker threads and hands their results to the caller's thread strictly in
/// job order. At most `window` jobs are in flight, which bounds memory; since results are
/// consumed in order, what the consumer does never depends on which worker was faster.
/// With `inOrder: false` (qemu-img convert -W) each result is handed over as soon as it is
/// ready instead: a slow job no longer holds back the ones after it, and the consumer sees
/// the jobs in whatever order the workers finished them.
final class OrderedPipeline<Job, Output> {
    private let condition = ConditionLock()
    private var queue: [(index: Int, job: Job)] = []
    private var queueHead = 0
    private var results: [Int: Result<Output, Error>] = [:]
    private var stopping = false
    private var liveWorkers = 0

    /// `makeWorker` runs on each worker thread and returns that worker's job function
    /// (so each can open its own handles); `next` produces jobs in order (nil at the end);
    /// `consume` receives outputs in the same order; `interrupted` is polled while waiting.
    func run(workers: Int, window: Int,
             makeWorker: @escaping () throws -> (Job) throws -> Output,
             next: () throws -> Job?,
             consume: (Output) throws -> Void,
             interrupted: () -> Error?,
             inOrder: Bool = true) throws {
        if workers <= 1 {
            // One worker: no threads and no hand-offs, the caller does everything in turn.
            let work = try makeWorker()
            while let job = try next() {
                try consume(try work(job))
                if let error = interrupted() { throw error }
            }
            return
        }
        for _ in 0..<workers { startWorker(makeWorker) }
        defer { stopWorkers() }
        var produced = 0, consumed = 0, exhausted = false
        while true {
            while !exhausted && produced - consumed < window {
                guard let job = try next() else { exhausted = true; break }
                condition.lock()
                queue.append((produced, job))
                condition.signal()
                condition.unlock()
                produced += 1
            }
            if consumed == produced { return }
            condition.lock()
            var ready: Int? { inOrder ? (results[consumed] == nil ? nil : consumed) : results.keys.min() }
            while ready == nil {
                if let error = interrupted() { condition.unlock(); throw error }
                condition.wait(seconds: 0.1)
            }
            let result = results.removeValue(forKey: ready!)!
            condition.unlock()
            try consume(result.get())
            consumed += 1
            if let error = interrupted() { throw error }
        }
    }

    private func startWorker(_ makeWorker: @escaping () throws -> (Job) throws -> Output) {
        condition.lock()
        liveWorkers += 1
        condition.unlock()
        startThread(stackSize: 1 << 20) { [self] in
            let work: (Job) throws -> Output
            do { work = try makeWorker() } catch { work = { _ in throw error } }
            while true {
                condition.lock()
                while queueHead == queue.count && !stopping { condition.wait() }
                if stopping {
                    liveWorkers -= 1
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                let (index, job) = queue[queueHead]
                queueHead += 1
                if queueHead > 64 && queueHead * 2 > queue.count {
                    queue.removeFirst(queueHead)
                    queueHead = 0
                }
                condition.unlock()
                let result = Result { try work(job) }
                condition.lock()
                results[index] = result
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    /// Tells the workers to finish and waits until every one has left (each finishes the
    /// job it holds; nothing is started after this).
    private func stopWorkers() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while liveWorkers > 0 { condition.wait() }
        results.removeAll()
        condition.unlock()
    }
}
