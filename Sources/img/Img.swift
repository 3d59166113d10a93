import ArgumentParser

@main
struct Img: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "img",
        abstract: "Check, repair, convert and boot virtual-machine disk images (qcow2, raw).",
        version: "0.1.0",
        subcommands: [Create.self, Info.self, Map.self, Io.self, Bench.self, Boot.self]
    )
}
