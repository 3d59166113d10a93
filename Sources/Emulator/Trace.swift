#if canImport(Glibc)
import Glibc
#endif

/// Instruction tracing for `img boot --trace`: one line per instruction with CS:IP, the
/// instruction bytes and the registers before it ran.
extension Machine {
    func traceSlice(_ n: UInt64) {
        guard let sink = traceSink else { return }
        for _ in 0..<n {
            let cs = cpu.segment(Seg.cs), ip = cpu.eip
            let base = cpu.segmentBase(Seg.cs)
            let regs = cpuRegisterText()
            cpu.step()
            let length = cpu.segment(Seg.cs) == cs && cpu.eip > ip && cpu.eip - ip <= 15 ? Int(cpu.eip - ip) : 1
            var bytes = ""
            for i in 0..<length { bytes += hex8(memory.read8(base &+ ip &+ UInt32(i))) }
            if length == 1 && !(cpu.segment(Seg.cs) == cs && cpu.eip == ip &+ 1) { bytes += ".." }
            sink("\(hex16(cs)):\(hex32(ip)) \((bytes.count >= 24 ? String(bytes.prefix(24)) : bytes + String(repeating: " ", count: 24 - bytes.count))) \(regs)")
            if cpu.stop != nil || cpu.halted { return }
        }
    }

    private func cpuRegisterText() -> String {
        let names = ["EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"]
        var s = ""
        for (i, n) in names.enumerated() { s += "\(n)=\(hex32(cpu.reg32(i))) " }
        for (i, n) in ["ES", "SS", "DS"].enumerated() { s += "\(n)=\(hex16(cpu.segment([Seg.es, Seg.ss, Seg.ds][i]))) " }
        s += "FL=\(hex32(cpu.flags))"
        return s
    }
}
