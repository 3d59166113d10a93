import ArgumentParser
import ImageFormat

/// img rebase: change an overlay's backing file, keeping what the guest reads (safe mode)
/// or only rewriting the header (-u).
struct Rebase: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Change the backing file of an image.",
        discussion: "Safe mode copies into the image every cluster that differs between the old and the new "
            + "backing file. -b \"\" removes the backing file (the image becomes standalone).")

    @OptionGroup var image: ImageSelection
    @Option(name: .customShort("F"), help: "Format of the new backing file.")
    var backingFormat: String?
    @Option(name: .customShort("b"), help: "The new backing file (\"\" for none).")
    var backing: String?
    @Flag(name: .customShort("u"), help: "Unsafe: only rewrite the header, copy nothing.")
    var unsafe = false
    @Flag(name: .customShort("c"), help: "Compress the clusters copied into the image.")
    var compress = false
    @Flag(name: .customShort("p"), help: "Show progress.")
    var progress = false
    @Flag(name: .customShort("q"), help: "Quiet.")
    var quiet = false
    @Argument(help: "The image to rebase.")
    var filename: String

    func run() throws {
        try runReportingErrors {
            guard let backing else { throw CLIError("Must specify backing file (-b) or use unsafe mode (-u)") }
            let resolved = try image.resolve(filename)
            var request = RebaseRequest(path: resolved.path, backing: backing)
            request.format = resolved.format
            request.qcow2 = resolved.qcow2
            request.backingFormat = backingFormat
            request.unsafe = unsafe
            request.compress = compress
            let line = ProgressLine(enabled: progress && !quiet)
            try rebaseImage(request, progress: { line.show($0) })
            line.finish()
        }
    }
}
