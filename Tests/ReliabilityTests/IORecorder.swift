import ImageFormat

/// One host-file operation as the disk sees it. A crash state is built from these.
enum IOEvent {
    case write(offset: UInt64, bytes: [UInt8])
    case sync
    case truncate(length: UInt64)
    case deallocate(offset: UInt64, length: UInt64)

    var isSync: Bool { if case .sync = self { return true } else { return false } }
}

/// The recording layer under the qcow2 driver: logs every write, sync, truncate and hole
/// punch issued to one image file (backing files are only read and are not logged).
final class IORecorder: HostFileObserver {
    let path: String
    private(set) var events: [IOEvent] = []
    /// Set while the harness itself reads through the image to capture reference states.
    var paused = false

    init(path: String) { self.path = path }

    private func logs(_ file: HostFile) -> Bool { !paused && file.path == path }

    func willWrite(_ file: HostFile, offset: UInt64, bytes: UnsafeRawBufferPointer) throws {
        if logs(file) { events.append(.write(offset: offset, bytes: Array(bytes))) }
    }
    func willSync(_ file: HostFile) throws {
        if logs(file) { events.append(.sync) }
    }
    func willTruncate(_ file: HostFile, to length: UInt64) throws {
        if logs(file) { events.append(.truncate(length: length)) }
    }
    func willRead(_ file: HostFile, offset: UInt64, count: Int) throws {}
    func willDeallocate(_ file: HostFile, offset: UInt64, length: UInt64) throws {
        if logs(file) { events.append(.deallocate(offset: offset, length: length)) }
    }
}

extension IOEvent {
    /// Applies this event to an in-memory copy of the host file.
    func apply(to file: inout [UInt8]) {
        switch self {
        case let .write(offset, bytes):
            let start = Int(offset), end = start + bytes.count
            if file.count < end { file += [UInt8](repeating: 0, count: end - file.count) }
            file.replaceSubrange(start..<end, with: bytes)
        case .sync:
            break
        case let .truncate(length):
            let n = Int(length)
            if n < file.count { file.removeSubrange(n...) } else { file += [UInt8](repeating: 0, count: n - file.count) }
        case let .deallocate(offset, length):
            let start = min(Int(offset), file.count), end = min(Int(offset + length), file.count)
            if start < end { file.replaceSubrange(start..<end, with: repeatElement(0, count: end - start)) }
        }
    }
}
