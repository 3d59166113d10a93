/// Looks for the expected text or pattern in the guest's growing output streams. Only the
/// part of each stream not yet searched (plus an overlap for matches that straddle the
/// boundary) is scanned again, so chatty guests do not make matching quadratic.
public final class OutputMatcher {
    private let text: [UInt8]?
    private let regex: Regex<AnyRegexOutput>?
    /// How far back a new search reaches into text already searched.
    private let overlap: Int
    private var searched: [Int: Int] = [:]

    public init(expect: String?, expectRegex: Regex<AnyRegexOutput>?) {
        text = expect.map { Array($0.utf8) }
        regex = expectRegex
        overlap = regex == nil ? max(0, (text?.count ?? 1) - 1) : 4096
    }

    public var isActive: Bool { text != nil || regex != nil }

    /// Searches the unsearched tail of stream `id`.
    public func check(_ stream: [UInt8], id: Int) -> String? {
        let start = max(0, (searched[id] ?? 0) - overlap)
        searched[id] = stream.count
        guard start < stream.count else { return nil }
        return search(stream[start...])
    }

    /// Searches a whole snapshot (the screen), which changes in place.
    public func check(snapshot: String) -> String? {
        search(ArraySlice(snapshot.utf8))
    }

    private func search(_ bytes: ArraySlice<UInt8>) -> String? {
        if let t = text, !t.isEmpty, bytes.count >= t.count {
            var i = bytes.startIndex
            let last = bytes.endIndex - t.count
            while i <= last {
                if bytes[i] == t[0] && bytes[i..<i + t.count].elementsEqual(t) { return String(decoding: t, as: UTF8.self) }
                i += 1
            }
        }
        if let re = regex {
            let s = String(decoding: bytes, as: UTF8.self)
            if let m = try? re.firstMatch(in: s) { return String(s[m.range]) }
        }
        return nil
    }
}
