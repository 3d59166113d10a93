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
        main(nil)
    }
}
