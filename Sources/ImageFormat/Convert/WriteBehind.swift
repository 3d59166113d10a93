/// Host writes of chunk data, run on a few threads of their own while the writer thread
/// goes on with the next chunks. Copying into the host file is most of a conversion's
/// work (on a tmpfs, the kernel's page allocation and copy); done by one thread it caps
/// the conversion at one core. Every task writes bytes whose place was fixed beforehand,
/// so the output does not depend on which task runs first.
final class WriteBehind {
    private let condition = ConditionLock()
    private var tasks: [() throws -> Void] = []
    private var head = 0
    /// Tasks submitted and not yet finished.
    private var pending = 0
    private let limit: Int
    private var failure: Error?
    private var stopping = false
    private var liveThreads = 0

    /// `threads` run the tasks; `limit` bounds the tasks waiting or running (and with them
    /// the chunk buffers they hold).
    init(threads: Int, limit: Int) {
        self.limit = max(1, limit)
        for _ in 0..<max(1, threads) { startWorker() }
    }

    /// Queues a task; waits while `limit` are pending. Throws the first failed task's error.
    func submit(_ task: @escaping () throws -> Void) throws {
        condition.lock()
        defer { condition.unlock() }
        while pending >= limit && failure == nil { condition.wait() }
        if let failure { throw failure }
        tasks.append(task)
        pending += 1
        condition.signal()
    }

    /// Waits until every submitted task has finished; throws the first failure.
    func drain() throws {
        condition.lock()
        defer { condition.unlock() }
        while pending > 0 { condition.wait() }
        if let failure { throw failure }
    }

    /// Finishes the queued tasks (skipping them after a failure) and ends the threads; no
    /// write happens after this returns, so the caller may close or remove the file.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while liveThreads > 0 { condition.wait() }
        condition.unlock()
    }

    private func startWorker() {
        condition.lock()
        liveThreads += 1
        condition.unlock()
        startThread(stackSize: 256 << 10) { [self] in
            condition.lock()
            while true {
                while head == tasks.count && !stopping { condition.wait() }
                if head == tasks.count { break }
                let task = tasks[head]
                tasks[head] = {}
                head += 1
                if head > 64 && head * 2 > tasks.count {
                    tasks.removeFirst(head)
                    head = 0
                }
                let failed = failure != nil
                condition.unlock()
                var error: Error?
                if !failed {
                    do { try task() } catch let e { error = e }
                }
                condition.lock()
                if let error, failure == nil { failure = error }
                pending -= 1
                condition.broadcast()
            }
            liveThreads -= 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
