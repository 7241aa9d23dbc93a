import CIsorunShim
import Glibc
import IsorunSpec

/// What the sandbox understands in config.json, for `isorun features` (features.md):
/// taken from the same tables the sandbox uses, so the list cannot drift from the code.
public enum SandboxFeatures {
    public static var mountOptions: [String] {
        (MountOptions.setting.map(\.key) + MountOptions.clearing.map(\.key) + MountOptions.propagations.map(\.key)
            + MountOptions.recursive.map(\.key) + ["bind", "rbind", "idmap", "ridmap", "defaults", "tmpcopyup", "notmpcopyup"]).sorted()
    }

    public static let namespaces = ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]

    /// Every capability libcap can name (CAP_CHOWN … CAP_CHECKPOINT_RESTORE).
    public static var capabilities: [String] {
        (0...63).compactMap { value -> String? in
            guard let name = cap_to_name(cap_value_t(value)) else { return nil }
            defer { cap_free(UnsafeMutableRawPointer(name)) }
            let text = String(cString: name)
            // libcap spells capabilities it does not know as plain numbers.
            return text.first?.isNumber == true ? nil : text.uppercased()
        }
    }

    public static let seccompActions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                        "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"]
        .filter { SeccompCompiler.action($0, errno: 1) != nil }

    /// The flags a profile may name (all are applied but TSYNC, which a one-thread child
    /// does not need).
    public static let seccompFlags = Seccomp.filterFlags.map(\.name)

    public static let seccompOperators = ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                                          "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"]
        .filter { SeccompCompiler.comparison($0) != nil }
}
