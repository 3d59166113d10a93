import ArgumentParser
import ImageFormat

/// Parses qemu-img's "-o key=value,key2=value2" strings (",," escapes a comma).
func parseKeyValueOptions(_ specs: [String]) throws -> [(key: String, value: String)] {
    var result: [(String, String)] = []
    for spec in specs {
        var parts: [String] = []
        var current = ""
        var chars = Array(spec)
        var i = 0
        while i < chars.count {
            if chars[i] == "," {
                if i + 1 < chars.count && chars[i + 1] == "," { current.append(","); i += 2; continue }
                parts.append(current); current = ""
            } else {
                current.append(chars[i])
            }
            i += 1
        }
        parts.append(current)
        chars = []
        for part in parts where !part.isEmpty {
            guard let eq = part.firstIndex(of: "=") else {
                // A bare word is a boolean "on", as QEMU's option parser treats it.
                result.append((part, "on"))
                continue
            }
            result.append((String(part[..<eq]), String(part[part.index(after: eq)...])))
        }
    }
    return result
}

func parseBool(_ value: String, key: String) throws -> Bool {
    switch value {
    case "on", "true", "yes": return true
    case "off", "false", "no": return false
    default: throw CLIError("Parameter '\(key)' expects 'on' or 'off'")
    }
}

/// -f and --image-opts: which image a command works on and how its qcow2 driver behaves
/// (overlap checks, cache sizes). Every command that writes an existing image takes these.
struct ImageSelection: ParsableArguments {
    @Option(name: .customShort("f"), help: "Image format (qcow2 or raw); probed when omitted.")
    var format: String?

    @Flag(name: .customLong("image-opts"),
          help: "FILE is an option string: driver=qcow2,file.filename=PATH,overlap-check=MODE,l2-cache-size=N,...")
    var imageOpts = false

    /// The path, format and qcow2 open options FILE stands for.
    func resolve(_ file: String) throws -> ResolvedImage {
        guard imageOpts else { return ResolvedImage(path: file, format: format, qcow2: Qcow2OpenOptions()) }
        let parsed = try ImageOptionsString.parse(file)
        return ResolvedImage(path: parsed.path, format: parsed.format ?? format, qcow2: parsed.options)
    }

    func open(_ file: String, writable: Bool, forceShare: Bool = false) throws -> BlockDevice {
        try resolve(file).open(writable: writable, forceShare: forceShare)
    }
}

/// An image named on the command line, with the options it is to be opened with.
struct ResolvedImage {
    var path: String
    var format: String?
    var qcow2: Qcow2OpenOptions

    func open(writable: Bool, forceShare: Bool = false) throws -> BlockDevice {
        var options = ImageOpenOptions()
        options.writable = writable
        options.forceShare = forceShare
        options.qcow2 = qcow2
        return try openImage(path: path, format: format, options: options)
    }
}

/// Flags shared by every command that may open an existing image read-only: the image
/// selection plus -U.
struct ImageOptions: ParsableArguments {
    @OptionGroup var selection: ImageSelection

    @Flag(name: .customShort("U"), help: "Open the image read-only without taking QEMU's write lock (force share).")
    var forceShare = false

    var format: String? { selection.format }

    func resolve(_ file: String) throws -> ResolvedImage { try selection.resolve(file) }

    /// Opens FILE (or the image an --image-opts string names).
    func open(_ file: String, writable: Bool = false) throws -> BlockDevice {
        if forceShare && writable {
            throw CLIError("force-share=on can only be used with read-only images")
        }
        return try selection.open(file, writable: writable, forceShare: forceShare)
    }
}

enum OutputFormat: String, ExpressibleByArgument {
    case human, json
}
