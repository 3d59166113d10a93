#if canImport(Glibc)
import Glibc
#endif

/// qemu-img's -p progress line, "    (42.00/100%)" rewritten in place with \r and ended with
/// a newline. Redrawn when the value moves by at least 1% or half a second has passed.
/// With `showRate` it also shows the throughput so far (convert, compare).
final class ProgressLine {
    private let enabled: Bool
    private let stream: UnsafeMutablePointer<FILE>
    private let showRate: Bool
    private let started = monotonicSeconds()
    private var lastPercent = -1.0
    private var lastTime = 0.0
    private var shown = false

    init(enabled: Bool, stream: UnsafeMutablePointer<FILE> = stdout, showRate: Bool = false) {
        self.enabled = enabled
        self.stream = stream
        self.showRate = showRate
        if !showRate { show(0) }
    }

    /// Progress as a fraction of the work, 0...1.
    func show(_ fraction: Double) { draw(percent: min(max(fraction, 0), 1) * 100, bytes: nil) }

    /// Progress in bytes of a known total; the rate is computed from `done`.
    func update(done: UInt64, total: UInt64) {
        draw(percent: total == 0 ? 100 : min(Double(done) / Double(total) * 100, 100), bytes: done)
    }

    private func draw(percent: Double, bytes: UInt64?) {
        guard enabled else { return }
        let now = monotonicSeconds()
        guard percent == 0 || percent >= 100 || percent - lastPercent >= 1 || now - lastTime >= 0.5 else { return }
        guard percent != lastPercent else { return }
        lastPercent = percent
        lastTime = now
        var line = cFormat("    (%.2f/100%%)", percent)
        if showRate, let bytes {
            line += "  " + ioSize(Double(bytes) / max(now - started, 1e-6)) + "/s    "
        }
        fputs(line + "\r", stream)
        fflush(stream)
        shown = true
    }

    func finish() {
        guard enabled, shown else { return }
        if lastPercent < 100 && !showRate { show(1) }
        fputs("\n", stream)
        fflush(stream)
    }
}
