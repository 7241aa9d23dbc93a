import IsorunCore
import IsorunSpec
import IsorunSys

/// What the bundle's process may do, resolved once for any mode that enforces it: the
/// sandbox applies it in the C shim, the VM sends it to isorun-init, which applies it
/// in the guest the same way (the same masks, the same BPF program).
public struct WorkloadPrivileges: Sendable {
    public let capabilities: CapabilityMasks
    public let noNewPrivileges: Bool
    /// The config's `linux.seccomp`, or the default profile when it has none.
    public let seccompFilter: CompiledSeccompFilter
    /// The profile's seccomp(2) flags.
    public let seccompFlags: UInt32

    public init(process: IsorunSpec.Process, seccomp: Seccomp?, configFile: String) throws(IsorunError) {
        capabilities = try CapabilityPlan.masks(for: process.capabilities, configFile: configFile)
        noNewPrivileges = process.noNewPrivileges ?? false
        seccompFilter = try Self.seccompFilter(for: process, seccomp: seccomp, configFile: configFile)
        seccompFlags = SeccompAgent.flags(of: seccomp)
    }

    static func seccompFilter(for process: IsorunSpec.Process, seccomp: Seccomp?, configFile: String) throws(IsorunError) -> CompiledSeccompFilter {
        if let seccomp { return try SeccompFilterCache.filter(for: seccomp, configFile: configFile) }
        // Named by what varies rather than written out in full: the profile is fixed in this binary.
        let lifted = DefaultSeccompProfile.liftingCapabilities(process.capabilities)
        let architectures = DefaultSeccompProfile.architectures.joinedWithoutLookup(separator: ",")
        return try SeccompFilterCache.filter(describedAs: "default profile for [\(architectures)], lifted by [\(lifted.joinedWithoutLookup(separator: ","))]",
                                             configFile: configFile,
                                             unlistedArchitectureErrno: DefaultSeccompProfile.unlistedArchitectureErrno) {
            DefaultSeccompProfile.profile(capabilities: process.capabilities)
        }
    }
}
