import ArgumentParser
import ImageFormat
#if canImport(Glibc)
import Glibc
#endif

/// An error the user reads, printed as "img: message" with qemu-img's exit status 1
/// unless the command says otherwise.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32 = 1
    init(_ message: String, exitCode: Int32 = 1) { self.message = message; self.exitCode = exitCode }
    func withDetail(_ more: String) -> CLIError { CLIError(message + "\n" + more, exitCode: exitCode) }
    var description: String { message }
}

enum Console {
    static func error(_ message: String) {
        var text = "img: " + message
        if !text.hasSuffix("\n") { text += "\n" }
        fputs(text, stderr)
    }
}

/// Runs a command body, turning thrown errors into a message and an exit status.
func runReportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as CLIError {
        Console.error(e.message)
        throw ExitCode(e.exitCode)
    } catch let e as ImageError {
        Console.error(e.description)
        throw ExitCode(1)
    } catch let e as ExitCode {
        throw e
    }
}
