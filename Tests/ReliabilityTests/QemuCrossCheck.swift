import Foundation
import ImageFormat
import Repair

/// The judge runs img's own checker; `qemu-img check` on a sample of the same states must
/// report the same numbers of errors, leaks and check errors, so the two checkers agree on
/// every kind of state the sweeps produce.
enum QemuCrossCheck {
    /// Every Nth judged state in CI, every state in long mode.
    static var every: Int { SweepMode.long ? 1 : 4 }
    nonisolated(unsafe) private static var judged = 0
    nonisolated(unsafe) private(set) static var compared = 0

    /// Whether the state being judged now is one of the sample.
    static func due() -> Bool {
        judged += 1
        return judged % every == 1 || every == 1
    }

    /// nil when both checkers report the same counts, else the two reports.
    static func compare(_ path: String) throws -> String? {
        compared += 1
        let qemu = try Proc.run("qemu-img", ["check", "--output=json", "-f", "qcow2", path])
        let img = try ImageJudge.imgCheck(path, fix: [])
        let mine = img.aborted != nil ? nil
            : (img.result.corruptions, img.result.leaks, img.result.checkErrors)
        let theirs = counts(qemu)
        let same: Bool
        switch (mine, theirs) {
        case (nil, nil): same = true
        case let (m?, t?): same = m == t
        default: same = false
        }
        if same { return nil }
        return "img check and qemu-img check disagree: img: \(img.text)\nqemu-img (exit \(qemu.status)): \(qemu.output)"
    }

    /// (corruptions, leaks, check-errors) from qemu-img's JSON; nil when it could not check.
    static func counts(_ r: Proc.Result) -> (Int, Int, Int)? {
        guard let start = r.output.firstIndex(of: "{"),
              let json = try? JSONSerialization.jsonObject(with: Data(r.output[start...].utf8)) as? [String: Any] else {
            return nil
        }
        func n(_ key: String) -> Int { (json[key] as? NSNumber)?.intValue ?? 0 }
        return (n("corruptions"), n("leaks"), n("check-errors"))
    }
}
