import CIsorunShim
import Glibc
import IsorunSpec

/// The filter a sandbox gets when its config has no `linux.seccomp`.
///
/// Modelled on what Docker's default profile keeps from a container: calls that
/// reach kernel-global state (keys, modules, kexec, clocks, swap, accounting), that
/// inspect other processes, or that create namespaces and mounts, unless the
/// capability that legitimately needs them is granted. Unlike Docker's allowlist it
/// lists what is denied, so new harmless syscalls keep working; blocked calls fail
/// with EPERM rather than killing the workload.
enum DefaultSeccompProfile {
    /// (syscalls, the capability that lifts the block, or nil for always blocked)
    static let blocked: [(names: [String], unlessCapability: String?)] = [
        (["add_key", "keyctl", "request_key"], nil),
        (["uselib", "ustat", "sysfs", "_sysctl", "vm86", "vm86old", "nfsservctl", "create_module",
          "get_kernel_syms", "query_module", "lookup_dcookie", "userfaultfd"], nil),
        // io_uring, as Docker's profile has refused it since 2023: its calls have given the
        // kernel a long run of holes, and programs fall back to plain calls on EPERM.
        (["io_uring_setup", "io_uring_enter", "io_uring_register"], nil),
        (["init_module", "finit_module", "delete_module"], "CAP_SYS_MODULE"),
        (["kexec_load", "kexec_file_load", "reboot"], "CAP_SYS_BOOT"),
        (["settimeofday", "stime", "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64", "adjtimex"], "CAP_SYS_TIME"),
        (["acct"], "CAP_SYS_PACCT"),
        (["swapon", "swapoff"], "CAP_SYS_ADMIN"),
        (["iopl", "ioperm"], "CAP_SYS_RAWIO"),
        (["ptrace", "process_vm_readv", "process_vm_writev", "kcmp"], "CAP_SYS_PTRACE"),
        (["mbind", "set_mempolicy", "move_pages", "migrate_pages"], "CAP_SYS_NICE"),
        (["open_by_handle_at", "name_to_handle_at"], "CAP_DAC_READ_SEARCH"),
        (["syslog"], "CAP_SYSLOG"),
        (["mount", "mount_setattr", "umount", "umount2", "pivot_root", "unshare", "setns",
          "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
          "bpf", "perf_event_open", "fanotify_init", "quotactl", "quotactl_fd",
          "sethostname", "setdomainname"], "CAP_SYS_ADMIN"),
    ]

    /// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: namespace creation through clone().
    static let cloneNamespaceFlags: UInt64 = 0x7E02_0000

    /// The granted capabilities that lift a block, in a fixed order: with this binary,
    /// all that decides the profile (and so the cache's name for it).
    static func liftingCapabilities(_ capabilities: Capabilities?) -> [String] {
        var names: [String] = []
        for case let (_, capability?) in blocked where !names.contains(capability) && CapabilityPlan.grants(capabilities, capability) {
            names.append(capability)
        }
        return names
    }

    /// x32 is listed only where the kernel runs its calls: elsewhere its rules are dead
    /// weight, 67 of the filter's 256 instructions, loaded at every start. The calls
    /// then meet `unlistedArchitectureErrno` instead of an allow rule: ENOSYS either way.
    static let architectures = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] + (isorun_kernel_runs_x32() != 0 ? ["SCMP_ARCH_X32"] : [])

    /// What a call of an architecture the filter does not list gets: what a kernel
    /// without that ABI answers (libseccomp's own choice would kill the workload).
    static let unlistedArchitectureErrno = UInt32(ENOSYS)

    static func profile(capabilities: Capabilities?, architectures: [String] = architectures) -> Seccomp {
        var rules: [SyscallRule] = blocked
            .filter { entry in entry.unlessCapability.map { !CapabilityPlan.grants(capabilities, $0) } ?? true }
            .map { SyscallRule(names: $0.names, action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EPERM), args: nil) }
        if !CapabilityPlan.grants(capabilities, "CAP_SYS_ADMIN") {
            // clone() may not create namespaces; clone3() hides its flags in memory a
            // filter cannot read, so it reports ENOSYS and the C library falls back to clone().
            for flag in [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000, 0x2000_0000, 0x4000_0000] as [UInt64]
                where flag & cloneNamespaceFlags != 0 {
                rules.append(SyscallRule(names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(EPERM),
                                         args: [SyscallArg(index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ")]))
            }
            rules.append(SyscallRule(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: UInt32(ENOSYS), args: nil))
        }
        return Seccomp(defaultAction: "SCMP_ACT_ALLOW", defaultErrnoRet: nil,
                       architectures: architectures,
                       flags: nil, listenerPath: nil, listenerMetadata: nil, syscalls: rules)
    }
}
