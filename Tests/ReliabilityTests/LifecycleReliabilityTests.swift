import XCTest

/// Crash points and injected faults for resize, amend and check -r all.
///
/// Not yet enabled, because they fail today (issue 6 note): the crash sweep and fault
/// injection of `Workloads.snapshotCreateDelete` (an interrupted snapshot create or delete
/// leaves COPIED-flag errors and refcounts one too high, not only leaks) and fault injection
/// of `Workloads.checkRepairAll` (an I/O error during repair is reported as "Input/output
/// error" without naming the file).
extension CrashSweepTests {
    func testResizeGrowShrink() throws { try sweep(Workloads.resizeGrowShrink) }
    func testAmendRefcountBits() throws { try sweep(Workloads.amendRefcountBits) }
    func testCheckRepairAll() throws { try sweep(Workloads.checkRepairAll) }
}

extension FaultInjectionTests {
    func testResizeGrowShrink() throws { try inject(Workloads.resizeGrowShrink) }
    func testAmendRefcountBits() throws { try inject(Workloads.amendRefcountBits) }
}
