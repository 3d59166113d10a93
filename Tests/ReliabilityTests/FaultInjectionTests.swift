import Foundation
import ImageFormat
import XCTest

/// Fault injection: for each workload, the Nth host write, sync or read fails with EIO
/// (once) or ENOSPC (from then on, like a full disk). The error must reach the caller,
/// the process must not crash, and afterwards the file checks with leaks at most, opens
/// read-write again, and still holds every write acknowledged by a completed flush.
final class FaultInjectionTests: XCTestCase {
    override class func setUp() { RunSummary.register() }

    /// Fault points per operation kind in CI, spread evenly over the run; all in long mode.
    static var pointsPerKind: Int { SweepMode.long ? .max : 12 }

    func inject(_ workload: Workload, file: StaticString = #filePath, line: UInt = #line) throws {
        let session = try WorkloadSession(workload)
        let counter = FaultInjector(plan: nil)
        // Counted with tracking on, as in the faulty runs: the harness's reads warm the caches.
        let clean = try session.execute(observer: counter, pause: { counter.paused = $0 }, logPosition: { 0 }, tracking: true)
        if let error = clean.error { XCTFail("\(workload.name): the fault-free run failed: \(error)", file: file, line: line); return }

        var plans: [FaultPlan] = []
        for kind in FaultKind.allCases {
            for n in Self.spread(counter.counts[kind] ?? 0) {
                plans.append(FaultPlan(kind: kind, n: n, errno: EIO, persistent: false))
                if kind != .read { plans.append(FaultPlan(kind: kind, n: n, errno: ENOSPC, persistent: true)) }
            }
        }
        var tried = 0
        for plan in plans {
            let (fired, failure) = try run(session, plan)
            if let failure { XCTFail("\(workload.name): \(plan): \(failure)", file: file, line: line) }
            if fired { tried += 1 }
        }
        XCTAssertEqual(tried, plans.count, "\(workload.name): some planned faults never fired", file: file, line: line)
        let c = counter.counts
        RunSummary.shared.record(
            "fault injection \(workload.name): \(c[.write] ?? 0) writes, \(c[.sync] ?? 0) syncs, \(c[.read] ?? 0) reads; "
                + "\(tried) fault points tried",
            counts: ["fault points": tried])
    }

    /// Up to `pointsPerKind` operation numbers from 1...total, first and last included.
    static func spread(_ total: Int) -> [Int] {
        guard total > 0 else { return [] }
        let k = min(total, pointsPerKind)
        if k == total { return Array(1...total) }
        return Array(Set((0..<k).map { 1 + $0 * (total - 1) / (k - 1) })).sorted()
    }

    /// Whether the fault fired, and what went wrong (nil when the run behaved).
    func run(_ session: WorkloadSession, _ plan: FaultPlan) throws -> (Bool, String?) {
        let injector = FaultInjector(plan: plan)
        let failure = try run(session, injector)
        return (injector.fired > 0, failure)
    }

    func run(_ session: WorkloadSession, _ injector: FaultInjector) throws -> String? {
        let plan = injector.plan!
        let outcome = try session.execute(observer: injector, pause: { injector.paused = $0 }, logPosition: { 0 },
                                          tracking: true)
        guard injector.fired > 0 else { return nil }  // this run never reached the Nth operation
        guard let error = outcome.error else { return "the injected error was swallowed: every call succeeded" }
        let text = "\(error)"
        let expected = String(cString: strerror(plan.errno))
        guard text.contains(expected), let failed = injector.failedPath, text.contains(failed) else {
            return "the error does not say what failed and where: \(text)"
        }
        // Judge a copy, so the original stays as the fault left it for inspection.
        let copy = session.dir.file("after-fault.qcow2")
        try Files.write(try Files.read(session.workPath), to: copy)
        let verdict = try ImageJudge.check(copy, repairFirst: session.workload.repairFirst)
        guard verdict.ok else { return "after the fault: \(verdict.detail)" }
        do { try ImageJudge.reopenWritable(copy) } catch { return "a later read-write open fails: \(error)" }
        guard let driver = outcome.driver else { return nil }  // the open itself failed: nothing acknowledged
        let guest = try ImageJudge.readGuest(copy)
        let acknowledged = driver.flushes.last?.state ?? 0
        let allowed = Array(driver.states[acknowledged...])
        if let byte = CrashSweep.firstUnexplainedByte(guest, allowed) {
            return "guest byte \(byte) lost its acknowledged value after the fault"
        }
        return nil
    }

    func testL2Boundaries() throws { try inject(Workloads.l2Boundaries) }
    func testL2BoundariesLazyRefcounts() throws { try inject(Workloads.l2BoundariesLazy) }
    func testBackingCopyOnWrite() throws { try inject(Workloads.backingCopyOnWrite) }
    func testBackingExtendedL2() throws { try inject(Workloads.backingExtendedL2) }
    func testZeroesAndDiscards() throws { try inject(Workloads.zeroesAndDiscards) }
    func testDiscardsOverBackingV2() throws { try inject(Workloads.discardsOverBackingV2) }
    func testCompressed() throws { try inject(Workloads.compressed) }
    func testL1Growth() throws { try inject(Workloads.l1Growth) }
    func testRefcountTableGrowth64Bit() throws { try inject(Workloads.refcountTableGrowth64) }
    func testRefcountBlocks1Bit() throws { try inject(Workloads.refcountBlocks1Bit) }
}
