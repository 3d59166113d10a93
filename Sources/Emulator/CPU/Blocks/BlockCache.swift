#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a compiled block (BlockCompiler.swift) starts and what it holds, in 16 bytes so
/// the headers of hot code share cache lines. `tag` is the decode-cache tag of its first
/// instruction (see `DecodedInstruction.tag`).
struct BlockHeader {
    var tag: UInt64 = 0
    /// Index of the first micro-op in the arena, and of the decodes of the same
    /// instructions (for the ones that run through `execute`); the micro-ops end with a
    /// `blockEnd` entry.
    var first: UInt32 = 0
    var count: UInt8 = 0
    /// Segments the block's instructions may reach (OR of their `reachableSegments`).
    var reachableSegments: UInt8 = 0
}

/// Compiled blocks of 32-bit code: headers direct-mapped by the linear address of the
/// first instruction, and the blocks' micro-ops and decodes in arenas that are emptied
/// when they fill. A block's bytes lie within the 64-byte line it starts in and the line
/// after (and are marked in the decode cache's line map), so a write into a marked line
/// drops the blocks starting in that line or the one before (`DecodeCache.invalidate(line:)`).
final class BlockCache {
    static let headerCount = 1 << 14
    static let maxInstructions = 32
    static let arenaCapacity = 1 << 15

    let headers: UnsafeMutablePointer<BlockHeader>
    let ops: UnsafeMutablePointer<MicroOp>
    let decodes: UnsafeMutablePointer<DecodedInstruction>
    /// Offset in `hostArena` of each block's host code (HostBlockCompiler.swift), by the
    /// index of its first micro-op, or its run count until it is compiled, or
    /// `HostCodeArena.none` (see HostCodeWarmUp.swift).
    let hostCode: UnsafeMutablePointer<UInt32>
    let hostArena = HostCodeArena()
    private var used = 0

    init() {
        // calloc: all-zero headers are empty (tag 0), and untouched pages cost nothing.
        guard let rawHeaders = calloc(BlockCache.headerCount, MemoryLayout<BlockHeader>.stride),
              let rawOps = calloc(BlockCache.arenaCapacity, MemoryLayout<MicroOp>.stride),
              let rawDecodes = calloc(BlockCache.arenaCapacity, MemoryLayout<DecodedInstruction>.stride),
              let rawHostCode = calloc(BlockCache.arenaCapacity, MemoryLayout<UInt32>.stride) else {
            fatalError("cannot allocate the block cache")
        }
        headers = rawHeaders.bindMemory(to: BlockHeader.self, capacity: BlockCache.headerCount)
        ops = rawOps.bindMemory(to: MicroOp.self, capacity: BlockCache.arenaCapacity)
        decodes = rawDecodes.bindMemory(to: DecodedInstruction.self, capacity: BlockCache.arenaCapacity)
        hostCode = rawHostCode.bindMemory(to: UInt32.self, capacity: BlockCache.arenaCapacity)
    }

    deinit {
        free(headers)
        free(ops)
        free(decodes)
        free(hostCode)
    }

    /// Room for one block (and the micro-op that ends it). When the arenas are full every block is dropped: this runs only
    /// between blocks, so no block is running from them.
    func reserve() -> Int {
        if used + BlockCache.maxInstructions + 1 > BlockCache.arenaCapacity { flush() }
        return used
    }

    /// Takes the `count` entries written at `reserve()`.
    func commit(count: Int) { used += count }

    /// Drops the blocks whose first instruction starts in [start, start + count).
    func invalidate(start: Int, count: Int) {
        for i in 0..<count { headers[(start + i) & (BlockCache.headerCount - 1)].tag = 0 }
    }

    func flush() {
        for i in 0..<BlockCache.headerCount { headers[i].tag = 0 }
        used = 0
        hostArena?.flush()
    }
}
