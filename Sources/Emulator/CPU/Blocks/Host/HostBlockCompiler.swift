/// Host code for a compiled block (x86-64): its register, memory, stack and branch
/// micro-ops (`handles`) become machine instructions, so a loop within the block runs
/// without dispatch. Each has exactly the effect of the runner's (BlockRunner.swift), lazy
/// flag record included. At any other micro-op, at a memory access off Memory's fast path
/// or into a line holding code, on a 16-bit stack, at a branch that leaves the block and
/// when the budget does not cover a loop's next pass, the code returns the micro-op's
/// index and the runner goes on from there with the state exact.
///
/// Registers: RBX the frame (HostFrame), R12 the guest registers, R13 guest RAM, R14 the
/// segment bases, R15 the decode cache's line marks; the rest are scratch.
struct HostBlockCompiler {
    typealias R = HostEmitter.R

    /// Where the generated code finds the guest state.
    struct Addresses {
        var registers: UInt64
        var ram: UInt64
        var segmentBases: UInt64
        var segmentAttributes: UInt64
        var lineMarks: UInt64
        /// Memory's fast-path limits (fixed while blocks exist, see `fastReadLimit`).
        var readLimit: UInt32
        var writeLimit: UInt32
    }

    /// The operation whose lazy record is pending at a point of the code, when known:
    /// a conditional jump then tests host flags set by replaying it.
    private enum Producer: Equatable { case unknown, add, sub, addCarry, subCarry, logic, increment, decrement, shift }

    private var e: HostEmitter
    private let addresses: Addresses
    private var producer = Producer.unknown
    /// The width of the pending record's operation when `producer` is known.
    private var producerBits: UInt8 = 32
    /// Jumps to the exit that returns micro-op index `index`.
    private var exits: [(position: Int, index: Int)] = []
    private var branches: [(position: Int, target: Int)] = []

    init(_ addresses: Addresses, count: Int) {
        self.addresses = addresses
        e = HostEmitter(capacity: 64 + count * 64)
    }

    /// Host code for the `count` micro-ops at `ops` (followed by their `blockEnd`), or nil
    /// when it would return to the runner too soon to pay for the call: unless the block
    /// loops within itself, its first two micro-ops must get host code. (A conditional
    /// jump first only returns: what its flags come from is not known there.)
    static func compile(_ ops: UnsafeMutablePointer<MicroOp>, count: Int, _ addresses: Addresses) -> [UInt8]? {
        guard ops[0].kind != .jcc, ops[0].kind != .jccWithin else { return nil }
        let loops = (0..<count).contains { ops[$0].kind == .jumpWithin || ops[$0].kind == .jccWithin }
        guard handles(ops[0]), loops || count < 2 || handles(ops[1]) else { return nil }
        var c = HostBlockCompiler(addresses, count: count)
        return c.emitBlock(ops, count: count)
    }

    /// Whether the micro-op gets host code (the others return to the runner).
    static func handles(_ m: MicroOp) -> Bool {
        switch m.kind {
        case .moveRegisters, .moveImmediateToRegister, .loadAddress, .aluRegisters, .aluImmediateRegister,
             .testRegisters, .increment, .decrement, .doubleShiftRegister, .load, .store, .moveImmediateToMemory,
             .aluLoad, .aluStore, .aluImmediateMemory, .jcc, .jccWithin, .jumpWithin, .incrementMemory,
             .decrementMemory, .push, .pop, .extendRegister, .extendMemory, .multiplyRegister, .loadByte, .storeByte,
             .aluImmediateByteRegister, .testRegistersByte, .testImmediateByte, .moveImmediateByte:
            return true
        case .shiftRegister: return m.operation >= 4
        case .flagOperation: // CMC, CLC, STC, CLD, STD (not CLI, STI)
            return m.operation == 0xF5 || m.operation == 0xF8 || m.operation == 0xF9 || m.operation >= 0xFC
        default: return false
        }
    }

    private mutating func emitBlock(_ ops: UnsafeMutablePointer<MicroOp>, count: Int) -> [UInt8] {
        for r in [R.rbx, .r12, .r13, .r14, .r15] { e.push(r) }
        e.move(.rbx, .rdi, wide: true)
        e.move64(.r12, addresses.registers)
        e.move64(.r13, addresses.ram)
        e.move64(.r14, addresses.segmentBases)
        e.move64(.r15, addresses.lineMarks)
        var isTarget = [Bool](repeating: false, count: count)
        for i in 0..<count where ops[i].kind == .jccWithin || ops[i].kind == .jumpWithin { isTarget[Int(ops[i].b)] = true }
        var labels = [Int](repeating: 0, count: count + 1)
        for i in 0..<count {
            labels[i] = e.offset
            // Reached from a branch too: the pending record is not known here.
            if isTarget[i] { producer = .unknown }
            emit(ops[i], index: i, count: count)
        }
        labels[count] = e.offset
        exit(count)
        // The exits: RAX = the index, then the epilogue.
        let epilogue = e.offset
        for r in [R.r15, .r14, .r13, .r12, .rbx] { e.pop(r) }
        e.ret()
        var stubs = [Int](repeating: -1, count: count + 1)
        for (position, index) in exits {
            if stubs[index] < 0 {
                stubs[index] = e.offset
                e.move(.rax, UInt32(index))
                e.bind(e.jump(), to: epilogue)
            }
            e.bind(position, to: stubs[index])
        }
        for (position, target) in branches { e.bind(position, to: labels[target]) }
        return e.bytes
    }

    // MARK: micro-ops

    private mutating func emit(_ m: MicroOp, index i: Int, count: Int) {
        guard HostBlockCompiler.handles(m) else {
            exit(i)
            producer = .unknown
            return
        }
        let a = Int32(m.a) * 4, b = Int32(m.b) * 4
        switch m.kind {
        case .moveRegisters:
            e.load(.rax, .r12, b)
            e.store(.rax, .r12, a)
        case .moveImmediateToRegister:
            e.storeImmediate(m.immediate, .r12, a)
        case .loadAddress:
            effectiveAddress(m)
            e.store(.rax, .r12, a)
        case .aluRegisters:
            e.load(.rcx, .r12, b)
            aluOnRegister(m, a)
        case .aluImmediateRegister:
            e.move(.rcx, m.immediate)
            aluOnRegister(m, a)
        case .testRegisters:
            e.load(.rdx, .r12, b)
            e.load(.rax, .r12, a)
            e.alu(4, .rdx, .rax)
            recordLogic()
        case .increment, .decrement:
            carryInto(.r8)
            e.load(.rax, .r12, a)
            incrementOrDecrement(m.kind == .increment)
            e.store(.rdx, .r12, a)
        case .incrementMemory, .decrementMemory:
            linearAddress(m, index: i, forWriting: true)
            e.move(.r9, .rax)
            carryInto(.r8)
            e.load(.rax, .r13, index: .r9, 0)
            incrementOrDecrement(m.kind == .incrementMemory)
            e.store(.rdx, .r13, index: .r9, 0)
        case .push:
            // The value first (PUSH ESP pushes the old ESP), ESP once the store is done.
            bigStackOrExit(index: i)
            e.load(.rcx, .r12, a)
            e.load(.rax, .r12, HostBlockCompiler.esp)
            e.alu(5, .rax, immediate: 4)
            e.move(.r8, .rax)
            segmentedAddress(segment: HostBlockCompiler.ss, index: i, forWriting: true)
            e.store(.rcx, .r13, index: .rax, 0)
            e.store(.r8, .r12, HostBlockCompiler.esp)
        case .pop:
            // ESP first, then the register (POP ESP loads ESP).
            bigStackOrExit(index: i)
            e.load(.rax, .r12, HostBlockCompiler.esp)
            e.move(.r8, .rax)
            segmentedAddress(segment: HostBlockCompiler.ss, index: i, forWriting: false)
            e.load(.rcx, .r13, index: .rax, 0)
            e.alu(0, .r8, immediate: 4)
            e.store(.r8, .r12, HostBlockCompiler.esp)
            e.store(.rcx, .r12, a)
        case .extendRegister:
            let byte = m.operation & 1 == 0
            e.loadExtended(m.operation, .rcx, .r12, byte ? byteRegister(m.b) : b)
            e.store(.rcx, .r12, a)
        case .extendMemory:
            linearAddress(m, index: i, forWriting: false)
            e.loadExtended(m.operation, .rcx, .r13, index: .rax, 0)
            e.store(.rcx, .r12, a)
        case .multiplyRegister:
            // EDX:EAX = EAX * r, recorded like a shift of the low half with CF = OF = high half != 0.
            e.load(.rax, .r12, 0)
            e.load(.rcx, .r12, a)
            e.multiply(.rax, .rcx)
            e.move(.r9, .rax)
            e.move(.r10, .rax, wide: true)
            e.shift(5, .r10, 32, wide: true)
            e.store(.r9, .r12, 0)
            e.store(.r10, .r12, HostBlockCompiler.edx)
            e.negate(.r10)
            e.alu(3, .r10, .r10)
            e.negate(.r10)
            e.move(.r11, .r10)
            recordShift()
        case .flagOperation:
            flagOperation(m.operation)
        case .loadByte:
            linearAddress(m, index: i, forWriting: false)
            e.loadExtended(0xB6, .rcx, .r13, index: .rax, 0)
            e.storeByte(.rcx, .r12, byteRegister(m.a))
        case .storeByte:
            linearAddress(m, index: i, forWriting: true)
            e.loadExtended(0xB6, .rcx, .r12, byteRegister(m.a))
            e.storeByte(.rcx, .r13, index: .rax, 0)
        case .moveImmediateByte:
            e.storeByte(UInt8(truncatingIfNeeded: m.immediate), .r12, byteRegister(m.a))
        case .aluImmediateByteRegister:
            e.loadExtended(0xB6, .rax, .r12, byteRegister(m.a))
            e.move(.rcx, m.immediate)
            alu(m.operation, bits: 8)
            if m.operation != 7 { e.storeByte(.rdx, .r12, byteRegister(m.a)) }
        case .testRegistersByte:
            e.loadExtended(0xB6, .rdx, .r12, byteRegister(m.b))
            e.loadExtended(0xB6, .rax, .r12, byteRegister(m.a))
            e.alu(4, .rdx, .rax)
            recordLogic(bits: 8)
        case .testImmediateByte:
            e.loadExtended(0xB6, .rdx, .r12, byteRegister(m.a))
            e.alu(4, .rdx, immediate: m.immediate)
            recordLogic(bits: 8)
        case .shiftRegister:
            let count = UInt8(m.immediate & 31)
            guard count != 0 else { return }
            e.load(.rax, .r12, a)
            shift(m.operation, count)
            e.store(.r9, .r12, a)
        case .doubleShiftRegister:
            let count = UInt8(m.immediate & 31)
            guard count != 0 else { return }
            doubleShift(left: m.operation != 0, destination: b, source: a, count)
            e.store(.r9, .r12, b)
        case .load:
            linearAddress(m, index: i, forWriting: false)
            e.load(.rcx, .r13, index: .rax, 0)
            e.store(.rcx, .r12, a)
        case .store:
            linearAddress(m, index: i, forWriting: true)
            e.load(.rcx, .r12, a)
            e.store(.rcx, .r13, index: .rax, 0)
        case .moveImmediateToMemory:
            linearAddress(m, index: i, forWriting: true)
            e.storeImmediate(m.immediate, .r13, index: .rax, 0)
        case .aluLoad:
            linearAddress(m, index: i, forWriting: false)
            e.load(.rcx, .r13, index: .rax, 0)
            aluOnRegister(m, a)
        case .aluStore, .aluImmediateMemory:
            linearAddress(m, index: i, forWriting: m.operation != 7)
            e.move(.r9, .rax)
            if m.kind == .aluStore { e.load(.rcx, .r12, a) } else { e.move(.rcx, m.immediate) }
            e.load(.rax, .r13, index: .r9, 0)
            alu(m.operation)
            if m.operation != 7 { e.store(.rdx, .r13, index: .r9, 0) }
        case .jcc, .jccWithin:
            guard replayFlags(forCondition: m.operation) else { return exit(i) }
            let notTaken = e.jump(if: m.operation ^ 1)
            if m.kind == .jccWithin { branchWithin(m, index: i, count: count) } else { exit(i) }
            e.bind(notTaken, to: e.offset)
        case .jumpWithin:
            branchWithin(m, index: i, count: count)
        default: // not reached: `handles` is checked above
            exit(i)
            producer = .unknown
        }
    }

    static let edx: Int32 = 2 * 4, esp: Int32 = 4 * 4
    static let ss: UInt8 = 2

    /// Where byte register `i` (AL, CL, DL, BL, AH, CH, DH, BH) is among the registers.
    private func byteRegister(_ i: UInt8) -> Int32 { i < 4 ? Int32(i) * 4 : Int32(i - 4) * 4 + 1 }

    /// EDX = EAX + 1 or - 1 with CF (in R8) kept, recorded as `incdec` records it.
    private mutating func incrementOrDecrement(_ increment: Bool) {
        e.move(.rdx, .rax, wide: true)
        e.alu(increment ? 0 : 5, .rdx, immediate: 1, wide: true)
        // The record of an add or subtract of 1, with the kept CF above the result.
        e.move(.r10, .rdx)
        e.move(.r11, .r8, wide: true)
        e.shift(4, .r11, 32, wide: true)
        e.alu(1, .r10, .r11, wide: true)
        e.move(.rcx, 1)
        record(increment ? 1 : 2, a: .rax, b: .rcx, wide: .r10)
        producer = increment ? .increment : .decrement
    }

    /// Back to the runner unless SS is a 32-bit stack segment (16-bit stacks wrap SP).
    private mutating func bigStackOrExit(index i: Int) {
        e.move64(.r10, addresses.segmentAttributes)
        e.loadExtended(0xB7, .r10, .r10, Int32(HostBlockCompiler.ss) * 2)
        e.alu(4, .r10, immediate: 0x4000)
        exits.append((e.jump(if: 4), i))
    }

    /// CMC, CLC, STC (CF, in the pending record when there is one: `setCarry`), CLD, STD.
    private mutating func flagOperation(_ opcode: UInt8) {
        if opcode >= 0xFC {
            if opcode == 0xFC { e.alu(4, .rbx, HostFrame.flags, immediate: ~F.df) } else { e.alu(1, .rbx, HostFrame.flags, immediate: F.df) }
            return
        }
        let operation: UInt8 = opcode == 0xF9 ? 5 : opcode == 0xF8 ? 6 : 7 // BTS, BTR, BTC
        e.loadByte(.r10, .rbx, HostFrame.op)
        e.test(.r10, .r10)
        let fromFlags = e.jump(if: 4)
        e.load(.r10, .rbx, HostFrame.wide, wide: true)
        e.loadByte(.r11, .rbx, HostFrame.bits)
        e.bitOperation(operation, .r10, bit: .r11)
        e.store(.r10, .rbx, HostFrame.wide, wide: true)
        let done = e.jump()
        e.bind(fromFlags, to: e.offset)
        e.bitOperation(operation, .rbx, HostFrame.flags, bit: 0)
        e.bind(done, to: e.offset)
        // A replay would recompute CF from the operands: the record is no longer one.
        producer = .unknown
    }

    /// `regs[a] op= ECX` with EAX loaded from regs[a] (CMP only records).
    private mutating func aluOnRegister(_ m: MicroOp, _ a: Int32) {
        e.load(.rax, .r12, a)
        alu(m.operation)
        if m.operation != 7 { e.store(.rdx, .r12, a) }
    }

    /// EDX = EAX op ECX (both zero-extended, operands of `bits` bits), the lazy record
    /// written as `alu` writes it.
    private mutating func alu(_ operation: UInt8, bits: UInt8 = 32) {
        switch operation {
        case 0, 2, 3, 5, 7:
            // ADD, ADC: the 64-bit sum is the record's wide result; SBB, SUB, CMP: the
            // 64-bit difference. ADC and SBB add or take CF too.
            let subtract = operation >= 3, carry = operation == 2 || operation == 3
            let hostOperation: UInt8 = subtract ? 5 : 0
            if carry { carryInto(.r8) }
            e.move(.rdx, .rax, wide: true)
            e.alu(hostOperation, .rdx, .rcx, wide: true)
            if carry { e.alu(hostOperation, .rdx, .r8, wide: true) }
            record(subtract ? 2 : 1, a: .rax, b: .rcx, wide: .rdx, bits: bits)
            producer = subtract ? (carry ? .subCarry : .sub) : (carry ? .addCarry : .add)
        default: // OR, AND, XOR
            e.move(.rdx, .rax)
            e.alu(operation, .rdx, .rcx)
            recordLogic(bits: bits)
        }
    }

    /// The record of a logic result in EDX: r + 0.
    private mutating func recordLogic(bits: UInt8 = 32) {
        e.move(.rcx, 0)
        record(1, a: .rdx, b: .rcx, wide: .rdx, bits: bits)
        producer = .logic
    }

    private mutating func record(_ op: UInt8, a: R, b: R, wide: R, bits: UInt8 = 32) {
        e.storeByte(op, .rbx, HostFrame.op)
        e.storeByte(bits, .rbx, HostFrame.bits)
        e.store(a, .rbx, HostFrame.a)
        e.store(b, .rbx, HostFrame.b)
        e.store(wide, .rbx, HostFrame.wide, wide: true)
        producerBits = bits
    }

    /// `r` = CF (0 or 1) as `carryFlag` reads it: bit `bits` of the wide result while a
    /// record is pending, else FLAGS bit 0. Uses R10 and R11.
    private mutating func carryInto(_ r: R) {
        if producer != .unknown {
            e.load(r, .rbx, HostFrame.wide, wide: true)
            e.shift(5, r, producerBits, wide: true)
            e.alu(4, r, immediate: 1)
            return
        }
        e.loadByte(.r10, .rbx, HostFrame.op)
        e.test(.r10, .r10)
        let fromFlags = e.jump(if: 4)
        e.load(.r10, .rbx, HostFrame.wide, wide: true)
        e.loadByte(.r11, .rbx, HostFrame.bits)
        e.bitTest(.r10, bit: .r11)
        e.alu(3, r, r) // SBB r, r: 0 or -1
        e.negate(r)
        let done = e.jump()
        e.bind(fromFlags, to: e.offset)
        e.load(r, .rbx, HostFrame.flags)
        e.alu(4, r, immediate: 1)
        e.bind(done, to: e.offset)
    }

    /// Host flags as the pending record defines them, for condition `cc`; false when the
    /// record's operation is not known here (the runner then evaluates the condition).
    private mutating func replayFlags(forCondition cc: UInt8) -> Bool {
        let readsCarry = cc >> 1 == 1 || cc >> 1 == 3
        // Byte records are replayed for ADD, SUB, CMP and the logic forms only.
        let byte = producerBits == 8
        switch producer {
        case .add, .sub:
            e.load(.rax, .rbx, HostFrame.a)
            let operation: UInt8 = producer == .add ? 0 : 7
            if byte { e.aluByte(operation, .rax, .rbx, HostFrame.b) } else { e.alu(operation, .rax, .rbx, HostFrame.b) }
        case .logic:
            e.load(.rax, .rbx, HostFrame.a)
            if byte { e.testByte(.rax, .rax) } else { e.test(.rax, .rax) }
        case .addCarry, .subCarry:
            guard !byte else { return false }
            // The carry in is what the wide result has beyond a + b or a - b.
            e.load(.rax, .rbx, HostFrame.a)
            e.load(.rcx, .rbx, HostFrame.b)
            if producer == .addCarry {
                e.load(.rdx, .rbx, HostFrame.wide)
                e.alu(5, .rdx, .rax)
                e.alu(5, .rdx, .rcx)
            } else {
                e.move(.rdx, .rax)
                e.alu(5, .rdx, .rcx)
                e.alu(5, .rdx, .rbx, HostFrame.wide)
            }
            e.bitTest(.rdx, 0)
            e.alu(producer == .addCarry ? 2 : 3, .rax, .rcx)
        case .increment, .decrement:
            guard !byte, !readsCarry else { return false }
            e.load(.rax, .rbx, HostFrame.a)
            e.alu(producer == .increment ? 0 : 5, .rax, immediate: 1)
        case .shift, .unknown:
            return false
        }
        return true
    }

    /// A taken branch to micro-op `b` of the block: on when the budget covers the rest of
    /// the block from there (as `branchWithin` decides), else back to the runner.
    private mutating func branchWithin(_ m: MicroOp, index i: Int, count: Int) {
        let target = Int(m.b)
        e.load(.rax, .rbx, HostFrame.remaining, wide: true)
        e.alu(5, .rax, immediate: UInt32(i + 1), wide: true)
        e.alu(7, .rax, immediate: UInt32(count - target), wide: true)
        exits.append((e.jump(if: 2), i))
        e.alu(0, .rax, immediate: UInt32(target), wide: true)
        e.store(.rax, .rbx, HostFrame.remaining, wide: true)
        branches.append((e.jump(), target))
    }

    private mutating func exit(_ index: Int) {
        exits.append((e.jump(), index))
    }

    // MARK: addresses

    /// EAX = base + index << scale + displacement (32 bits).
    private mutating func effectiveAddress(_ m: MicroOp) {
        e.load(.rax, .r12, Int32(m.base) * 4)
        e.load(.rcx, .r12, Int32(m.indexScale & 15) * 4)
        e.loadAddress(.rax, base: .rax, index: .rcx, scale: m.indexScale >> 4, Int32(bitPattern: m.displacement))
    }

    /// EAX = the linear address of the dword operand; back to the runner unless all four
    /// bytes are on Memory's fast path (below the read limit; for a write, below the
    /// write limit or from 1 MiB up, and no line of them holding code).
    private mutating func linearAddress(_ m: MicroOp, index i: Int, forWriting: Bool) {
        effectiveAddress(m)
        segmentedAddress(segment: m.segment, index: i, forWriting: forWriting)
    }

    /// EAX = offset EAX in `segment` as a linear address, with the checks of `linearAddress`.
    private mutating func segmentedAddress(segment: UInt8, index i: Int, forWriting: Bool) {
        e.alu(0, .rax, .r14, Int32(segment) * 4)
        guard forWriting else {
            e.alu(7, .rax, immediate: addresses.readLimit &- 4)
            exits.append((e.jump(if: 7), i))
            return
        }
        e.alu(7, .rax, immediate: addresses.writeLimit &- 4)
        let belowROM = e.jump(if: 6)
        e.alu(7, .rax, immediate: 0x10_0000)
        exits.append((e.jump(if: 2), i))
        e.alu(7, .rax, immediate: addresses.readLimit &- 4)
        exits.append((e.jump(if: 7), i))
        e.bind(belowROM, to: e.offset)
        e.move(.rdx, .rax)
        e.shift(5, .rdx, UInt8(DecodeCache.lineShift))
        e.compareByteZero(.r15, index: .rdx, 0)
        exits.append((e.jump(if: 5), i))
        e.move(.rdx, .rax)
        e.alu(0, .rdx, immediate: 3)
        e.shift(5, .rdx, UInt8(DecodeCache.lineShift))
        e.compareByteZero(.r15, index: .rdx, 0)
        exits.append((e.jump(if: 5), i))
    }

    // MARK: shifts

    /// R9 = EAX shifted (4 or 6 SHL, 5 SHR, 7 SAR) by `count` (1-31), recorded as
    /// `shiftRotate` records it.
    private mutating func shift(_ operation: UInt8, _ count: UInt8) {
        switch operation {
        case 5: // SHR: CF is the last bit out, OF the operand's top bit.
            e.move(.rdx, .rax, wide: true)
            if count > 1 { e.shift(5, .rdx, count - 1, wide: true) }
            e.move(.r10, .rdx)
            e.alu(4, .r10, immediate: 1)
            e.move(.r11, .rdx)
            e.shift(5, .r11, 31)
            e.move(.r9, .rdx, wide: true)
            e.shift(5, .r9, 1, wide: true)
            e.move(.r9, .r9)
        case 7: // SAR: OF clear.
            e.signExtend(.rdx, .rax)
            if count > 1 { e.shift(7, .rdx, count - 1, wide: true) }
            e.move(.r10, .rdx)
            e.alu(4, .r10, immediate: 1)
            e.move(.r11, 0)
            e.move(.r9, .rdx, wide: true)
            e.shift(7, .r9, 1, wide: true)
            e.move(.r9, .r9)
        default: // SHL: CF is bit 32 of the 64-bit shift, OF = top bit != CF.
            e.move(.rdx, .rax, wide: true)
            e.shift(4, .rdx, count, wide: true)
            e.move(.r9, .rdx)
            e.move(.r10, .rdx, wide: true)
            e.shift(5, .r10, 32, wide: true)
            e.alu(4, .r10, immediate: 1)
            e.move(.r11, .r9)
            e.shift(5, .r11, 31)
            e.alu(6, .r11, .r10)
        }
        recordShift()
    }

    /// R9 = SHLD/SHRD of regs at `destination` with bits from `source` by `count` (1-31).
    private mutating func doubleShift(left: Bool, destination: Int32, source: Int32, _ count: UInt8) {
        // RAX = the 64-bit pair: destination high for SHLD, low for SHRD.
        e.load(.rax, .r12, left ? destination : source)
        e.shift(4, .rax, 32, wide: true)
        e.load(.rcx, .r12, left ? source : destination)
        e.alu(1, .rax, .rcx, wide: true)
        e.move(.r9, .rax, wide: true)
        e.move(.r10, .rax, wide: true)
        if left {
            e.shift(5, .r9, 32 - count, wide: true)
            e.shift(5, .r10, 64 - count, wide: true)
        } else {
            e.shift(5, .r9, count, wide: true)
            if count > 1 { e.shift(5, .r10, count - 1, wide: true) }
        }
        e.move(.r9, .r9)
        e.alu(4, .r10, immediate: 1)
        // OF: the top bit changed.
        e.load(.r11, .r12, destination)
        e.alu(6, .r11, .r9)
        e.shift(5, .r11, 31)
        recordShift()
    }

    /// The record `recordResult` writes for result R9, CF R10 and OF R11 (each 0 or 1).
    private mutating func recordShift() {
        e.shift(4, .r11, 31)
        e.move(.rax, .r9)
        e.alu(6, .rax, .r11)
        e.move(.rcx, .r9)
        e.alu(4, .rcx, immediate: 0x10)
        e.alu(6, .rcx, .rax)
        e.move(.rdx, .r10, wide: true)
        e.shift(4, .rdx, 32, wide: true)
        e.alu(1, .rdx, .r9, wide: true)
        record(1, a: .rax, b: .rcx, wide: .rdx)
        producer = .shift
    }
}
