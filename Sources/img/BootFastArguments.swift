/// Reads the common `img boot` command lines without ArgumentParser, whose reflection-based
/// parse costs about as much host time as booting a small guest. It accepts only plain
/// `--option value` and flag forms with values that cannot be mistaken for options; for
/// anything else (help, `--opt=value`, repeats, bad numbers, a value starting with '-')
/// it returns nil and the full parser handles the command line with its usual messages.
struct BootFastArguments {
    var format: String?
    var expect: String?
    var expectRegex: String?
    var timeout: Double = 30
    var maxInstructions: UInt64?
    var memory = 32
    var floppy = false
    var screen = false
    var serial = false
    var trace: String?
    var forceShare = false
    var filename: String?

    static func parse(_ args: ArraySlice<String>) -> BootFastArguments? {
        var r = BootFastArguments()
        var seen = Set<String>()
        var i = args.startIndex
        func value() -> String? {
            i += 1
            guard i < args.endIndex, let first = args[i].first, first != "-" else { return nil }
            return args[i]
        }
        while i < args.endIndex {
            let a = args[i]
            if !a.hasPrefix("-") {
                guard r.filename == nil else { return nil }
                r.filename = a
                i += 1
                continue
            }
            guard seen.insert(a).inserted else { return nil }
            switch a {
            case "-f": guard let v = value() else { return nil }; r.format = v
            case "--expect": guard let v = value() else { return nil }; r.expect = v
            case "--expect-regex": guard let v = value() else { return nil }; r.expectRegex = v
            case "--timeout": guard let v = value(), let d = Double(v) else { return nil }; r.timeout = d
            case "--max-instructions": guard let v = value(), let n = UInt64(v) else { return nil }; r.maxInstructions = n
            case "--memory": guard let v = value(), let n = Int(v) else { return nil }; r.memory = n
            case "--trace": guard let v = value() else { return nil }; r.trace = v
            case "--floppy": r.floppy = true
            case "--screen": r.screen = true
            case "--serial": r.serial = true
            case "-U": r.forceShare = true
            default: return nil
            }
            i += 1
        }
        guard r.filename != nil else { return nil }
        return r
    }

    /// A `Boot` with every option set from here, ready to validate and run.
    func command() -> Boot {
        var b = Boot()
        b.format = format
        b.expect = expect
        b.expectRegex = expectRegex
        b.timeout = timeout
        b.maxInstructions = maxInstructions
        b.memory = memory
        b.floppy = floppy
        b.screen = screen
        b.serial = serial
        b.trace = trace
        b.forceShare = forceShare
        b.filename = filename ?? ""
        return b
    }
}
