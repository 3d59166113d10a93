/// QEMU's --image-opts strings ("driver=qcow2,file.filename=a.qcow2,overlap-check=all"),
/// parsed into a path, a format and open options.
public struct ImageOptionsString: Sendable {
    public var path: String
    public var format: String?
    public var options: Qcow2OpenOptions

    public static func parse(_ spec: String) throws -> ImageOptionsString {
        var pairs: [(String, String)] = []
        var current = ""
        var chars = Array(spec)[...]
        // ",," is a literal comma, as in QEMU's option syntax.
        while let c = chars.first {
            chars = chars.dropFirst()
            if c == "," {
                if chars.first == "," { current.append(","); chars = chars.dropFirst(); continue }
                pairs.append(split(current)); current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { pairs.append(split(current)) }

        var path: String?
        var format: String?
        var options = Qcow2OpenOptions()
        var mode: (key: String, value: String)?
        var switches: [(MetadataStructure, Bool)] = []
        var l2: UInt64?, refcount: UInt64?, total: UInt64?
        for (key, value) in pairs {
            switch key {
            case "driver": format = value
            case "file", "file.filename": path = value
            case "file.driver":
                guard value == "file" else { throw ImageError.invalidArgument("Unsupported protocol driver '\(value)'") }
            case "overlap-check", "overlap-check.template":
                guard OverlapCheckPolicy.mode(value) != nil else {
                    throw ImageError.invalidArgument("Unsupported value '\(value)' for qcow2 option '\(key)'. Allowed are any of the following: none, constant, cached, all")
                }
                if let m = mode, m.value != value {
                    throw ImageError.invalidArgument("Conflicting values for qcow2 options '\(m.key)' ('\(m.value)') and '\(key)' ('\(value)')")
                }
                mode = (key, value)
            case "l2-cache-size": l2 = try size(value, key)
            case "refcount-cache-size": refcount = try size(value, key)
            case "cache-size": total = try size(value, key)
            case "x-overlap-scan":
                guard let scan = OverlapScan(rawValue: value) else {
                    throw ImageError.invalidArgument("x-overlap-scan must be index, last-used or full-table")
                }
                options.overlapScan = scan
            default:
                if key.hasPrefix("overlap-check."),
                   let structure = MetadataStructure.allCases.first(where: { "overlap-check." + $0.optionKey == key }) {
                    switches.append((structure, try bool(value, key)))
                } else {
                    throw ImageError.invalidArgument("Block format '\(format ?? "qcow2")' does not support the option '\(key)'")
                }
            }
        }
        guard let path else { throw ImageError.invalidArgument("--image-opts needs file.filename=PATH") }
        var policy = mode.flatMap { OverlapCheckPolicy.mode($0.value) } ?? .cached
        for (structure, on) in switches {
            if on { policy.enabled.insert(MetadataStructures(structure)) } else { policy.enabled.remove(MetadataStructures(structure)) }
        }
        options.overlapCheck = policy
        if let total {
            if l2 != nil && refcount != nil {
                throw ImageError.invalidArgument("l2-cache-size, refcount-cache-size, and cache-size may not be set at the same time")
            }
            if let l2, l2 > total { throw ImageError.invalidArgument("l2-cache-size may not exceed cache-size") }
            if let refcount, refcount > total { throw ImageError.invalidArgument("refcount-cache-size may not exceed cache-size") }
            let rc = refcount ?? (l2.map { total - $0 } ?? total / 4)
            options.refcountCacheSize = Int(rc)
            options.l2CacheSize = Int(l2 ?? total - rc)
        } else {
            options.l2CacheSize = l2.map { Int($0) }
            options.refcountCacheSize = refcount.map { Int($0) }
        }
        return ImageOptionsString(path: path, format: format, options: options)
    }

    private static func split(_ pair: String) -> (String, String) {
        guard let eq = pair.firstIndex(of: "=") else { return (pair, "on") }
        return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
    }

    private static func bool(_ value: String, _ key: String) throws -> Bool {
        switch value {
        case "on", "true", "yes": return true
        case "off", "false", "no": return false
        default: throw ImageError.invalidArgument("Parameter '\(key)' expects 'on' or 'off'")
        }
    }

    private static func size(_ value: String, _ key: String) throws -> UInt64 {
        var digits = value
        var scale: UInt64 = 1
        if let last = value.last, last.isLetter {
            digits.removeLast()
            switch last {
            case "k", "K": scale = 1 << 10
            case "M": scale = 1 << 20
            case "G": scale = 1 << 30
            default: throw ImageError.invalidArgument("Parameter '\(key)' expects a size")
            }
        }
        guard let n = UInt64(digits), let v = checkedMul(n, scale), v <= 1 << 40 else {
            throw ImageError.invalidArgument("Parameter '\(key)' expects a size")
        }
        return v
    }
}
