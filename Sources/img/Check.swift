import ArgumentParser
import ImageFormat
import Repair
#if canImport(Glibc)
import Glibc
#endif

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a disk image for consistency and optionally repair it.",
        discussion: """
        Recounts every reference in a qcow2 image and compares it with the stored refcounts; \
        messages and exit codes follow qemu-img check: 0 clean, 1 check not completed, \
        2 corruptions, 3 leaks only, 63 format cannot be checked. -r leaks frees leaked \
        clusters; -r all also repairs corruptions, rebuilding the refcount structure if needed. \
        --salvage goes further than qemu-img: it finds L2 tables by scanning clusters when the \
        L1 table is damaged and relinks them.
        """)

    /// -f, -U and --image-opts (whose overlap-check settings guard the repair's writes).
    @OptionGroup var image: ImageOptions
    @Option(help: "Output format: human or json.")
    var output: OutputFormat = .human
    @Option(name: .customShort("r"), help: "Repair: leaks or all.")
    var repair: RepairMode?
    @Flag(name: .customShort("q"), help: "Quiet: print no summary.")
    var quiet = false
    @Flag(help: "Recover the guest mapping when L1/L2 tables are damaged (implies -r all).")
    var salvage = false
    @Argument(help: "The image file.")
    var filename: String

    enum RepairMode: String, ExpressibleByArgument { case leaks, all }

    func run() throws {
        var status: Int32 = 0
        try runReportingErrors { status = try check() }
        if status != 0 { throw ExitCode(status) }
    }

    private func check() throws -> Int32 {
        let fix: FixMode = salvage ? .all : repair == .all ? .all : repair == .leaks ? .leaks : []
        if image.forceShare && !fix.isEmpty { throw CLIError("force-share=on can only be used with read-only images") }
        let resolved = try image.resolve(filename)
        let path = resolved.path
        let kind: ImageFormatName
        if let format = resolved.format {
            guard let k = ImageFormatName(rawValue: format) else { throw CLIError("Unknown driver '\(format)'") }
            kind = k
        } else {
            kind = try probeFormat(path: path)
        }
        guard kind == .qcow2 else {
            _ = try HostFile(path: path, mode: .readOnly)  // a missing file is "could not open" (1), not 63
            throw CLIError("This image format does not support checks", exitCode: 63)
        }
        let file = try HostFile(path: path, mode: fix.isEmpty ? .readOnly : .readWrite)
        let perms = !fix.isEmpty ? ImageLock.writer : image.forceShare ? ImageLock.sharedReader : ImageLock.reader
        try ImageLock.acquire(file, use: perms.use, share: perms.share)
        let sink = BufferedLog()
        defer { sink.flush() }
        let log = sink.line

        var result: CheckResult
        do {
            if salvage { try Salvage.run(file: file, log: log) }
            result = try Qcow2Checker.check(file: file, fix: fix, overlapChecks: resolved.qcow2.overlapCheck.enabled, log: log)
            if result.corruptionsFixed != 0 || result.leaksFixed != 0 {
                if output == .human && !quiet {
                    sink.flush()
                    print("The following inconsistencies were found and repaired:\n\n"
                          + "    \(result.leaksFixed) leaked clusters\n    \(result.corruptionsFixed) corruptions\n\n"
                          + "Double checking the fixed image now...")
                }
                let fixed = (result.leaksFixed, result.corruptionsFixed)
                result = try Qcow2Checker.check(file: file, fix: [], log: log)
                (result.leaksFixed, result.corruptionsFixed) = fixed
            }
        } catch let e as CheckLayout.OpenFailure {
            sink.flush()
            throw CLIError("Could not open '\(path)': \(e.description)")
        } catch let e as CheckAborted {
            sink.flush()
            throw CLIError(e.description)
        }
        sink.flush()
        let report = CheckReport(filename: path, result: result)
        if !quiet { print(output == .json ? report.json().pretty() : report.human(), terminator: output == .json ? "\n" : "") }
        if result.checkErrors != 0 {
            Console.error(result.incomplete?.description ?? "Check failed")
            return 1
        }
        return result.corruptions != 0 ? 2 : result.leaks != 0 ? 3 : 0
    }
}

/// qemu-img check's summary, human and JSON (same keys and zero counts omitted).
struct CheckReport {
    let filename: String
    let result: CheckResult

    func human() -> String {
        let r = result
        var out = ""
        if r.corruptions == 0 && r.leaks == 0 && r.checkErrors == 0 {
            out += "No errors were found on the image.\n"
        } else {
            if r.corruptions != 0 {
                out += "\n\(r.corruptions) errors were found on the image.\n"
                    + "Data may be corrupted, or further writes to the image may corrupt it.\n"
            }
            if r.leaks != 0 {
                out += "\n\(r.leaks) leaked clusters were found on the image.\n"
                    + "This means waste of disk space, but no harm to data.\n"
            }
            if r.checkErrors != 0 { out += "\n\(r.checkErrors) internal errors have occurred during the check.\n" }
        }
        if r.totalClusters != 0 && r.allocatedClusters != 0 {
            let a = Double(r.allocatedClusters)
            out += "\(r.allocatedClusters)/\(r.totalClusters) = \(pct(a * 100 / Double(r.totalClusters)))% allocated, "
                + "\(pct(Double(r.fragmentedClusters) * 100 / a))% fragmented, "
                + "\(pct(Double(r.compressedClusters) * 100 / a))% compressed clusters\n"
        }
        if r.imageEndOffset != 0 { out += "Image end offset: \(r.imageEndOffset)\n" }
        return out
    }

    private func pct(_ v: Double) -> String {
        let scaled = (v * 100).rounded()
        let whole = Int64(scaled) / 100, frac = Int64(scaled) % 100
        return "\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }

    /// Keys in the order qemu-img 7.2 prints them (its dictionary's iteration order).
    func json() -> JSON {
        let r = result
        var m: [(String, JSON)] = []
        func add(_ key: String, _ v: UInt64, always: Bool = false) { if v != 0 || always { m.append((key, .uint(v))) } }
        add("image-end-offset", r.imageEndOffset)
        add("compressed-clusters", r.compressedClusters)
        add("total-clusters", r.totalClusters)
        add("corruptions-fixed", UInt64(r.corruptionsFixed))
        add("corruptions", UInt64(r.corruptions))
        add("check-errors", UInt64(r.checkErrors), always: true)
        add("leaks", UInt64(r.leaks))
        add("leaks-fixed", UInt64(r.leaksFixed))
        add("allocated-clusters", r.allocatedClusters)
        m.append(("filename", .string(filename)))
        m.append(("format", .string("qcow2")))
        add("fragmented-clusters", r.fragmentedClusters)
        return .object(m)
    }
}
