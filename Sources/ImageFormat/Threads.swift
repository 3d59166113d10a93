#if canImport(Glibc)
import Glibc
#endif

// Locks and threads on pthreads. img keeps Foundation out of its binary: linking it costs
// several MiB of resident memory at startup, and img check must stay under qemu-img
// check's peak RSS.

/// A mutual-exclusion lock (NSLock's interface).
package final class Mutex {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    package init() { pthread_mutex_init(mutex, nil) }
    deinit { pthread_mutex_destroy(mutex); mutex.deallocate() }
    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock(); defer { unlock() }
        return try body()
    }
}

/// A value behind a mutex, shared between threads.
package final class Locked<Value>: @unchecked Sendable {
    private let mutex = Mutex()
    private var value: Value
    package init(_ value: Value) { self.value = value }
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        mutex.lock(); defer { mutex.unlock() }
        return try body(&value)
    }
}

/// A lock with a condition variable (NSCondition's interface).
package final class ConditionLock {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    package init() {
        pthread_mutex_init(mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }
    deinit {
        pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
        cond.deallocate(); mutex.deallocate()
    }
    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }
    package func signal() { pthread_cond_signal(cond) }
    package func broadcast() { pthread_cond_broadcast(cond) }
    package func wait() { pthread_cond_wait(cond, mutex) }
    /// Waits at most `seconds`; false when the time ran out.
    @discardableResult
    package func wait(seconds: Double) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let total = Double(ts.tv_nsec) + seconds * 1e9
        ts.tv_sec += Int(total / 1e9)
        ts.tv_nsec = Int(total.truncatingRemainder(dividingBy: 1e9))
        return pthread_cond_timedwait(cond, mutex, &ts) == 0
    }
}

/// Starts a detached thread running `body`.
package func startThread(stackSize: Int = 1 << 20, _ body: @escaping () -> Void) {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, stackSize)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, &attr, { raw in
        let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
        box.body()
        return nil
    }, context)
    pthread_attr_destroy(&attr)
    if rc != 0 {
        // No thread: run inline rather than lose the work.
        Unmanaged<Box>.fromOpaque(context).takeRetainedValue().body()
    }
}

/// Processors online, for default worker counts.
package func onlineProcessorCount() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

/// Seconds on the monotonic clock.
package func monotonicClock() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
