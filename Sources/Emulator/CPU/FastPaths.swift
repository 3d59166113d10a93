/// Handlers of the forms the decoder specializes: the operand size and both operands come
/// from the decode, with no ModRM state to set up. Each one matches the generic handler of
/// its opcode (Arithmetic.swift, DataTransfer.swift) for its form.
extension CPU {
    /// Runs `body` with the decoded operand size as a constant: each inlined copy folds
    /// the width tests of the helpers it calls. `known` (the dword families) skips the test.
    @inline(always) private func withDecodedSize(_ known: Int = 0, _ body: (Int) -> Void) {
        if known != 0 { return body(known) }
        switch decoded.pointee.size {
        case 4: body(4)
        case 2: body(2)
        default: body(1)
        }
    }

    /// 00-3B with a register r/m: ALU op between two registers.
    @inline(always) func aluRegisters(known: Int = 0) {
        let d = decoded
        let op = Int(d.pointee.opcode >> 3) & 7
        let dst = Int(d.pointee.reg), src = Int(d.pointee.rm)
        withDecodedSize(known) { aluRegisters(op, dst, src, $0) }
    }

    @inline(always) private func aluRegisters(_ op: Int, _ dst: Int, _ src: Int, _ size: Int) {
        let r = alu(op, getReg(dst, size), getReg(src, size), size)
        if op != 7 { setReg(dst, size, r) }
    }

    /// 00-3B with a memory r/m, either direction.
    @inline(always) func aluMemory(known: Int = 0) {
        withDecodedSize(known) { aluMemory(size: $0) }
    }

    @inline(always) private func aluMemory(size: Int) {
        let d = decoded
        let op = Int(d.pointee.opcode >> 3) & 7, r = Int(d.pointee.reg)
        let off = effectiveOffset(d), seg = Int(d.pointee.segment)
        if d.pointee.opcode & 2 != 0 {
            let v = alu(op, getReg(r, size), read(seg, off, size), size)
            if op != 7 { setReg(r, size, v) }
        } else {
            let v = alu(op, read(seg, off, size), getReg(r, size), size)
            if op != 7 { write(seg, off, size, v) }
        }
    }

    /// 80, 81, 83 with the immediate in the decode.
    @inline(always) func aluImmediateDecoded(known: Int = 0) {
        withDecodedSize(known) { aluImmediateDecoded(size: $0) }
    }

    @inline(always) private func aluImmediateDecoded(size: Int) {
        let d = decoded
        let op = Int(d.pointee.reg), imm = d.pointee.immediate
        if d.pointee.mod == 3 {
            let r = Int(d.pointee.rm)
            let v = alu(op, getReg(r, size), imm, size)
            if op != 7 { setReg(r, size, v) }
        } else {
            let off = effectiveOffset(d), seg = Int(d.pointee.segment)
            let v = alu(op, read(seg, off, size), imm, size)
            if op != 7 { write(seg, off, size, v) }
        }
    }

    /// C0/C1 (386) and D0/D1 with the count in the decode.
    @inline(always) func shiftDecoded(known: Int = 0) {
        withDecodedSize(known) { shiftDecoded(size: $0) }
    }

    @inline(always) private func shiftDecoded(size: Int) {
        let d = decoded
        let op = Int(d.pointee.reg), count = d.pointee.immediate
        if d.pointee.mod == 3 {
            let r = Int(d.pointee.rm)
            setReg(r, size, shiftRotate(op, getReg(r, size), count, size))
        } else {
            let off = effectiveOffset(d), seg = Int(d.pointee.segment)
            write(seg, off, size, shiftRotate(op, read(seg, off, size), count, size))
        }
    }

    /// 84/85: TEST r/m, reg.
    @inline(always) func testDecoded(known: Int = 0) {
        withDecodedSize(known) { testDecoded(size: $0) }
    }

    @inline(always) private func testDecoded(size: Int) {
        let d = decoded
        let a = d.pointee.mod == 3 ? getReg(Int(d.pointee.rm), size) : read(Int(d.pointee.segment), effectiveOffset(d), size)
        _ = logicResult(a & getReg(Int(d.pointee.reg), size), size)
    }

    /// 0F B6/B7/BE/BF: MOVZX/MOVSX into a register of the operand size.
    @inline(always) func moveExtendDecoded() {
        let d = decoded
        let op2 = d.pointee.opcode2
        let srcSize = op2 & 1 == 0 ? 1 : 2
        let v = d.pointee.mod == 3 ? getReg(Int(d.pointee.rm), srcSize) : read(Int(d.pointee.segment), effectiveOffset(d), srcSize)
        let r = op2 < 0xBE ? v : UInt32(bitPattern: Int32(truncatingIfNeeded: signExtend(v, srcSize)))
        setReg(Int(d.pointee.reg), opSize, r & maskOf(opSize))
    }

    /// 88-8B with a register r/m.
    @inline(always) func moveRegisters(known: Int = 0) {
        let d = decoded
        let dst = Int(d.pointee.reg), src = Int(d.pointee.rm)
        withDecodedSize(known) { setReg(dst, $0, getReg(src, $0)) }
    }

    /// 8D with a memory operand: the offset, truncated to the operand size.
    @inline(always) func leaDecoded() {
        let d = decoded
        setReg(Int(d.pointee.reg), opSize, effectiveOffset(d) & maskOf(opSize))
    }

    /// F6/F7 /4: MUL r/m.
    @inline(always) func multiplyDecoded() {
        withDecodedSize { size in
            let d = decoded
            let v = d.pointee.mod == 3 ? getReg(Int(d.pointee.rm), size) : read(Int(d.pointee.segment), effectiveOffset(d), size)
            multiplyInline(v, size, signed: false)
        }
    }

    /// C6/C7: MOV r/m, imm with the immediate in the decode.
    @inline(always) func movRMImmDecoded() {
        withDecodedSize { size in
            let d = decoded
            if d.pointee.mod == 3 {
                setReg(Int(d.pointee.rm), size, d.pointee.immediate)
            } else {
                write(Int(d.pointee.segment), effectiveOffset(d), size, d.pointee.immediate)
            }
        }
    }

    /// FE/FF /0 /1 (INC/DEC r/m) and FF /2 /4 /6 (CALL/JMP near r/m, PUSH r/m), as
    /// `group4`/`group5` do them, with the operand size from the decode.
    @inline(always) func group5Decoded() {
        withDecodedSize { size in
            let d = decoded
            let reg = d.pointee.reg, rm = Int(d.pointee.rm)
            let memory = d.pointee.mod != 3
            let off = memory ? effectiveOffset(d) : 0, seg = Int(d.pointee.segment)
            let v = memory ? read(seg, off, size) : getReg(rm, size)
            switch reg {
            case 0, 1:
                let r = incdec(v, reg == 1, size)
                if memory { write(seg, off, size, r) } else { setReg(rm, size, r) }
            case 2:
                push(eip, size)
                eip = v
            case 4: eip = v
            default: push(v, size)
            }
        }
    }

    /// 8A/8B with a memory operand: register = memory.
    @inline(always) func moveLoad(known: Int = 0) {
        let d = decoded
        let off = effectiveOffset(d), seg = Int(d.pointee.segment), r = Int(d.pointee.reg)
        withDecodedSize(known) { setReg(r, $0, read(seg, off, $0)) }
    }

    /// 88/89 with a memory operand: memory = register.
    @inline(always) func moveStore(known: Int = 0) {
        let d = decoded
        let off = effectiveOffset(d), seg = Int(d.pointee.segment), r = Int(d.pointee.reg)
        withDecodedSize(known) { write(seg, off, $0, getReg(r, $0)) }
    }
}
