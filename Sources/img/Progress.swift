import Foundation

/// qemu-img's progress line, "    (42.00/100%)" rewritten in place on stderr, followed by
/// the throughput so far. Refreshed when the percentage moves by 1% or every half second.
final class ProgressBar {
    private let enabled: Bool
    private let started = Date()
    private var lastPercent = -1.0
    private var lastTime = Date.distantPast
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func update(done: UInt64, total: UInt64) {
        guard enabled else { return }
        let percent = total == 0 ? 100 : Double(done) / Double(total) * 100
        let now = Date()
        guard percent >= 100 || percent - lastPercent >= 1 || now.timeIntervalSince(lastTime) >= 0.5 else { return }
        lastPercent = percent
        lastTime = now
        let seconds = max(now.timeIntervalSince(started), 1e-6)
        let rate = ioSize(Double(done) / seconds) + "/s"
        fputs(String(format: "    (%0.2f/100%%)", percent) + "  " + rate + "    \r", stderr)
        shown = true
    }

    /// Ends the line once the work is over.
    func finish() {
        guard enabled, shown else { return }
        fputs("\n", stderr)
    }
}
