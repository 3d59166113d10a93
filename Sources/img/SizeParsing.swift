import ImageFormat

/// Sizes as qemu-img accepts them: a number with an optional k/K, M, G, T, P, E suffix
/// (powers of 1024), optionally fractional ("1.5G"); a bare number is bytes.
enum SizeParser {
    static func parse(_ text: String) -> UInt64? {
        var digits = text
        var multiplier: Double = 1
        if let last = text.last, last.isLetter {
            digits = String(text.dropLast())
            switch last {
            case "b", "B": multiplier = 1
            case "k", "K": multiplier = 1024
            case "m", "M": multiplier = 1024 * 1024
            case "g", "G": multiplier = Double(1 << 30)
            case "t", "T": multiplier = Double(UInt64(1) << 40)
            case "p", "P": multiplier = Double(UInt64(1) << 50)
            case "e", "E": multiplier = Double(UInt64(1) << 60)
            default: return nil
            }
        }
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
            guard multiplier == 1, let v = UInt64(digits.dropFirst(2), radix: 16) else { return nil }
            return v
        }
        if let v = UInt64(digits) {
            let (r, o) = v.multipliedReportingOverflow(by: UInt64(multiplier))
            return o ? nil : r
        }
        guard let d = Double(digits), d >= 0, d.isFinite else { return nil }
        let value = d * multiplier
        guard value < 1.8e19 else { return nil }
        return UInt64(value)
    }

    static func require(_ text: String, what: String = "size") throws -> UInt64 {
        guard let v = parse(text) else {
            throw CLIError("Invalid \(what) specified. You may use k, M, G, T, P or E suffixes for")
                .withDetail("kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes.")
        }
        return v
    }
}

/// qemu-img's human-readable sizes: three significant digits and a binary unit ("324 KiB").
func humanSize(_ value: UInt64) -> String {
    let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    var i = 0
    var scaled = Double(value) / (1000.0 / 1024.0)
    while scaled >= 2 && i < 70 { scaled /= 2; i += 1 }
    // i is now the binary exponent of value/(1000/1024); QEMU groups it by tens.
    let unit = value == 0 ? 0 : min((i) / 10, 6)
    let div = Double(UInt64(1) << UInt64(unit * 10))
    return formatG3(Double(value) / div) + " " + suffixes[unit] + "B"
}

/// printf("%0.3g").
func formatG3(_ v: Double) -> String {
    cFormat("%0.3g", v)
}

/// qemu-io's cvtstr: three decimals, ".000" dropped, binary units.
func ioSize(_ value: Double) -> String {
    let units: [(Double, String)] = [(Double(UInt64(1) << 60), " EiB"), (Double(UInt64(1) << 50), " PiB"),
                                     (Double(UInt64(1) << 40), " TiB"), (Double(1 << 30), " GiB"),
                                     (Double(1 << 20), " MiB"), (1024, " KiB")]
    var suffix = " bytes"
    var v = value
    for (size, name) in units where value >= size { v = value / size; suffix = name; break }
    var s = cFormat("%.3f", v)
    if s.hasSuffix(".000") { s.removeLast(4) }
    return s + suffix
}
