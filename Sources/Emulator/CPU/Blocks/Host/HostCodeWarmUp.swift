/// When a block gets host code: a block's entry in `BlockCache.hostCode` counts its runs
/// from 0 and, at `HostCodeArena.compileAfter`, becomes its host code's offset or
/// `HostCodeArena.none`. Most blocks run a few times only; compiling those would cost more
/// than it saves.
extension CPU {
    /// Counts a run of the block of `header`, compiling its host code on the last count.
    @inline(never) func warmUpHostCode(_ header: UnsafeMutablePointer<BlockHeader>) {
        let first = Int(header.pointee.first)
        let heat = blockHostCode.unsafelyUnwrapped[first] + 1
        blockHostCode.unsafelyUnwrapped[first] = heat < HostCodeArena.compileAfter
            ? heat : compileHostCode(blockOps.unsafelyUnwrapped + first, count: Int(header.pointee.count))
    }

    /// The block's host code offset in the arena, or `HostCodeArena.none`.
    private func compileHostCode(_ ops: UnsafeMutablePointer<MicroOp>, count: Int) -> UInt32 {
        guard let hostArena else { return HostCodeArena.none }
        let addresses = HostBlockCompiler.Addresses(
            registers: UInt64(UInt(bitPattern: regs)), ram: UInt64(UInt(bitPattern: mem.bytes)),
            segmentBases: UInt64(UInt(bitPattern: segBase)), segmentAttributes: UInt64(UInt(bitPattern: segAttr)),
            lineMarks: UInt64(UInt(bitPattern: decodeCache.marks)),
            readLimit: mem.fastReadLimit, writeLimit: mem.fastWriteLimit)
        guard let code = HostBlockCompiler.compile(ops, count: count, addresses) else { return HostCodeArena.none }
        return hostArena.add(code) ?? HostCodeArena.none
    }
}
