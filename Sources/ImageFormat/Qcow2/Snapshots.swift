/// One internal snapshot table entry. Extra data we do not interpret is kept byte for byte.
public struct Qcow2Snapshot: Equatable {
    public var l1TableOffset: UInt64
    public var l1Size: UInt32
    public var id: String
    public var name: String
    public var dateSeconds: UInt32
    public var dateNanoseconds: UInt32
    public var vmClockNanoseconds: UInt64
    public var vmStateSize: UInt32
    /// Raw extra data: vm_state_size_large (8), disk_size (8), icount (8), then unknown.
    public var extraData: [UInt8]

    public var diskSize: UInt64? { extraData.be(UInt64.self, at: 8) }
    public var vmStateSizeLarge: UInt64 { extraData.be(UInt64.self, at: 0) ?? UInt64(vmStateSize) }
    public var icount: UInt64? {
        guard let v = extraData.be(UInt64.self, at: 16), v != UInt64.max else { return nil }
        return v
    }

    /// Limits QEMU enforces (block/qcow2.h).
    public static let maxCount: UInt32 = 65536
    public static let maxTableSize: UInt64 = 1024 * 65536
    public static let maxExtraData: UInt32 = 1024

    public func serialize() -> [UInt8] {
        var b: [UInt8] = []
        b.appendBE(l1TableOffset)
        b.appendBE(l1Size)
        let idBytes = Array(id.utf8), nameBytes = Array(name.utf8)
        b.appendBE(UInt16(idBytes.count))
        b.appendBE(UInt16(nameBytes.count))
        b.appendBE(dateSeconds)
        b.appendBE(dateNanoseconds)
        b.appendBE(vmClockNanoseconds)
        b.appendBE(vmStateSize)
        b.appendBE(UInt32(extraData.count))
        b += extraData + idBytes + nameBytes
        b += [UInt8](repeating: 0, count: Int(alignUp(UInt64(b.count), 8)) - b.count)
        return b
    }

    /// Parses `count` entries from the snapshot table bytes; `base` is the table's file offset
    /// for error messages.
    public static func parseTable(_ b: [UInt8], count: Int, base: UInt64, path: String) throws -> [Qcow2Snapshot] {
        var result: [Qcow2Snapshot] = []
        var off = 0
        for index in 0..<count {
            func bad(_ detail: String) -> ImageError {
                .corrupt(path: path, structure: "snapshot table entry \(index)", offset: base + UInt64(off), detail: detail)
            }
            guard let l1Offset = b.be(UInt64.self, at: off), let l1Size = b.be(UInt32.self, at: off + 8),
                  let idSize = b.be(UInt16.self, at: off + 12), let nameSize = b.be(UInt16.self, at: off + 14),
                  let dateSec = b.be(UInt32.self, at: off + 16), let dateNsec = b.be(UInt32.self, at: off + 20),
                  let clock = b.be(UInt64.self, at: off + 24), let vmState = b.be(UInt32.self, at: off + 32),
                  let extraSize = b.be(UInt32.self, at: off + 36) else {
                throw bad("entry runs past the end of the snapshot table")
            }
            guard extraSize <= maxExtraData else { throw bad("too much extra data (\(extraSize) bytes)") }
            let extraStart = off + 40
            let idStart = extraStart + Int(extraSize)
            let nameStart = idStart + Int(idSize)
            let end = nameStart + Int(nameSize)
            guard end <= b.count else { throw bad("entry runs past the end of the snapshot table") }
            result.append(Qcow2Snapshot(
                l1TableOffset: l1Offset, l1Size: l1Size,
                id: String(decoding: b[idStart..<nameStart], as: UTF8.self),
                name: String(decoding: b[nameStart..<end], as: UTF8.self),
                dateSeconds: dateSec, dateNanoseconds: dateNsec, vmClockNanoseconds: clock,
                vmStateSize: vmState, extraData: Array(b[extraStart..<idStart])))
            off = Int(alignUp(UInt64(end), 8))
        }
        return result
    }

    /// The number of bytes the table of these entries occupies.
    public static func tableSize(_ entries: [Qcow2Snapshot]) -> Int {
        entries.reduce(0) { $0 + $1.serialize().count }
    }
}
