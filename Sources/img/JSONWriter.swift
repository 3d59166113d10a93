/// A JSON value with ordered object keys, printed the way QEMU's QMP pretty printer does
/// (four-space indent, "key": value), so output diffs against qemu-img's stay readable.
indirect enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)

    func pretty(indent: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent + 4)
        let closePad = String(repeating: " ", count: indent)
        switch self {
        case .object(let members):
            if members.isEmpty { return "{\n\(closePad)}" }
            let body = members.map { "\(pad)\(JSON.quote($0.0)): \($0.1.pretty(indent: indent + 4))" }
            return "{\n" + body.joined(separator: ",\n") + "\n\(closePad)}"
        case .array(let items):
            if items.isEmpty { return "[\n\(closePad)]" }
            return "[\n" + items.map { pad + $0.pretty(indent: indent + 4) }.joined(separator: ",\n") + "\n\(closePad)]"
        default:
            return compact()
        }
    }

    /// One line, with a space after ':' and ',' as qemu-img map prints its records.
    func compact() -> String {
        switch self {
        case .object(let members):
            return "{ " + members.map { "\(JSON.quote($0.0)): \($0.1.compact())" }.joined(separator: ", ") + "}"
        case .array(let items): return "[" + items.map { $0.compact() }.joined(separator: ", ") + "]"
        case .string(let s): return JSON.quote(s)
        case .int(let v): return String(v)
        case .uint(let v): return String(v)
        case .double(let v): return String(v)
        case .bool(let b): return b ? "true" : "false"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) }
                else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
