import ImageFormat
#if canImport(Glibc)
import Glibc
#endif

/// I/O errors during a check or repair. QEMU reports only the errno text ("Check failed:
/// Input/output error"); img keeps that text first and adds the file, the operation and its
/// offset, and what the check was doing, so a person can tell which file failed and where.
extension Qcow2Checker {
    /// An I/O error that ends the check (QEMU: a negative return from the driver's check).
    func aborted(by error: ImageError) -> CheckAborted {
        log("ERROR: I/O error while \(activity): \(error)")
        res.checkErrors += 1
        noteIOFailure(error)
        return CheckAborted(reason: errnoText(error), result: res, detail: "\(error), while \(activity)")
    }

    /// An I/O error the check survives (counted as a check error, as QEMU counts a refcount
    /// block it cannot read): the first one is kept for the final report.
    func noteIOFailure(_ error: Error) {
        guard res.ioFailure == nil, let e = error as? ImageError, case .io = e else { return }
        res.ioFailure = CheckResult.IOFailure(error: e, activity: activity)
    }
}

extension CheckResult {
    /// The first I/O error a check survived, and what the check was doing then.
    package struct IOFailure: Equatable {
        package var error: ImageError
        package var activity: String
    }

    /// The check did not complete: check errors after an I/O error, as the error a caller
    /// throws (`img check` prints it and exits 1).
    package var incomplete: CheckAborted? {
        guard checkErrors != 0, let f = ioFailure else { return nil }
        return CheckAborted(reason: errnoText(f.error), result: self, detail: "\(f.error), while \(f.activity)")
    }
}

extension CheckAborted: CustomStringConvertible {
    package var description: String { "Check failed: \(reason)" + (detail.map { " (\($0))" } ?? "") }
}

/// strerror of an I/O error's errno (qemu-img's "Check failed: ..." text).
func errnoText(_ error: ImageError) -> String {
    guard case let .io(_, _, err) = error else { return "Input/output error" }
    return String(cString: strerror(err))
}
