import Glibc
import IsorunSpec
import Testing
@testable import IsorunSandbox

/// Compiling is pure libseccomp work (no kernel filter is loaded), so it runs anywhere.
struct SeccompCompilerTests {
    @Test func defaultProfileCompiles() throws {
        let filter = try SeccompCompiler.compile(DefaultSeccompProfile.profile(capabilities: nil), configFile: "test")
        #expect(filter.instructionCount > 20)
    }

    @Test func grantingCapSysAdminLiftsTheNamespaceBlocks() {
        let strict = DefaultSeccompProfile.profile(capabilities: nil)
        let admin = DefaultSeccompProfile.profile(capabilities: Capabilities(bounding: ["CAP_SYS_ADMIN"]))
        let strictNames = Set(strict.syscalls!.flatMap(\.names))
        let adminNames = Set(admin.syscalls!.flatMap(\.names))
        #expect(strictNames.contains("unshare") && strictNames.contains("mount") && strictNames.contains("clone"))
        #expect(!adminNames.contains("unshare") && !adminNames.contains("mount") && !adminNames.contains("clone"))
        #expect(adminNames.contains("keyctl"))
    }

    @Test func unknownActionNamesTheField() {
        let profile = Seccomp(defaultAction: "SCMP_ACT_ALLOW",
                              syscalls: [SyscallRule(names: ["mkdir"], action: "SCMP_ACT_EXPLODE")])
        #expect(throws: (any Error).self) { try SeccompCompiler.compile(profile, configFile: "c.json") }
        do {
            _ = try SeccompCompiler.compile(profile, configFile: "c.json")
        } catch {
            #expect(error.message.contains("linux.seccomp.syscalls[0].action"))
        }
    }

    @Test func unknownSyscallNamesAreSkipped() throws {
        let profile = Seccomp(defaultAction: "SCMP_ACT_ALLOW",
                              syscalls: [SyscallRule(names: ["no_such_syscall", "mkdir"], action: "SCMP_ACT_ERRNO")])
        #expect(try SeccompCompiler.compile(profile, configFile: "c.json").instructionCount > 0)
    }

    @Test func actionValuesMatchLibseccomp() {
        #expect(SeccompCompiler.action("SCMP_ACT_ERRNO", errno: 1) == 0x0005_0001)
        #expect(SeccompCompiler.action("SCMP_ACT_ALLOW", errno: 0) == 0x7fff_0000)
        #expect(SeccompCompiler.action("SCMP_ACT_NOTIFY", errno: 0) == 0x7fc0_0000)
        #expect(SeccompCompiler.action("SCMP_ACT_EXPLODE", errno: 0) == nil)
        #expect(SeccompCompiler.architectureToken("SCMP_ARCH_X86_64") == "x86_64")
    }
}
