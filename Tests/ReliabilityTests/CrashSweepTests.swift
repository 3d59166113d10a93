import Foundation
import ImageFormat
import XCTest

/// Crash-point sweep: every workload is recorded once, then every crash state is judged:
/// the image checks with leaks at most (img check in process; qemu-img check must agree on
/// a sample of the states), and every write acknowledged by a completed flush
/// reads back (later writes may read old or new, never another region's data).
final class CrashSweepTests: XCTestCase {
    override class func setUp() { RunSummary.register() }

    func sweep(_ workload: Workload, file: StaticString = #filePath, line: UInt = #line) throws {
        let session = try WorkloadSession(workload)
        let recorder = IORecorder(path: session.workPath)
        let outcome = try session.execute(observer: recorder, pause: { recorder.paused = $0 },
                                          logPosition: { recorder.events.count }, tracking: true)
        if let error = outcome.error { XCTFail("\(workload.name): the live run failed: \(error)", file: file, line: line); return }
        if let missed = outcome.missed { XCTFail("\(workload.name): \(missed)", file: file, line: line) }
        guard let driver = outcome.driver else { return }
        // The live result must itself be clean before its crash states mean anything.
        let finalCopy = session.dir.file("final.qcow2")
        try Files.write(try Files.read(session.workPath), to: finalCopy)
        let final = try ImageJudge.check(finalCopy, repairFirst: false)
        XCTAssertTrue(final.ok, "\(workload.name): after a clean run: \(final.detail)", file: file, line: line)

        if ProcessInfo.processInfo.environment["IMG_CRASH_TRACE"] != nil { trace(recorder.events, driver) }
        let crossChecked = QemuCrossCheck.compared
        let result = try CrashSweep(session: session, events: recorder.events, driver: driver).run()
        let sampled = QemuCrossCheck.compared - crossChecked
        for failure in result.failures { XCTFail("\(workload.name): \(failure)", file: file, line: line) }
        let syncs = recorder.events.filter(\.isSync).count
        RunSummary.shared.record(
            "crash sweep \(workload.name): \(recorder.events.count) host events (\(syncs) syncs), "
                + "\(result.crashPoints) crash points, \(result.states) distinct crash states judged "
                + "(\(sampled) also by qemu-img check)",
            counts: ["crash points": result.crashPoints, "crash states": result.states,
                     "crash states cross-checked with qemu-img": sampled])
    }

    /// IMG_CRASH_TRACE=1 prints the host log with the guest operations that issued it.
    func trace(_ events: [IOEvent], _ driver: WorkloadDriver) {
        for (i, e) in events.enumerated() {
            for (k, start) in driver.opStarts.enumerated() where start == i { print("  op \(k): \(driver.opNames[k])") }
            switch e {
            case let .write(offset, bytes): print("    \(i): write 0x\(String(offset, radix: 16)) +\(bytes.count)")
            case .sync: print("    \(i): sync")
            case let .truncate(length): print("    \(i): truncate \(length)")
            case let .deallocate(offset, length): print("    \(i): punch 0x\(String(offset, radix: 16)) +\(length)")
            }
        }
    }

    func testL2Boundaries() throws { try sweep(Workloads.l2Boundaries) }
    func testL2BoundariesLazyRefcounts() throws { try sweep(Workloads.l2BoundariesLazy) }
    func testBackingCopyOnWrite() throws { try sweep(Workloads.backingCopyOnWrite) }
    func testBackingExtendedL2() throws { try sweep(Workloads.backingExtendedL2) }
    func testZeroesAndDiscards() throws { try sweep(Workloads.zeroesAndDiscards) }
    func testDiscardsOverBackingV2() throws { try sweep(Workloads.discardsOverBackingV2) }
    func testCompressed() throws { try sweep(Workloads.compressed) }
    func testL1Growth() throws { try sweep(Workloads.l1Growth) }
    func testRefcountTableGrowth64Bit() throws { try sweep(Workloads.refcountTableGrowth64) }
    func testRefcountBlocks1Bit() throws { try sweep(Workloads.refcountBlocks1Bit) }
}
