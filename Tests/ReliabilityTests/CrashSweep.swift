import Foundation
import ImageFormat

/// How hard the sweeps work: CI keeps the suite within minutes, `IMG_CRASH_SWEEP=long`
/// tries many more unflushed-write subsets per crash point and every fault point.
enum SweepMode {
    static var long: Bool { ProcessInfo.processInfo.environment["IMG_CRASH_SWEEP"] == "long" }
    /// Random subsets of the unflushed writes tried at each crash point.
    static var subsetsPerPoint: Int { long ? 32 : 4 }
    /// Repetitions of the small workloads (at shifted offsets, with new data).
    static var rounds: Int { long ? 6 : 2 }
    static var seed: UInt64 {
        ProcessInfo.processInfo.environment["IMG_CRASH_SEED"].flatMap { UInt64($0) } ?? 0x1DB1_0C4A_5EED
    }
}

/// Deterministic random numbers, so a failing crash state can be reproduced from the seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Replays a recorded workload onto copies of its starting file at every crash point:
/// every prefix of the log, and random subsets of the writes issued since the last sync
/// (the disk may persist unflushed writes in any order). Each distinct state is judged.
struct CrashSweep {
    let session: WorkloadSession
    let events: [IOEvent]
    let driver: WorkloadDriver

    struct Result {
        var crashPoints = 0
        var states = 0
        var failures: [String] = []
    }

    /// Reference states a crash at log position `p` may show, the acknowledged one first:
    /// the state at the last flush that completed before p, then every state after it
    /// whose operation had begun issuing host I/O.
    func candidates(at p: Int) -> [Int] {
        let acknowledged = driver.flushes.last(where: { $0.logPosition <= p })?.state ?? 0
        let begun = driver.opStarts.filter { $0 < p }.count
        return [acknowledged] + (acknowledged < begun ? Array((acknowledged + 1)...begun) : [])
    }

    func run() throws -> Result {
        var result = Result()
        var rng = SplitMix64(state: SweepMode.seed ^ session.workload.name.utf8.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) })
        var seen = Set<Int>()
        var current = session.start
        var durable = session.start
        var lastSync = 0
        let path = session.dir.file("crash.qcow2")
        for p in 0...events.count {
            if p > 0 {
                events[p - 1].apply(to: &current)
                if events[p - 1].isSync { durable = current; lastSync = p }
            }
            result.crashPoints += 1
            if seen.insert(fingerprint(current)).inserted {
                result.states += 1
                if let failure = try judge(current, at: p, path: path) {
                    result.failures.append("crash point \(p) of \(events.count) (all writes issued): \(failure)")
                }
            }
            let window = (lastSync..<p).filter { !events[$0].isSync }
            guard window.count >= 2 else { continue }
            for mask in subsetMasks(window.count, using: &rng) {
                var state = durable
                var chosen: [Int] = []
                for (bit, i) in window.enumerated() where mask & (1 << UInt64(bit)) != 0 {
                    events[i].apply(to: &state)
                    chosen.append(i)
                }
                guard seen.insert(fingerprint(state)).inserted else { continue }
                result.states += 1
                if let failure = try judge(state, at: p, path: path) {
                    result.failures.append("crash point \(p), persisted unflushed events \(chosen) of \(window): \(failure)")
                }
            }
            if result.failures.count >= 5 { break }
        }
        return result
    }

    /// Which unflushed events persist, as bit masks over the window (never none or all,
    /// which are prefix states): every subset of a small window, random ones of a large one.
    func subsetMasks(_ w: Int, using rng: inout SplitMix64) -> [UInt64] {
        let budget = SweepMode.subsetsPerPoint
        if w < 63, (UInt64(1) << UInt64(w)) - 2 <= UInt64(budget * 2) {
            return Array(1..<((UInt64(1) << UInt64(w)) - 1))
        }
        return (0..<budget).map { _ in
            var mask: UInt64 = 0
            for bit in 0..<min(w, 64) where Bool.random(using: &rng) { mask |= 1 << UInt64(bit) }
            return mask
        }
    }

    func fingerprint(_ bytes: [UInt8]) -> Int {
        var h = Hasher()
        bytes.withUnsafeBytes { h.combine(bytes: $0) }
        return h.finalize()
    }

    /// nil when the state is consistent and keeps acknowledged data, else what is wrong.
    func judge(_ state: [UInt8], at p: Int, path: String) throws -> String? {
        try Files.write(state, to: path)
        let verdict = try ImageJudge.check(path, repairFirst: session.workload.repairFirst)
        guard verdict.ok else { return keep(state, verdict.detail) }
        let guest: [UInt8]
        do { guest = try ImageJudge.readGuest(path) } catch { return keep(state, "img cannot read it back: \(error)") }
        let allowed = candidates(at: p).map { driver.states[$0] }
        guard allowed.contains(where: { $0.count == guest.count }) else {
            return keep(state, "virtual size \(guest.count) matches no state the workload went through")
        }
        if let byte = Self.firstUnexplainedByte(guest, allowed) {
            let ops = candidates(at: p).map { $0 == 0 ? "start" : driver.opNames[$0 - 1] }
            return keep(state, "guest byte \(byte) reads 0x\(String(guest[byte], radix: 16)), acknowledged "
                + "0x\(String(allowed[0].count > byte ? allowed[0][byte] : 0, radix: 16)); allowed states: \(ops)")
        }
        return nil
    }

    /// The first guest byte that no allowed state explains. Compared in 512-byte chunks
    /// (a chunk equal to one allowed state is explained), byte by byte only where none is.
    static func firstUnexplainedByte(_ guest: [UInt8], _ allowed: [[UInt8]]) -> Int? {
        guest.withUnsafeBytes { g in
            var chunk = 0
            while chunk < guest.count {
                let end = min(chunk + 512, guest.count)
                let explained = allowed.contains { state in
                    state.count >= end && state.withUnsafeBytes { memcmp(g.baseAddress! + chunk, $0.baseAddress! + chunk, end - chunk) == 0 }
                }
                if !explained {
                    for i in chunk..<end where !allowed.contains(where: { i < $0.count && $0[i] == guest[i] }) { return i }
                }
                chunk = end
            }
            return nil
        }
    }

    /// Keeps a failing state for inspection and says where.
    func keep(_ state: [UInt8], _ detail: String) -> String {
        let dir = NSTemporaryDirectory() + "img-crash-failures"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/\(session.workload.name)-\(UUID().uuidString.prefix(8)).qcow2"
        try? Files.write(state, to: path)
        return "\(detail) [state kept at \(path)]"
    }
}
