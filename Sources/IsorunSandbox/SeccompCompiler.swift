import CIsorunShim
import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys

/// `linux.seccomp` compiled with libseccomp into BPF, in the parent, before clone.
enum SeccompCompiler {
    /// `unlistedArchitectureErrno`: the errno for calls of an architecture the profile
    /// does not list; nil leaves libseccomp's default, which kills the thread.
    static func compile(_ profile: Seccomp, configFile: String,
                        unlistedArchitectureErrno: UInt32? = nil) throws(IsorunError) -> CompiledSeccompFilter {
        let defaultErrno = profile.defaultErrnoRet ?? UInt32(EPERM)
        guard let defaultAction = action(profile.defaultAction, errno: defaultErrno) else {
            throw IsorunError("\(configFile): linux.seccomp.defaultAction: unsupported action '\(profile.defaultAction)'")
        }
        guard let context = seccomp_init(defaultAction) else {
            throw IsorunError("seccomp: seccomp_init failed for default action \(profile.defaultAction)")
        }
        defer { seccomp_release(context) }
        // The filter is installed by the shim with prctl(); libseccomp must not ask for NNP itself.
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 0)
        // A binary tree over syscall numbers instead of one comparison after another. When a
        // filter is loaded, the kernel runs it once for every syscall number of every
        // architecture (to find the calls it may allow without running it again), so the cost
        // of loading follows the length of the paths: 0.38 -> 0.15 ms for the default profile
        // here; the workload's every syscall then walks a short path too.
        _ = seccomp_attr_set(context, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        if let errno = unlistedArchitectureErrno, let answer = action("SCMP_ACT_ERRNO", errno: errno) {
            _ = seccomp_attr_set(context, SCMP_FLTATR_ACT_BADARCH, answer)
        }

        for (index, name) in (profile.architectures ?? []).enumerated() {
            let token = architectureToken(name)
            let arch = seccomp_arch_resolve_name(token)
            guard arch != 0 else {
                throw IsorunError("\(configFile): linux.seccomp.architectures[\(index)]: unknown architecture '\(name)'")
            }
            let rc = seccomp_arch_add(context, arch)
            guard rc == 0 || rc == -EEXIST else {
                throw IsorunError("\(configFile): linux.seccomp.architectures[\(index)]: \(Errno.describe(-rc))")
            }
        }

        for (ruleIndex, rule) in (profile.syscalls ?? []).enumerated() {
            let path = "linux.seccomp.syscalls[\(ruleIndex)]"
            guard let ruleAction = action(rule.action, errno: rule.errnoRet ?? defaultErrno) else {
                throw IsorunError("\(configFile): \(path).action: unsupported action '\(rule.action)'")
            }
            if ruleAction == defaultAction { continue }  // libseccomp rejects rules that match the default
            var comparisons: [scmp_arg_cmp] = []
            for (argIndex, arg) in (rule.args ?? []).enumerated() {
                guard let op = comparison(arg.op) else {
                    throw IsorunError("\(configFile): \(path).args[\(argIndex)].op: unknown operator '\(arg.op)'")
                }
                comparisons.append(scmp_arg_cmp(arg: arg.index, op: op, datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
            }
            for name in rule.names {
                let number = seccomp_syscall_resolve_name(name)
                // A name this kernel/architecture lacks is skipped, as runc and crun do.
                guard number != __NR_SCMP_ERROR else { continue }
                let rc = seccomp_rule_add_array(context, ruleAction, number, UInt32(comparisons.count), comparisons)
                guard rc == 0 else {
                    throw IsorunError("\(configFile): \(path): cannot add rule for \(name): \(Errno.describe(-rc))")
                }
            }
        }
        var program = sock_fprog()
        let rc = isorun_seccomp_export(context, &program)
        guard rc == 0 else { throw IsorunError("seccomp: exporting the filter failed: \(Errno.describe(-rc))") }
        return CompiledSeccompFilter(program: program)
    }

    /// SCMP_ACT_* names to libseccomp's action values (seccomp.h; its macros do not import into Swift).
    static func action(_ name: String, errno: UInt32) -> UInt32? {
        switch name {
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": 0x0000_0000
        case "SCMP_ACT_KILL_PROCESS": 0x8000_0000
        case "SCMP_ACT_TRAP": 0x0003_0000
        case "SCMP_ACT_ERRNO": 0x0005_0000 | (errno & 0xffff)
        case "SCMP_ACT_TRACE": 0x7ff0_0000 | (errno & 0xffff)
        case "SCMP_ACT_LOG": 0x7ffc_0000
        case "SCMP_ACT_ALLOW": 0x7fff_0000
        case "SCMP_ACT_NOTIFY": 0x7fc0_0000
        default: nil
        }
    }

    static func comparison(_ name: String) -> scmp_compare? {
        switch name {
        case "SCMP_CMP_NE": SCMP_CMP_NE
        case "SCMP_CMP_LT": SCMP_CMP_LT
        case "SCMP_CMP_LE": SCMP_CMP_LE
        case "SCMP_CMP_EQ": SCMP_CMP_EQ
        case "SCMP_CMP_GE": SCMP_CMP_GE
        case "SCMP_CMP_GT": SCMP_CMP_GT
        case "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ
        default: nil
        }
    }

    /// "SCMP_ARCH_X86_64" -> "x86_64", the spelling seccomp_arch_resolve_name takes.
    static func architectureToken(_ name: String) -> String {
        String(name.hasPrefix("SCMP_ARCH_") ? name.dropFirst(10) : Substring(name)).lowercased()
    }
}
