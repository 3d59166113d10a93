import ArgumentParser
import ImageFormat

/// img snapshot: list, create, apply and delete internal snapshots (qcow2), as qemu-img.
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, create, apply or delete internal snapshots of a qcow2 image.",
        discussion: "Without an action the snapshots are listed. NAME selects a snapshot by name or numeric ID.")

    @OptionGroup var image: ImageOptions
    @Flag(name: .customShort("q"), help: "Quiet: print nothing on success.")
    var quiet = false
    @Flag(name: .customShort("l"), help: "List the snapshots.")
    var list = false
    @Option(name: .customShort("c"), help: ArgumentHelp("Create a snapshot named NAME.", valueName: "NAME"))
    var create: String?
    @Option(name: .customShort("a"), help: ArgumentHelp("Revert the disk to snapshot NAME.", valueName: "NAME"))
    var apply: String?
    @Option(name: .customShort("d"), help: ArgumentHelp("Delete snapshot NAME.", valueName: "NAME"))
    var delete: String?
    @Argument(help: "The image file.")
    var filename: String

    func validate() throws {
        let actions = [list, create != nil, apply != nil, delete != nil].filter { $0 }.count
        if actions > 1 { throw ValidationError("Cannot mix '-l', '-a', '-c', '-d'") }
    }

    func run() throws {
        try runReportingErrors {
            let writing = create != nil || apply != nil || delete != nil
            let device = try image.open(filename, writable: writing)
            defer { try? device.close() }
            guard let q = device as? Qcow2Image else {
                if !writing { return }
                throw CLIError("Could not \(verb) snapshot '\(create ?? apply ?? delete ?? "")': Operation not supported")
            }
            if let name = create {
                try perform("create", name) { _ = try q.createSnapshot(name: name) }
            } else if let key = apply {
                try perform("apply", key) {
                    guard let i = q.findSnapshot(idOrName: key) else {
                        throw CLIError("Could not apply snapshot '\(key)': Failed to load snapshot: No such file or directory")
                    }
                    try q.applySnapshot(at: i)
                }
            } else if let key = delete {
                try perform("delete", key) {
                    guard let i = q.findSnapshot(nameOrID: key) else {
                        throw CLIError("Could not delete snapshot '\(key)': snapshot not found")
                    }
                    try q.deleteSnapshot(at: i)
                }
            } else if !q.snapshots.isEmpty {
                print("Snapshot list:")
                print(SnapshotListing.header)
                for s in q.snapshots { print(SnapshotListing.row(s)) }
            }
            try device.close()
        }
    }

    private var verb: String { create != nil ? "create" : apply != nil ? "apply" : "delete" }

    /// Runs one action, prefixing format-layer errors the way qemu-img does.
    private func perform(_ action: String, _ name: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as ImageError {
            let text = e.description
            throw CLIError(text.hasPrefix("Could not") ? text : "Could not \(action) snapshot '\(name)': \(text)")
        }
    }
}
