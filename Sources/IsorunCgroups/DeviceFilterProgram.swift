/// Compiles a `DeviceAccessList` into the BPF program cgroup v2 runs on each device
/// open and mknod (BPF_PROG_TYPE_CGROUP_DEVICE; 1 allows, 0 denies).
///
/// The context is `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
/// with `access_type = access << 16 | type`. The program loads the four values into
/// registers, then tests each exception in a block of its own that jumps past itself on
/// a mismatch and returns the exception's verdict on a match; after the last block it
/// returns the default. All exceptions carry the same verdict (the opposite of the
/// default), so their order does not matter.
public enum DeviceFilterProgram {
    /// Raw instructions, 8 bytes each, as bpf(BPF_PROG_LOAD) takes them.
    public static func instructions(for list: DeviceAccessList) -> [UInt8] {
        var program: [Instruction] = [
            .loadWord(into: Register.type, offset: 0),
            .loadWord(into: Register.major, offset: 4),
            .loadWord(into: Register.minor, offset: 8),
            .move32(Register.access, from: Register.type),
            .shiftRight32(Register.access, by: 16),
            .and32(Register.type, 0xffff),
        ]
        let verdict: Int32 = list.defaultAllows ? 0 : 1
        for exception in list.exceptions {
            program += block(for: exception, defaultAllows: list.defaultAllows, verdict: verdict)
        }
        program += [.move64(Register.result, list.defaultAllows ? 1 : 0), .exit]
        return program.flatMap(\.bytes)
    }

    /// Tests for one exception. Jump offsets count instructions from the one after the jump.
    static func block(for exception: DeviceAccessList.Exception, defaultAllows: Bool, verdict: Int32) -> [Instruction] {
        // Each test is (register, value, jump when equal instead of not equal).
        var tests: [[Instruction]] = [[.jumpIfNotEqual(Register.type, Int32(exception.type.rawValue), 0)]]
        if let major = exception.major { tests.append([.jumpIfNotEqual(Register.major, Int32(bitPattern: major), 0)]) }
        if let minor = exception.minor { tests.append([.jumpIfNotEqual(Register.minor, Int32(bitPattern: minor), 0)]) }
        if exception.access != .all {
            // Default deny: the exception must grant every access asked (none left outside
            // it). Default allow: it denies when it names any of them.
            let test: Instruction = defaultAllows
                ? .jumpIfEqual(Register.scratch, 0, 0)
                : .jumpIfNotEqual(Register.scratch, 0, 0)
            let mask = defaultAllows ? exception.access.rawValue : DeviceAccessList.Access.all.rawValue & ~exception.access.rawValue
            tests.append([.move32(Register.scratch, from: Register.access), .and32(Register.scratch, Int32(mask)), test])
        }
        var block = tests.flatMap { $0 } + [.move64(Register.result, verdict), .exit]
        for index in block.indices where block[index].isConditionalJump {
            block[index].offset = Int16(block.count - index - 1)
        }
        return block
    }

    /// eBPF registers: r0 returns, r1 holds the context on entry and is free after it
    /// has been read.
    enum Register {
        static let result: UInt8 = 0
        static let scratch: UInt8 = 1
        static let type: UInt8 = 2
        static let access: UInt8 = 3
        static let major: UInt8 = 4
        static let minor: UInt8 = 5
        static let context: UInt8 = 1
    }

    /// One `struct bpf_insn`: opcode, destination and source registers, offset, immediate.
    struct Instruction: Equatable {
        var code: UInt8
        var destination: UInt8 = 0
        var source: UInt8 = 0
        var offset: Int16 = 0
        var immediate: Int32 = 0

        // Opcodes from linux/bpf_common.h and linux/bpf.h (class | operation | source).
        static let loadWordCode: UInt8 = 0x61      // BPF_LDX | BPF_MEM | BPF_W
        static let move32RegisterCode: UInt8 = 0xbc // BPF_ALU | BPF_MOV | BPF_X
        static let move64ImmediateCode: UInt8 = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K
        static let and32ImmediateCode: UInt8 = 0x54  // BPF_ALU | BPF_AND | BPF_K
        static let shiftRight32Code: UInt8 = 0x74    // BPF_ALU | BPF_RSH | BPF_K
        static let jumpIfEqualCode: UInt8 = 0x15     // BPF_JMP | BPF_JEQ | BPF_K
        static let jumpIfNotEqualCode: UInt8 = 0x55  // BPF_JMP | BPF_JNE | BPF_K
        static let exitCode: UInt8 = 0x95            // BPF_JMP | BPF_EXIT

        static func loadWord(into register: UInt8, offset: Int16) -> Instruction {
            Instruction(code: loadWordCode, destination: register, source: Register.context, offset: offset)
        }
        static func move32(_ register: UInt8, from source: UInt8) -> Instruction {
            Instruction(code: move32RegisterCode, destination: register, source: source)
        }
        static func move64(_ register: UInt8, _ value: Int32) -> Instruction {
            Instruction(code: move64ImmediateCode, destination: register, immediate: value)
        }
        static func and32(_ register: UInt8, _ value: Int32) -> Instruction {
            Instruction(code: and32ImmediateCode, destination: register, immediate: value)
        }
        static func shiftRight32(_ register: UInt8, by bits: Int32) -> Instruction {
            Instruction(code: shiftRight32Code, destination: register, immediate: bits)
        }
        static func jumpIfEqual(_ register: UInt8, _ value: Int32, _ offset: Int16) -> Instruction {
            Instruction(code: jumpIfEqualCode, destination: register, offset: offset, immediate: value)
        }
        static func jumpIfNotEqual(_ register: UInt8, _ value: Int32, _ offset: Int16) -> Instruction {
            Instruction(code: jumpIfNotEqualCode, destination: register, offset: offset, immediate: value)
        }
        static let exit = Instruction(code: exitCode)

        var isConditionalJump: Bool { code == Self.jumpIfEqualCode || code == Self.jumpIfNotEqualCode }

        /// Little-endian, as the kernel reads it on the hosts isorun runs on.
        var bytes: [UInt8] {
            let offsetBits = UInt16(bitPattern: offset), immediateBits = UInt32(bitPattern: immediate)
            return [code, destination | source << 4, UInt8(offsetBits & 0xff), UInt8(offsetBits >> 8),
                    UInt8(immediateBits & 0xff), UInt8(immediateBits >> 8 & 0xff),
                    UInt8(immediateBits >> 16 & 0xff), UInt8(immediateBits >> 24)]
        }
    }
}
