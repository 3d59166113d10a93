import ImageFormat

/// The snapshot table as qemu-img prints it (info and snapshot -l share it).
enum SnapshotListing {
    static let header = pad("ID", 10) + pad("TAG", 17) + lpad("VM SIZE", 8) + lpad("DATE", 20)
        + lpad("VM CLOCK", 13) + lpad("ICOUNT", 11)

    static func row(_ s: Qcow2Snapshot) -> String {
        let clockMs = s.vmClockNanoseconds / 1_000_000
        let clock = cFormat("%02llu:%02llu:%02llu.%03llu", clockMs / 3_600_000, (clockMs / 60_000) % 60,
                           (clockMs / 1000) % 60, clockMs % 1000)
        let icount = s.icount.map { String($0) } ?? ""
        return pad(s.id, 9) + " " + pad(s.name, 16) + " " + lpad(humanSize(s.vmStateSizeLarge), 8)
            + lpad(localDateString(s.dateSeconds), 20) + lpad(clock, 13) + lpad(icount, 11)
    }

    static func json(_ s: Qcow2Snapshot) -> JSON {
        var members: [(String, JSON)] = []
        if let icount = s.icount { members.append(("icount", .uint(icount))) }
        members += [
            ("vm-clock-nsec", .uint(s.vmClockNanoseconds % 1_000_000_000)),
            ("name", .string(s.name)),
            ("date-sec", .uint(UInt64(s.dateSeconds))),
            ("date-nsec", .uint(UInt64(s.dateNanoseconds))),
            ("vm-clock-sec", .uint(s.vmClockNanoseconds / 1_000_000_000)),
            ("id", .string(s.id)),
            ("vm-state-size", .uint(s.vmStateSizeLarge)),
        ]
        return .object(members)
    }

    private static func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
    private static func lpad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : String(repeating: " ", count: n - s.count) + s
    }
}
