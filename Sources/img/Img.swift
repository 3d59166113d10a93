import ArgumentParser
#if canImport(Glibc)
import Glibc
private func processExit(_ code: Int32) -> Never { Glibc.exit(code) }
#elseif canImport(Darwin)
import Darwin
private func processExit(_ code: Int32) -> Never { Darwin.exit(code) }
#endif
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
    /// command tree costs more host time than booting a small guest. The common forms are
    /// read without ArgumentParser at all (BootFastArguments.swift). Anything the boot
    /// parser rejects (help, errors) goes through the full tree for the usual messages.
    private static func bootShortcut() {
        let args = CommandLine.arguments
        guard args.count > 2, args[1] == "boot" else { return }
        let command: Boot
        if let fast = BootFastArguments.parse(args.dropFirst(2)), case let b = fast.command(), (try? b.validate()) != nil {
            command = b
        } else if let parsed = try? Boot.parse(Array(args.dropFirst(2))) {
            command = parsed
        } else {
            return
        }
        do {
            try command.run()
            exit()
        } catch let code as ExitCode {
            // What Boot.exit(withError:) does for an exit code, without building the help
            // text it never prints for one.
            processExit(code.rawValue)
        } catch {
            // As the full tree reports it (its usage line names `img`, not `boot`).
            exit(withError: error)
        }
    }
}
