#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decoded instructions, direct-mapped by linear address, plus one mark per 64-byte line
/// of guest memory saying that some kept decode covers bytes of that line. Only code in
/// plain RAM below the A20/bounds limit is kept, where linear = physical address. Every
/// write into guest memory checks the line's mark (see `Memory`); a marked line drops the
/// decodes that may overlap it, so self-modifying code and code loaded over old code
/// (disk reads, string moves, BIOS copies) is decoded afresh.
final class DecodeCache {
    static let slotCount = 1 << 15
    /// 64-byte lines: an instruction (at most 15 decoded bytes) overlaps at most two.
    static let lineShift: UInt32 = 6
    static let lineSize = 1 << lineShift

    let slots: UnsafeMutablePointer<DecodedInstruction>
    /// One byte per line, nonzero when the line may hold decoded bytes.
    let marks: UnsafeMutablePointer<UInt8>
    private let lineCount: Int
    /// Compiled blocks of the kept decodes, dropped with them; made on first use.
    private(set) var blocks: BlockCache?

    func activateBlocks() -> BlockCache {
        if let blocks { return blocks }
        let made = BlockCache()
        blocks = made
        return made
    }

    init(memorySize: Int) {
        // calloc: untouched zero pages until used, for the slots (an all-zero slot has tag 0,
        // empty, and its other fields are never read) and for the mostly unmarked line map.
        guard let rawSlots = calloc(DecodeCache.slotCount, MemoryLayout<DecodedInstruction>.stride) else {
            fatalError("cannot allocate the decode cache")
        }
        slots = rawSlots.bindMemory(to: DecodedInstruction.self, capacity: DecodeCache.slotCount)
        lineCount = memorySize >> DecodeCache.lineShift + 2
        guard let raw = calloc(lineCount, 1) else { fatalError("cannot allocate the decode cache's line map") }
        marks = raw.assumingMemoryBound(to: UInt8.self)
    }

    deinit {
        free(slots)
        free(marks)
    }

    @inline(__always) func slot(_ linear: UInt32) -> UnsafeMutablePointer<DecodedInstruction> {
        slots + Int(linear & UInt32(DecodeCache.slotCount - 1))
    }

    /// Keeps `d` for `linear` and marks the lines its `length` bytes cover.
    func keep(_ d: DecodedInstruction, at linear: UInt32) {
        slot(linear).pointee = d
        mark(linear, count: max(Int(d.length), 1))
    }

    /// Marks the lines of [linear, linear + count) as holding code that was decoded.
    func mark(_ linear: UInt32, count: Int) {
        guard count > 0 else { return }
        let first = Int(linear >> DecodeCache.lineShift)
        let last = Int((linear &+ UInt32(count) &- 1) >> DecodeCache.lineShift)
        for line in first...max(first, last) where line < lineCount { marks[line] = 1 }
    }

    /// Bytes at `address` changed and its line is marked: drop every decode that may
    /// overlap the line, that is every one starting in it or in the line before.
    @inline(never) func invalidate(line: Int) {
        marks[line] = 0
        let size = DecodeCache.lineSize
        let firstSlot = (max(line - 1, 0) * size) & (DecodeCache.slotCount - 1)
        let count = line == 0 ? size : 2 * size
        for i in 0..<count { slots[(firstSlot + i) & (DecodeCache.slotCount - 1)].tag = 0 }
        blocks?.invalidate(start: max(line - 1, 0) * size, count: count)
    }

    /// Bytes [address, address + count) changed.
    func invalidate(_ address: Int, count: Int) {
        guard count > 0, address < lineCount << DecodeCache.lineShift else { return }
        let first = address >> Int(DecodeCache.lineShift)
        let last = min((address + count - 1) >> Int(DecodeCache.lineShift), lineCount - 1)
        for line in first...last where marks[line] != 0 { invalidate(line: line) }
    }

    /// Drops everything (the A20 gate changed which memory linear addresses reach).
    func flush() {
        for i in 0..<DecodeCache.slotCount { slots[i].tag = 0 }
        memset(marks, 0, lineCount)
        blocks?.flush()
    }
}
