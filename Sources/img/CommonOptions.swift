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

/// Flags shared by every command that opens an existing image.
struct ImageOptions: ParsableArguments {
    @Option(name: .customShort("f"), help: "Image format (qcow2 or raw); probed when omitted.")
    var format: String?

    @Flag(name: .customShort("U"), help: "Open the image read-only without taking QEMU's write lock (force share).")
    var forceShare = false

    @Flag(name: .customLong("image-opts"),
          help: "FILE is an option string: driver=qcow2,file.filename=PATH,overlap-check=MODE,l2-cache-size=N,...")
    var imageOpts = false

    /// Opens FILE (or the image an --image-opts string names).
    func open(_ file: String, writable: Bool = false) throws -> BlockDevice {
        if forceShare && writable {
            throw CLIError("force-share=on can only be used with read-only images")
        }
        var options = ImageOpenOptions()
        options.writable = writable
        options.forceShare = forceShare
        var path = file
        var fmt = format
        if imageOpts {
            let parsed = try ImageOptionsString.parse(file)
            path = parsed.path
            fmt = parsed.format ?? format
            options.qcow2 = parsed.options
        }
        return try openImage(path: path, format: fmt, options: options)
    }
}

enum OutputFormat: String, ExpressibleByArgument {
    case human, json
}
