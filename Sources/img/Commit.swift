import ArgumentParser
import ImageFormat

/// img commit: write an overlay's data into its backing file (or a base further down).
struct Commit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Commit the changes recorded in an overlay into its backing file.",
        discussion: "With -b the data of every image above BASE goes into BASE and the overlay is kept "
            + "(as with -d); otherwise the overlay is emptied afterwards.")

    @OptionGroup var image: ImageSelection
    @Option(name: .customShort("b"), help: "The image in the backing chain to commit into.")
    var base: String?
    @Flag(name: .customShort("d"), help: "Do not empty the overlay after the commit.")
    var keep = false
    @Flag(name: .customShort("p"), help: "Show progress.")
    var progress = false
    @Flag(name: .customShort("q"), help: "Quiet.")
    var quiet = false
    @Argument(help: "The overlay image.")
    var filename: String

    func run() throws {
        try runReportingErrors {
            let resolved = try image.resolve(filename)
            var request = CommitRequest(path: resolved.path)
            request.format = resolved.format
            request.qcow2 = resolved.qcow2
            request.base = base
            request.keepOverlay = keep
            let line = ProgressLine(enabled: progress && !quiet)
            try commitImage(request, progress: { line.show($0) })
            line.finish()
            if !quiet { print("Image committed.") }
        }
    }
}
