import ArgumentParser
import Repair

@main
struct Img: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "img",
        abstract: "Check, repair, convert and boot virtual-machine disk images (qcow2, raw).",
        version: "0.1.0",
        subcommands: [Create.self, Info.self, Map.self, Io.self, Check.self, Convert.self, Compare.self, Measure.self,
                      Dd.self, Snapshot.self, Resize.self, Amend.self, Commit.self, Rebase.self, Bench.self, Boot.self]
    )

    /// Installs process-wide hooks before any command runs: a dirty lazy-refcounts image
    /// opened read-write is repaired as QEMU does.
    static func main() {
        DirtyImageRepair.install()
        bootShortcut()
        main(nil)
    }

    /// `img boot` parses only its own options when they are valid: building the whole
    /// command tree costs more host time than booting a small guest. Anything the boot
    /// parser rejects (help, errors) goes through the full tree for the usual messages.
    private static func bootShortcut() {
        let args = CommandLine.arguments
        guard args.count > 2, args[1] == "boot", let command = try? Boot.parse(Array(args.dropFirst(2))) else { return }
        do {
            try command.run()
            Boot.exit()
        } catch {
            Boot.exit(withError: error)
        }
    }
}
