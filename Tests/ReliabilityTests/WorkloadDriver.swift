import Foundation
import ImageFormat

/// Runs a workload's guest operations against an open image. When tracking, it captures
/// the guest-visible disk after every operation (the reference states a crash state is
/// judged against) and checks that each operation changed exactly what it should.
final class WorkloadDriver {
    let image: Qcow2Image
    /// Called with true around the harness's own reads, so they are neither logged nor failed.
    let pauseObserver: (Bool) -> Void
    /// Log position now (events recorded so far); 0 when not recording.
    let logPosition: () -> Int
    let tracking: Bool

    /// states[0] is the disk before the first operation, states[i + 1] after operation i.
    private(set) var states: [[UInt8]] = []
    /// Log position at which operation i began.
    private(set) var opStarts: [Int] = []
    /// Completed flushes: log position when flush() returned, and the state index it made durable.
    private(set) var flushes: [(logPosition: Int, state: Int)] = []
    private(set) var opNames: [String] = []

    init(image: Qcow2Image, tracking: Bool, pauseObserver: @escaping (Bool) -> Void,
         logPosition: @escaping () -> Int) throws {
        self.image = image
        self.tracking = tracking
        self.pauseObserver = pauseObserver
        self.logPosition = logPosition
        if tracking { states.append(try snapshot()) }
    }

    /// The whole guest disk as it reads now.
    func snapshot() throws -> [UInt8] {
        pauseObserver(true)
        defer { pauseObserver(false) }
        return try ImageJudge.readAll(image)
    }

    /// How an operation may change guest bytes inside its range.
    enum Effect {
        /// The range must read exactly these bytes afterwards.
        case exactly([UInt8])
        /// Each byte reads its old value or zero or the backing file's (discard).
        case discarded
        /// Anything (an operation that changes the disk geometry, e.g. growing it).
        case unchecked
    }

    private func perform(_ name: String, range: Range<Int>?, effect: Effect, _ body: () throws -> Void) throws {
        opStarts.append(logPosition())
        opNames.append(name)
        do {
            try body()
        } catch {
            // A failed operation may have changed part of its range: what the image shows
            // now is one more state the disk may end in.
            if tracking, let now = try? snapshot() { states.append(now) }
            throw error
        }
        guard tracking else { return }
        let before = states[states.count - 1]
        let after = try snapshot()
        if let range { try verify(name, before: before, after: after, range: range, effect: effect) }
        states.append(after)
    }

    private func verify(_ name: String, before: [UInt8], after: [UInt8], range: Range<Int>, effect: Effect) throws {
        struct Mismatch: Error, CustomStringConvertible { var description: String }
        guard before.count == after.count else { throw Mismatch(description: "\(name): the disk size changed") }
        let outside = [0..<range.lowerBound, range.upperBound..<after.count]
        for part in outside where !part.isEmpty && !before.withUnsafeBytes({ b in after.withUnsafeBytes { a in
            memcmp(b.baseAddress! + part.lowerBound, a.baseAddress! + part.lowerBound, part.count) == 0 } }) {
            throw Mismatch(description: "\(name): guest bytes in \(part) outside the operation changed")
        }
        switch effect {
        case .exactly(let bytes):
            if Array(after[range]) != bytes { throw Mismatch(description: "\(name): the range does not read back") }
        case .discarded:
            let backing = try backingBytes(range)
            for i in range where after[i] != before[i] && after[i] != 0 && after[i] != backing[i - range.lowerBound] {
                throw Mismatch(description: "\(name): discarded byte \(i) reads neither old, zero nor backing data")
            }
        case .unchecked:
            break
        }
    }

    private func backingBytes(_ range: Range<Int>) throws -> [UInt8] {
        guard let backing = image.backing else { return [UInt8](repeating: 0, count: range.count) }
        pauseObserver(true)
        defer { pauseObserver(false) }
        let end = min(range.upperBound, Int(backing.virtualSize))
        var bytes = end > range.lowerBound ? try backing.read(count: end - range.lowerBound, at: UInt64(range.lowerBound)) : []
        bytes += [UInt8](repeating: 0, count: range.count - bytes.count)
        return bytes
    }

    // MARK: guest operations

    func write(_ bytes: [UInt8], at offset: Int) throws {
        try perform("write \(bytes.count) at \(offset)", range: offset..<(offset + bytes.count), effect: .exactly(bytes)) {
            try image.write(bytes, at: UInt64(offset))
        }
    }

    /// Writes a pattern unique to `tag` and position, so data landing in the wrong place shows.
    func write(tag: UInt8, at offset: Int, count: Int) throws {
        try write(Pattern.bytes(tag: tag, offset: offset, count: count), at: offset)
    }

    func writeZeroes(at offset: Int, count: Int, mayUnmap: Bool) throws {
        try perform("zero \(count) at \(offset)\(mayUnmap ? " unmap" : "")", range: offset..<(offset + count),
                    effect: .exactly([UInt8](repeating: 0, count: count))) {
            try image.writeZeroes(at: UInt64(offset), length: UInt64(count), mayUnmap: mayUnmap)
        }
    }

    func discard(at offset: Int, count: Int) throws {
        try perform("discard \(count) at \(offset)", range: offset..<(offset + count), effect: .discarded) {
            try image.discard(at: UInt64(offset), length: UInt64(count))
        }
    }

    /// One whole cluster, compressed; the pattern repeats so that it does compress.
    func writeCompressed(tag: UInt8, cluster: Int) throws {
        let size = image.clusterSize, offset = cluster * size
        let bytes = Pattern.compressible(tag: tag, count: size)
        try perform("compressed write of cluster \(cluster)", range: offset..<(offset + size), effect: .exactly(bytes)) {
            try bytes.withUnsafeBytes { try image.writeCompressed($0, at: UInt64(offset)) }
        }
    }

    func flush() throws {
        try perform("flush", range: 0..<0, effect: .exactly([])) { try image.flush() }
        flushes.append((logPosition(), states.count - 1))
    }

    /// Anything else (future workloads: snapshot, resize, amend, repair): guest bytes are
    /// re-read afterwards and become the reference.
    func custom(_ name: String, _ body: (Qcow2Image) throws -> Void) throws {
        try perform(name, range: nil, effect: .unchecked) { try body(image) }
    }
}

/// Guest data patterns: every 8-byte word names its tag and position.
enum Pattern {
    static func bytes(tag: UInt8, offset: Int, count: Int) -> [UInt8] {
        (0..<count).map { i in
            let pos = offset + i
            return i % 8 == 0 ? tag : UInt8(truncatingIfNeeded: (pos >> 3) &* 31 &+ pos % 8 &+ Int(tag) &* 7)
        }
    }

    static func compressible(tag: UInt8, count: Int) -> [UInt8] {
        (0..<count).map { i in i % 64 == 0 ? tag : UInt8(truncatingIfNeeded: i % 64 &+ Int(tag)) }
    }
}
