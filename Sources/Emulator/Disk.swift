import ImageFormat

/// A guest disk: reads go through the format layer's BlockDevice, writes land in an
/// in-memory overlay of 512-byte sectors so the image file is never modified.
public final class Disk {
    public static let sectorSize = 512
    let device: BlockDevice
    private var overlay: [UInt64: [UInt8]] = [:]
    public let sectorCount: UInt64
    public let cylinders: Int, heads: Int, sectorsPerTrack: Int
    public let isFloppy: Bool

    public init(device: BlockDevice, floppy: Bool) {
        self.device = device
        isFloppy = floppy
        sectorCount = device.virtualSize / UInt64(Disk.sectorSize)
        if floppy {
            // Standard formats by size; anything else is treated as 1.44 MB geometry.
            let kb = device.virtualSize / 1024
            switch kb {
            case 360: (cylinders, heads, sectorsPerTrack) = (40, 2, 9)
            case 720: (cylinders, heads, sectorsPerTrack) = (80, 2, 9)
            case 1200: (cylinders, heads, sectorsPerTrack) = (80, 2, 15)
            case 2880: (cylinders, heads, sectorsPerTrack) = (80, 2, 36)
            default: (cylinders, heads, sectorsPerTrack) = (80, 2, 18)
            }
        } else {
            heads = 16
            sectorsPerTrack = 63
            cylinders = Int(min(1024, max(1, sectorCount / UInt64(16 * 63))))
        }
    }

    /// BIOS floppy drive type for CMOS and int 13h/08h (4 = 1.44 MB).
    public var floppyType: UInt8 {
        switch sectorsPerTrack { case 9: return cylinders == 40 ? 1 : 3; case 15: return 2; case 36: return 5; default: return 4 }
    }

    public func lba(cylinder: Int, head: Int, sector: Int) -> UInt64 {
        UInt64((cylinder * heads + head) * sectorsPerTrack + sector - 1)
    }

    /// Reads `count` sectors starting at `lba`; false when the range is past the end.
    public func read(lba: UInt64, count: Int, into out: inout [UInt8]) -> Bool {
        guard lba + UInt64(count) <= sectorCount else { return false }
        out = [UInt8](repeating: 0, count: count * Disk.sectorSize)
        do {
            try out.withUnsafeMutableBytes { try device.read(into: $0, at: lba * UInt64(Disk.sectorSize)) }
        } catch {
            return false
        }
        if !overlay.isEmpty {
            for i in 0..<count {
                if let s = overlay[lba + UInt64(i)] { out.replaceSubrange(i * 512..<(i + 1) * 512, with: s) }
            }
        }
        return true
    }

    public func write(lba: UInt64, data: ArraySlice<UInt8>) -> Bool {
        let count = data.count / Disk.sectorSize
        guard lba + UInt64(count) <= sectorCount else { return false }
        for i in 0..<count {
            let start = data.startIndex + i * 512
            overlay[lba + UInt64(i)] = Array(data[start..<start + 512])
        }
        return true
    }
}
