import Dispatch
import ImageFormat
#if canImport(Glibc)
import Glibc
#endif

/// Turns SIGINT/SIGTERM into a flag a long-running command polls, so it can stop cleanly
/// (remove or flag a half-written target) instead of dying mid-write.
final class InterruptFlag: @unchecked Sendable {
    private let lock = Mutex()
    private var signalName: String?
    private var sources: [DispatchSourceSignal] = []

    init() {
        for (sig, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.raise(name) }
            source.resume()
            sources.append(source)
        }
    }

    private func raise(_ name: String) {
        lock.lock(); signalName = name; lock.unlock()
    }

    /// The error to stop with, once a signal arrived.
    func check() -> Error? {
        lock.lock(); defer { lock.unlock() }
        return signalName.map { CLIError("interrupted by \($0)", exitCode: 130) }
    }

    /// Restores the default actions.
    func restore() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
