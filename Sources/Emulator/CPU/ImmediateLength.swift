/// How many immediate bytes follow the decoded part of an instruction: the handlers fetch
/// them when they run. With the decoded length this gives the whole instruction's length,
/// from which the run loop predicts where execution continues when it falls through. A
/// wrong answer only costs speed: the prediction is always checked against EIP.
extension CPU {
    func trailingImmediateBytes(_ d: UnsafeMutablePointer<DecodedInstruction>) -> Int {
        let op = d.pointee.opcode
        let operand = d.pointee.opSize32 ? 4 : 2
        let i8086 = model == .i8086
        switch d.pointee.family {
        case .alu: return op & 7 == 4 ? 1 : op & 7 == 5 ? operand : 0
        case .ops186:
            if i8086 { return 1 }
            switch op {
            case 0x68, 0x69: return operand
            case 0x6A, 0x6B: return 1
            default: return 0
            }
        case .aluImmediate, .movRegImm8, .intImm, .aam, .aad, .loop: return 1
        case .movMoffs: return d.pointee.adSize32 ? 4 : 2
        case .testAccImm, .movRMImm: return op & 1 == 0 ? 1 : operand
        case .movRegImm, .callRelative, .jumpRelative: return operand
        case .shiftImm, .returnImm, .returnFarImm: return op == 0xC1 && i8086 ? 0 : 2
        case .enter: return i8086 ? 2 : 3
        case .io: return op < 0xE8 ? 1 : 0
        case .callFar, .jumpFar: return operand + 2
        case .group3: return d.pointee.reg < 2 ? (op & 1 == 0 ? 1 : operand) : 0
        case .prefix: return i8086 && op & 0xF0 == 0x60 ? 1 : 0
        case .twoByte:
            if i8086 { return 0 }
            switch d.pointee.opcode2 {
            case 0x80...0x8F: return operand
            case 0xBA: return 1
            default: return 0
            }
        default: return 0
        }
    }
}
