import Emulator

/// A 386 in real mode for instruction tests: 2 MiB of memory, all segments at 0, the
/// stack at 0000:8000 and code expected at 0000:1000.
func makeRealMode386() -> (Memory, CPU) {
    let memory = Memory(size: 2 << 20)
    let cpu = CPU(model: .i386, memory: memory, io: IOBus())
    for s in 0..<6 { cpu.setSegmentReal(s, 0) }
    cpu.setReg32(Reg.sp, 0x8000)
    cpu.eip = 0x1000
    return (memory, cpu)
}
