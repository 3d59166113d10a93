#if canImport(Glibc)
import Glibc
#endif

/// qemu-img's -p progress line: "    (NN.NN/100%)" rewritten in place with \r, a newline at
/// the end. Prints only when enabled and only when the value moves by at least 1%.
final class ProgressLine {
    private let enabled: Bool
    private var last = -1.0

    init(enabled: Bool) {
        self.enabled = enabled
        show(0)
    }

    func show(_ fraction: Double) {
        guard enabled else { return }
        let percent = min(max(fraction, 0), 1) * 100
        guard percent == 0 || percent == 100 || percent - last >= 1 else { return }
        last = percent
        fputs(cFormat("    (%.2f/100%%)\r", percent), stdout)
        fflush(stdout)
    }

    func finish() {
        guard enabled else { return }
        if last < 100 { show(1) }
        fputs("\n", stdout)
    }
}
