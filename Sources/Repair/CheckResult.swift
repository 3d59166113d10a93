/// Counters of one check run, named and combined as QEMU's BdrvCheckResult.
package struct CheckResult: Equatable {
    package var corruptions = 0
    package var leaks = 0
    package var checkErrors = 0
    package var corruptionsFixed = 0
    package var leaksFixed = 0
    package var imageEndOffset: UInt64 = 0
    package var totalClusters: UInt64 = 0
    package var allocatedClusters: UInt64 = 0
    package var fragmentedClusters: UInt64 = 0
    package var compressedClusters: UInt64 = 0
    /// The first I/O error the check survived (CheckIOFailure.swift).
    package var ioFailure: IOFailure?
    package init() {}
}

/// What a check may repair: -r leaks, -r all (errors and leaks).
package struct FixMode: OptionSet, Sendable {
    package let rawValue: Int
    package init(rawValue: Int) { self.rawValue = rawValue }
    package static let leaks = FixMode(rawValue: 1)
    package static let errors = FixMode(rawValue: 2)
    package static let all: FixMode = [.leaks, .errors]
}

/// The check could not be completed (QEMU: a negative return from the driver's check).
package struct CheckAborted: Error {
    /// The strerror-style reason printed after "Check failed: ".
    package var reason: String
    package var result: CheckResult
    /// For an I/O error: the file, the operation and offset, and what the check was doing.
    package var detail: String?
    package init(reason: String, result: CheckResult, detail: String? = nil) {
        self.reason = reason
        self.result = result
        self.detail = detail
    }
}
