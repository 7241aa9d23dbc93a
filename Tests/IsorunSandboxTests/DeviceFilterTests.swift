@testable import IsorunCgroups
import IsorunSpec
import Testing

/// The device list follows cgroup v1's rules, and the BPF program compiled from it
/// decides every request as the list does. The kernel's side (loading, attaching,
/// enforcing) is tested in IntegrationTests/CgroupManagerTests.
struct DeviceFilterTests {
    typealias Access = DeviceAccessList.Access

    static let ociDefault: [DeviceCgroupRule] = [
        .init(allow: false, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
        .init(allow: true, type: "c", major: 4, access: "rw"),
    ]

    @Test func denyAllThenAllowSomeIsAWhitelist() {
        let list = DeviceAccessList(rules: Self.ociDefault)
        #expect(!list.defaultAllows)
        #expect(list.allows(.character, 1, 3, [.read, .write]))
        #expect(list.allows(.character, 4, 7, .read))
        #expect(!list.allows(.character, 4, 7, .mknod))
        #expect(!list.allows(.character, 4, 7, [.read, .mknod]))   // an allow must cover all asked
        #expect(!list.allows(.character, 1, 11, .read))
        #expect(!list.allows(.block, 1, 3, .read))
    }

    @Test func aDenyOnTheDefaultAllowIsABlacklist() {
        let list = DeviceAccessList(rules: [.init(allow: true, type: "a"), .init(allow: false, type: "c", major: 1, minor: 3, access: "w")])
        #expect(list.defaultAllows)
        #expect(list.allows(.character, 1, 3, .read))
        #expect(!list.allows(.character, 1, 3, [.read, .write]))    // a deny needs to name only part
        #expect(list.allows(.block, 8, 0, [.read, .write, .mknod]))
    }

    @Test func laterRulesTakeAccessBackAndAllTypeRulesReset() {
        var rules = Self.ociDefault + [.init(allow: false, type: "c", major: 1, minor: 3, access: "w")]
        var list = DeviceAccessList(rules: rules)
        #expect(list.allows(.character, 1, 3, .read) && !list.allows(.character, 1, 3, .write))
        // Removal applies to an exception for exactly the same devices, not to ones it overlaps.
        #expect(DeviceAccessList(rules: Self.ociDefault + [.init(allow: false, type: "c", major: 4, minor: 1)])
            .allows(.character, 4, 1, .read))
        rules.append(.init(allow: false, type: "a", major: 1, minor: 3, access: "r"))
        list = DeviceAccessList(rules: rules)
        #expect(!list.defaultAllows && list.exceptions.isEmpty)
    }

    @Test(arguments: [
        ociDefault,
        ociDefault + DeviceRules.alwaysAllowed,
        [.init(allow: true, type: "a"), .init(allow: false, type: "c", major: 1, minor: 3, access: "w"),
         .init(allow: false, type: "b", access: "m"), .init(allow: false, type: "c", minor: 5, access: "rw")],
        [],
        [.init(allow: false, type: "a")],
    ] as [[DeviceCgroupRule]])
    func compiledProgramDecidesAsTheList(rules: [DeviceCgroupRule]) throws {
        let list = DeviceAccessList(rules: rules)
        let program = DeviceFilterProgram.instructions(for: list)
        let accesses: [Access] = [.mknod, .read, .write, [.read, .write], .all]
        for type in [DeviceAccessList.DeviceType.character, .block] {
            for (major, minor) in [(1, 3), (1, 5), (1, 11), (4, 0), (4, 7), (5, 1), (8, 0), (136, 2), (10, 200)] as [(UInt32, UInt32)] {
                for access in accesses {
                    let verdict = try BPFInterpreter.run(program, accessType: access.rawValue << 16 | type.rawValue,
                                                         major: major, minor: minor)
                    #expect((verdict == 1) == list.allows(type, major, minor, access),
                            "\(type) \(major):\(minor) access \(access.rawValue)")
                }
            }
        }
    }
}

/// Runs the few eBPF instructions DeviceFilterProgram emits, with the device context in
/// memory; anything else is a test failure. The kernel's verifier is the real check.
enum BPFInterpreter {
    struct Unsupported: Error { let code: UInt8 }

    static func run(_ program: [UInt8], accessType: UInt32, major: UInt32, minor: UInt32) throws -> UInt64 {
        let context = [accessType, major, minor]
        var registers = [UInt64](repeating: 0, count: 11)
        var pc = 0
        while pc * 8 < program.count {
            let bytes = Array(program[pc * 8 ..< pc * 8 + 8])
            let destination = Int(bytes[1] & 0x0f), source = Int(bytes[1] >> 4)
            let offset = Int(Int16(bitPattern: UInt16(bytes[2]) | UInt16(bytes[3]) << 8))
            let immediate = Int32(bitPattern: UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24)
            pc += 1
            switch bytes[0] {
            case 0x61:
                #expect(source == 1 && offset % 4 == 0 && offset / 4 < 3)
                registers[destination] = UInt64(context[offset / 4])
            case 0xbc: registers[destination] = registers[source] & 0xffff_ffff
            case 0xb7: registers[destination] = UInt64(bitPattern: Int64(immediate))
            case 0x54: registers[destination] = registers[destination] & UInt64(UInt32(bitPattern: immediate))
            case 0x74: registers[destination] = (registers[destination] & 0xffff_ffff) >> UInt64(immediate)
            case 0x15: if registers[destination] == UInt64(bitPattern: Int64(immediate)) { pc += offset }
            case 0x55: if registers[destination] != UInt64(bitPattern: Int64(immediate)) { pc += offset }
            case 0x95: return registers[0]
            default: throw Unsupported(code: bytes[0])
            }
        }
        throw Unsupported(code: 0)
    }
}
