import ImageFormat

/// Switches a read-only image to the internal snapshot qemu-img's -l names, with
/// qemu-img's messages when it cannot.
func loadSnapshot(_ spec: String, of device: BlockDevice, path: String) throws {
    guard let q = device as? Qcow2Image else {
        throw CLIError("Failed to load snapshot: format '\(device.formatName)' of '\(path)' has no internal snapshots")
    }
    guard let s = q.findSnapshot(spec) else {
        throw CLIError("Failed to load snapshot: Can't find snapshot '\(spec)' in '\(path)'")
    }
    try q.viewSnapshot(s)
}
