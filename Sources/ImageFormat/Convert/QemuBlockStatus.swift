/// Block status the way QEMU reports it to qemu-img's convert, compare and measure: like
/// `blockStatus`, except that on a qcow2 image that looks metadata-preallocated the holes
/// of the host file inside data clusters read as zero.
package struct QemuBlockStatus {
    let device: BlockDevice
    private let preallocated: Qcow2Image?

    package init(_ device: BlockDevice) throws {
        self.device = device
        if let q = device as? Qcow2Image, try q.looksMetadataPreallocated() { preallocated = q } else { preallocated = nil }
    }

    package func extents(at offset: UInt64, length: UInt64) throws -> [Extent] {
        let status = try device.blockStatus(at: offset, length: length)
        return preallocated?.splitAtHostHoles(status) ?? status
    }
}
