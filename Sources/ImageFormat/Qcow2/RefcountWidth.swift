/// Reads and writes refcount entries of 1 to 64 bits inside a refcount block.
/// Widths below 8 bits pack entries from the least significant bit of each byte up, as QEMU
/// does; 8 bits and more are big-endian integers.
package struct RefcountWidth {
    package let order: Int
    package var bits: Int { 1 << order }
    package var maxValue: UInt64 { order == 6 ? UInt64.max : (1 << UInt64(bits)) - 1 }

    package init(order: Int) { self.order = order }

    package func entriesPerBlock(clusterSize: Int) -> Int { clusterSize * 8 / bits }

    @inline(__always)
    package func get(_ block: UnsafeRawBufferPointer, _ index: Int) -> UInt64 {
        switch order {
        case 0, 1, 2:
            let perByte = 8 >> order
            let byte = block[index / perByte]
            let shift = (index % perByte) * bits
            return UInt64((byte >> shift) & UInt8((1 << bits) - 1))
        case 3: return UInt64(block[index])
        case 4: return UInt64(UInt16(bigEndian: block.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
        case 5: return UInt64(UInt32(bigEndian: block.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
        default: return UInt64(bigEndian: block.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
        }
    }

    @inline(__always)
    package func set(_ block: UnsafeMutableRawBufferPointer, _ index: Int, _ value: UInt64) {
        switch order {
        case 0, 1, 2:
            let perByte = 8 >> order
            let shift = (index % perByte) * bits
            let mask = UInt8((1 << bits) - 1) << shift
            let old = block[index / perByte]
            block[index / perByte] = (old & ~mask) | ((UInt8(truncatingIfNeeded: value) << shift) & mask)
        case 3: block[index] = UInt8(truncatingIfNeeded: value)
        case 4: block.storeBytes(of: UInt16(truncatingIfNeeded: value).bigEndian, toByteOffset: index * 2, as: UInt16.self)
        case 5: block.storeBytes(of: UInt32(truncatingIfNeeded: value).bigEndian, toByteOffset: index * 4, as: UInt32.self)
        default: block.storeBytes(of: value.bigEndian, toByteOffset: index * 8, as: UInt64.self)
        }
    }
}
