import XCTest

/// Crash points and injected faults for snapshot create and delete, resize, amend and
/// check -r all.
extension CrashSweepTests {
    func testSnapshotCreateDelete() throws { try sweep(Workloads.snapshotCreateDelete) }
    func testResizeGrowShrink() throws { try sweep(Workloads.resizeGrowShrink) }
    func testAmendRefcountBits() throws { try sweep(Workloads.amendRefcountBits) }
    func testCheckRepairAll() throws { try sweep(Workloads.checkRepairAll) }
}

extension FaultInjectionTests {
    func testSnapshotCreateDelete() throws { try inject(Workloads.snapshotCreateDelete) }
    func testResizeGrowShrink() throws { try inject(Workloads.resizeGrowShrink) }
    func testAmendRefcountBits() throws { try inject(Workloads.amendRefcountBits) }
    func testCheckRepairAll() throws { try inject(Workloads.checkRepairAll) }
}
