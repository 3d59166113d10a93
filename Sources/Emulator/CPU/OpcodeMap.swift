/// The primary opcode map: which instruction family each of the 256 first bytes belongs
/// to. `execute` switches over the family, a dense enum that compiles to a single jump
/// table; a switch over opcode ranges became a chain of compares on every instruction.
enum OpcodeFamily: UInt8 {
    case alu, pushSeg, popSeg, twoByte, daa, das, aaa, aas, incDecReg, pushReg, popReg
    case ops186, jccShort, aluImmediate, testRM, xchgRM, movRM, movFromSeg, lea, movToSeg, popRM
    case nop, xchgAX, convert, callFar, wait, pushFlags, popFlags, sahf, lahf, movMoffs, string
    case testAccImm, movRegImm8, movRegImm, shiftImm, returnImm, returnNear, les, lds, movRMImm
    case enter, leave, returnFarImm, returnFar, int3, intImm, into, iret, shift, aam, aad, salc
    case xlat, esc, loop, io, callRelative, jumpRelative, jumpFar, jumpShort, hlt, flagOp
    case group3, group4, group5, prefix, invalid
    // Forms the decoder specializes (never in the map; see `specialize` in InstructionDecoder.swift).
    // movRM, testRM, jccShort and jumpShort themselves always run from the decode: movRM
    // is left for the register-to-register form, the others read their decoded operands.
    case aluRegisters, aluMemory, aluImmediateDecoded, shiftDecoded, moveExtendDecoded
    case doubleShiftDecoded, movLoad, movStore, leaDecoded, mulDecoded, movRMImmDecoded, group5Decoded
    case jccNearDecoded
    // Dword forms of the commonest specialized families: the operand size is in the family.
    case aluRegisters32, aluMemory32, aluImmediate32, shift32, movRegisters32, movLoad32, movStore32, test32
    case pushReg32, popReg32, call32, return32
}

enum OpcodeMap {
    /// 256 entries, indexed by the opcode byte; allocated once and never freed.
    static let families: UnsafePointer<OpcodeFamily> = {
        let table = UnsafeMutablePointer<OpcodeFamily>.allocate(capacity: 256)
        table.initialize(repeating: .invalid, count: 256)
        func set(_ family: OpcodeFamily, _ opcodes: [ClosedRange<Int>]) {
            for r in opcodes { for op in r { table[op] = family } }
        }
        for row in stride(from: 0x00, through: 0x38, by: 8) { set(.alu, [row...row + 5]) }
        set(.pushSeg, [0x06...0x06, 0x0E...0x0E, 0x16...0x16, 0x1E...0x1E])
        set(.popSeg, [0x07...0x07, 0x17...0x17, 0x1F...0x1F])
        set(.twoByte, [0x0F...0x0F])
        set(.daa, [0x27...0x27]); set(.das, [0x2F...0x2F]); set(.aaa, [0x37...0x37]); set(.aas, [0x3F...0x3F])
        set(.incDecReg, [0x40...0x4F]); set(.pushReg, [0x50...0x57]); set(.popReg, [0x58...0x5F])
        set(.ops186, [0x60...0x6F]); set(.jccShort, [0x70...0x7F]); set(.aluImmediate, [0x80...0x83])
        set(.testRM, [0x84...0x85]); set(.xchgRM, [0x86...0x87]); set(.movRM, [0x88...0x8B])
        set(.movFromSeg, [0x8C...0x8C]); set(.lea, [0x8D...0x8D]); set(.movToSeg, [0x8E...0x8E])
        set(.popRM, [0x8F...0x8F]); set(.nop, [0x90...0x90]); set(.xchgAX, [0x91...0x97])
        set(.convert, [0x98...0x99]); set(.callFar, [0x9A...0x9A]); set(.wait, [0x9B...0x9B])
        set(.pushFlags, [0x9C...0x9C]); set(.popFlags, [0x9D...0x9D]); set(.sahf, [0x9E...0x9E])
        set(.lahf, [0x9F...0x9F]); set(.movMoffs, [0xA0...0xA3]); set(.string, [0xA4...0xA7, 0xAA...0xAF])
        set(.testAccImm, [0xA8...0xA9]); set(.movRegImm8, [0xB0...0xB7]); set(.movRegImm, [0xB8...0xBF])
        set(.shiftImm, [0xC0...0xC1]); set(.returnImm, [0xC2...0xC2]); set(.returnNear, [0xC3...0xC3])
        set(.les, [0xC4...0xC4]); set(.lds, [0xC5...0xC5]); set(.movRMImm, [0xC6...0xC7])
        set(.enter, [0xC8...0xC8]); set(.leave, [0xC9...0xC9]); set(.returnFarImm, [0xCA...0xCA])
        set(.returnFar, [0xCB...0xCB]); set(.int3, [0xCC...0xCC]); set(.intImm, [0xCD...0xCD])
        set(.into, [0xCE...0xCE]); set(.iret, [0xCF...0xCF]); set(.shift, [0xD0...0xD3])
        set(.aam, [0xD4...0xD4]); set(.aad, [0xD5...0xD5]); set(.salc, [0xD6...0xD6]); set(.xlat, [0xD7...0xD7])
        set(.esc, [0xD8...0xDF]); set(.loop, [0xE0...0xE3]); set(.io, [0xE4...0xE7, 0xEC...0xEF])
        set(.callRelative, [0xE8...0xE8]); set(.jumpRelative, [0xE9...0xE9]); set(.jumpFar, [0xEA...0xEA])
        set(.jumpShort, [0xEB...0xEB]); set(.hlt, [0xF4...0xF4]); set(.flagOp, [0xF5...0xF5, 0xF8...0xFD])
        set(.group3, [0xF6...0xF7]); set(.group4, [0xFE...0xFE]); set(.group5, [0xFF...0xFF])
        // Segment overrides, 66/67 (386), LOCK, F1 (8086), REPNE/REP: see `decodePrefixes`.
        set(.prefix, [0x26...0x26, 0x2E...0x2E, 0x36...0x36, 0x3E...0x3E, 0x64...0x67, 0xF0...0xF3])
        return UnsafePointer(table)
    }()
}

extension OpcodeMap {
    /// The family that runs `family` with a 4-byte operand, or `family` when none does.
    static func dwordForm(_ family: OpcodeFamily) -> OpcodeFamily {
        switch family {
        case .aluRegisters: return .aluRegisters32
        case .aluMemory: return .aluMemory32
        case .aluImmediateDecoded: return .aluImmediate32
        case .shiftDecoded: return .shift32
        case .movRM: return .movRegisters32
        case .movLoad: return .movLoad32
        case .movStore: return .movStore32
        case .testRM: return .test32
        default: return family
        }
    }

    /// Whether primary opcode `op` of `family` is followed by a ModRM byte on `model`
    /// (0F is looked up by its second byte in `twoByteHasModRM`). Exactly the handlers
    /// that call `decodeModRM()` answer true here.
    static func hasModRM(_ op: UInt8, _ family: OpcodeFamily, _ model: CPUModel) -> Bool {
        switch family {
        case .alu: return op & 7 < 4
        case .ops186: return model != .i8086 && (op == 0x62 || op == 0x69 || op == 0x6B)
        case .shiftImm: return model != .i8086
        case .aluImmediate, .testRM, .xchgRM, .movRM, .movFromSeg, .lea, .movToSeg, .popRM, .les, .lds,
             .movRMImm, .shift, .esc, .group3, .group4, .group5:
            return true
        default: return false
        }
    }

    static func twoByteHasModRM(_ op2: UInt8) -> Bool {
        switch op2 {
        case 0x00...0x03, 0x1F, 0x20...0x23, 0x40...0x4F, 0x90...0x9F, 0xA3...0xA5, 0xAB...0xAD,
             0xAF...0xB7, 0xBA...0xBF, 0xC0, 0xC1:
            return true
        default: return false
        }
    }
}
