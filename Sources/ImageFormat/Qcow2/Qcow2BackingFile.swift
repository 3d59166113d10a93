/// Changing the backing file named in the header (rebase): name and backing-format
/// extension are rewritten together in one write of the first cluster.
extension Qcow2Image {
    /// Names `name` (nil or empty: no backing file) with format `format` in the header.
    public func setBackingFile(_ name: String?, format: String?) throws {
        try requireWritable()
        try flush()
        let newName = (name?.isEmpty ?? true) ? nil : name
        guard (newName?.utf8.count ?? 0) <= Int(Limits.maxBackingNameLength) else {
            throw ImageError.invalidArgument("Backing file name too long: '\(newName!)'")
        }
        var exts = extensions.filter { $0.type != HeaderExtension.backingFormat }
        if newName != nil, let format {
            exts.insert(HeaderExtension(type: HeaderExtension.backingFormat, data: Array(format.utf8)), at: 0)
        }
        let savedName = backingFileName
        backingFileName = newName
        do { try replaceHeader(header, extensions: exts) } catch {
            backingFileName = savedName
            throw error
        }
    }
}
