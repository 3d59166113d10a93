/// A fixed-capacity cache of cluster-sized metadata tables (L2 tables or refcount blocks),
/// keyed by host offset, with clock (second-chance) eviction. The owner supplies how a
/// table is loaded and how a dirty one is written back, so that it can enforce the flush
/// ordering between the two caches (refcounts before the L2 entries that need them).
package final class MetadataCache {
    let tableSize: Int
    let capacity: Int
    private let arena: UnsafeMutableRawPointer
    private var keys: [UInt64]
    private var dirty: [Bool]
    private var referenced: [Bool]
    private var index: [UInt64: Int] = [:]
    private var hand = 0
    private var used = 0

    init(tableSize: Int, capacity: Int) {
        self.tableSize = tableSize
        self.capacity = max(2, capacity)
        // Untouched pages of a large allocation are not resident, so the footprint follows use.
        arena = UnsafeMutableRawPointer.allocate(byteCount: tableSize * self.capacity, alignment: 4096)
        keys = [UInt64](repeating: 0, count: self.capacity)
        dirty = [Bool](repeating: false, count: self.capacity)
        referenced = [Bool](repeating: false, count: self.capacity)
    }

    deinit { arena.deallocate() }

    @inline(__always)
    func buffer(_ slot: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: arena + slot * tableSize, count: tableSize)
    }

    func key(_ slot: Int) -> UInt64 { keys[slot] }

    /// The slot holding the table at `offset`, loading it on a miss. `writeBack` is called
    /// for a dirty victim before its slot is reused.
    func slot(for offset: UInt64, load: (UnsafeMutableRawBufferPointer) throws -> Void,
              writeBack: (Int) throws -> Void) throws -> Int {
        if let s = index[offset] {
            referenced[s] = true
            return s
        }
        let s = try victim(writeBack: writeBack)
        do { try load(buffer(s)) } catch {
            keys[s] = 0  // the slot stays free; nothing half-loaded is kept
            throw error
        }
        keys[s] = offset
        index[offset] = s
        referenced[s] = true
        dirty[s] = false
        return s
    }

    /// Puts a table the caller has just written into the cache as clean.
    func insert(_ offset: UInt64, contents: UnsafeRawBufferPointer, writeBack: (Int) throws -> Void) throws {
        let s: Int
        if let existing = index[offset] { s = existing } else {
            s = try victim(writeBack: writeBack)
            keys[s] = offset
            index[offset] = s
        }
        buffer(s).copyMemory(from: contents)
        dirty[s] = false
        referenced[s] = true
    }

    func cachedSlot(_ offset: UInt64) -> Int? { index[offset] }

    func markDirty(_ slot: Int) { dirty[slot] = true }
    func isDirty(_ slot: Int) -> Bool { dirty[slot] }
    func markClean(_ slot: Int) { dirty[slot] = false }
    var hasDirty: Bool { dirty.contains(true) }

    /// Dirty slots in ascending host offset order (sequential write-back).
    func dirtySlots() -> [Int] {
        (0..<used).filter { dirty[$0] }.sorted { keys[$0] < keys[$1] }
    }

    /// Drops a table whose cluster was freed or relocated; its contents are discarded.
    func invalidate(_ offset: UInt64) {
        guard let s = index.removeValue(forKey: offset) else { return }
        keys[s] = 0
        dirty[s] = false
        referenced[s] = false
    }

    func invalidateAll() {
        index.removeAll()
        for s in 0..<capacity { keys[s] = 0; dirty[s] = false; referenced[s] = false }
        used = 0
    }

    private func victim(writeBack: (Int) throws -> Void) throws -> Int {
        if used < capacity {
            used += 1
            return used - 1
        }
        while true {
            let s = hand
            hand = (hand + 1) % capacity
            if keys[s] == 0 { return s }
            if referenced[s] { referenced[s] = false; continue }
            if dirty[s] { try writeBack(s); dirty[s] = false }
            index.removeValue(forKey: keys[s])
            keys[s] = 0
            return s
        }
    }
}
