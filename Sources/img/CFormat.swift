#if canImport(Glibc)
import Glibc
#endif

// printf-style formatting, clocks and local dates through the C library. img keeps
// Foundation out of its binary: linking it costs several MiB of resident memory at startup,
// and `img check` must stay under qemu-img check's peak RSS.

/// Formats like C's printf.
func cFormat(_ format: String, _ args: CVarArg...) -> String {
    var size = 128
    while true {
        var buf = [CChar](repeating: 0, count: size)
        let n = withVaList(args) { vsnprintf(&buf, size, format, $0) }
        if n < 0 { return "" }
        if Int(n) < size { return String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        size = Int(n) + 1
    }
}

/// Seconds on the monotonic clock, for elapsed-time reports.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// "yyyy-MM-dd HH:mm:ss" in the local time zone, as qemu-img prints snapshot dates.
func localDateString(_ seconds: UInt32) -> String {
    var t = time_t(seconds)
    var tmv = tm()
    localtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 64)
    let n = strftime(&buf, buf.count, "%Y-%m-%d %H:%M:%S", &tmv)
    return String(decoding: buf.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
