#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// 80x25 colour text mode: the character cells live in guest memory at 0xB8000; this device
/// answers the CRTC (cursor) and status ports and renders the screen as text.
public final class VGAText: PortDevice {
    public static let base: UInt32 = 0xB8000
    public static let columns = 80, rows = 25
    let memory: Memory
    private var crtcIndex: UInt8 = 0
    private var crtc = [UInt8](repeating: 0, count: 32)
    private var retrace = false
    private var attrIndexFlipFlop = false
    private var misc: [UInt16: UInt8] = [:]

    public init(memory: Memory) { self.memory = memory }

    /// Cursor location as the CRTC holds it (cell index).
    public var cursorCell: Int {
        get { Int(crtc[0x0E]) << 8 | Int(crtc[0x0F]) }
        set { crtc[0x0E] = UInt8((newValue >> 8) & 0xFF); crtc[0x0F] = UInt8(newValue & 0xFF) }
    }

    /// Start address of the displayed page (cells).
    public var startCell: Int { Int(crtc[0x0C]) << 8 | Int(crtc[0x0D]) }

    /// Whether the visible page (cells or start address) changed since the last call. Lets
    /// the run loop skip rendering and searching a screen it has already searched.
    public func takeScreenChange() -> Bool {
        let count = VGAText.columns * VGAText.rows * 2
        let start = Int(VGAText.base) + startCell * 2
        guard start + count <= memory.size else { return true }
        let page = UnsafeBufferPointer(start: memory.bytes + start, count: count)
        // memcmp: the generic elementsEqual went byte by byte through iterators.
        if start == lastPageStart && lastPage.count == count
            && lastPage.withUnsafeBytes({ memcmp($0.baseAddress!, page.baseAddress!, count) }) == 0 {
            return false
        }
        lastPageStart = start
        lastPage = Array(page)
        return true
    }
    private var lastPage: [UInt8] = []
    private var lastPageStart = -1

    /// The visible screen, trailing blanks trimmed on each line.
    public func screenText() -> String {
        var lines: [String] = []
        let start = VGAText.base + UInt32(startCell * 2)
        for r in 0..<VGAText.rows {
            var line = ""
            for c in 0..<VGAText.columns {
                let ch = memory.read8(start + UInt32((r * VGAText.columns + c) * 2))
                line.append(ch >= 0x20 && ch < 0x7F ? Character(Unicode.Scalar(ch)) : (ch == 0 ? " " : cp437(ch)))
            }
            while line.last == " " { line.removeLast() }
            lines.append(line)
        }
        while lines.last == "" { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    /// Box-drawing and block characters approximated in ASCII so the screen dump stays readable.
    private func cp437(_ ch: UInt8) -> Character {
        switch ch {
        case 0xB3, 0xBA: return "|"
        case 0xC4, 0xCD: return "-"
        case 0xDA, 0xBF, 0xC0, 0xD9, 0xC9, 0xBB, 0xC8, 0xBC, 0xC3, 0xB4, 0xC2, 0xC1, 0xC5: return "+"
        case 0xB0...0xB2, 0xDB...0xDF: return "#"
        case 0x18, 0x1E: return "^"
        case 0x19, 0x1F: return "v"
        case 0x1A, 0x10: return ">"
        case 0x1B, 0x11: return "<"
        default: return "."
        }
    }

    public func portRead(_ port: UInt16, size: Int) -> UInt32 {
        switch port {
        case 0x3D5, 0x3B5: return UInt32(crtc[Int(crtcIndex & 31)])
        case 0x3D4, 0x3B4: return UInt32(crtcIndex)
        case 0x3DA, 0x3BA:
            retrace.toggle()
            attrIndexFlipFlop = false
            return retrace ? 0x09 : 0x00
        case 0x3CC: return 0x67
        default: return UInt32(misc[port] ?? 0)
        }
    }

    public func portWrite(_ port: UInt16, size: Int, value: UInt32) {
        let v = UInt8(truncatingIfNeeded: value)
        switch port {
        case 0x3D4, 0x3B4:
            crtcIndex = v
            if size == 2 { crtc[Int(v & 31)] = UInt8(truncatingIfNeeded: value >> 8) }
        case 0x3D5, 0x3B5: crtc[Int(crtcIndex & 31)] = v
        default: misc[port] = v
        }
    }
}
