/// AND, OR, XOR, TEST, NOT: CF and OF cleared, AF left as the 8086 leaves it (cleared).
extension CPU {
    @inline(always) func logicResult(_ r: UInt32, _ size: Int) -> UInt32 {
        let v = r & maskOf(size)
        recordFlags(v, 0, UInt64(v), size, subtract: false)
        return v
    }

    /// TEST AL|eAX, imm (A8/A9).
    @inline(always) func testAccImm(_ opcode: UInt8) {
        let size = opcode & 1 == 0 ? 1 : opSize
        _ = logicResult(getReg(Reg.ax, size) & fetchImm(size), size)
    }
}
