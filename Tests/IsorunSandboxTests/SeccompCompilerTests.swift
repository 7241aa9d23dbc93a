import CIsorunShim
import Glibc
import IsorunSpec
import IsorunSys
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

    /// The values a filter returns: BPF_RET|BPF_K instructions carry them in `k`.
    static func returnedActions(_ filter: CompiledSeccompFilter) -> Set<UInt32> {
        Set((0..<filter.instructionCount).compactMap { index in
            let program = filter.program.filter![index]
            return program.code == 0x06 ? program.k : nil
        })
    }

    /// libseccomp kills a thread whose call comes from an architecture the filter does not
    /// list (x32 here, unless listed); the default profile answers ENOSYS instead.
    @Test func anUnlistedArchitectureGetsTheGivenErrnoInsteadOfAKill() throws {
        let profile = DefaultSeccompProfile.profile(capabilities: nil, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        let killing = try SeccompCompiler.compile(profile, configFile: "test")
        let answering = try SeccompCompiler.compile(profile, configFile: "test", unlistedArchitectureErrno: UInt32(ENOSYS))
        #expect(Self.returnedActions(killing).contains(0))
        #expect(!Self.returnedActions(answering).contains(0))
        #expect(Self.returnedActions(answering).contains(0x0005_0000 | UInt32(ENOSYS)))
    }

    /// x32's rules are most of what a third architecture adds; where the kernel has no
    /// x32 they are left out.
    @Test func x32IsListedOnlyWhereTheKernelRunsIt() throws {
        let withX32 = DefaultSeccompProfile.profile(capabilities: nil, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
        let without = DefaultSeccompProfile.profile(capabilities: nil, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        #expect(try SeccompCompiler.compile(without, configFile: "test").instructionCount
                < SeccompCompiler.compile(withX32, configFile: "test").instructionCount)
        #expect(DefaultSeccompProfile.architectures.contains("SCMP_ARCH_X32") == (isorun_kernel_runs_x32() != 0))
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
