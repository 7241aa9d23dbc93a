import CIsorunShim
import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys

/// The five capability sets of `process.capabilities` as bit masks (bit N is
/// capability N): what the sandbox hands to libcap and the VM to its guest.
public struct CapabilityMasks: Sendable, Equatable {
    public var effective: UInt64 = 0
    public var permitted: UInt64 = 0
    public var inheritable: UInt64 = 0
    public var bounding: UInt64 = 0
    public var ambient: UInt64 = 0
}

/// `process.capabilities` resolved with libcap into the sets the shim applies.
/// No `capabilities` in the config means none: the workload gets only what is granted.
public enum CapabilityPlan {
    /// Exactly `names` (none: no capability at all) in every set: for a helper isorun
    /// starts as root that needs little of root's power (QEMU). The ambient set carries
    /// them through the helper's exec under a uid other than 0.
    public static func keeping(_ names: [String]) throws(IsorunError) -> CapabilitySets {
        try sets(for: Capabilities(bounding: names, effective: names, inheritable: names, permitted: names, ambient: names),
                 configFile: "isorun's own capability list")
    }

    static func masks(for capabilities: Capabilities?, configFile: String) throws(IsorunError) -> CapabilityMasks {
        let lastSupported = Int32(Files.exists("/proc/sys/kernel/cap_last_cap")
            ? (Int32((try? Files.readString("/proc/sys/kernel/cap_last_cap"))?.split(separator: "\n").first ?? "") ?? 40) : 40)
        func values(_ names: [String]?, _ field: String) throws(IsorunError) -> [cap_value_t] {
            var result: [cap_value_t] = []
            for name in names ?? [] {
                var value: cap_value_t = 0
                guard cap_from_name(name, &value) == 0 else {
                    throw IsorunError("\(configFile): process.capabilities.\(field): unknown capability '\(name)'")
                }
                // A capability newer than this kernel cannot be granted; runc skips it too.
                if value <= lastSupported { result.append(value) }
            }
            return result
        }
        var masks = CapabilityMasks()
        masks.bounding = mask(try values(capabilities?.bounding, "bounding"))
        masks.effective = mask(try values(capabilities?.effective, "effective"))
        masks.permitted = mask(try values(capabilities?.permitted, "permitted"))
        masks.inheritable = mask(try values(capabilities?.inheritable, "inheritable"))
        let ambient = mask(try values(capabilities?.ambient, "ambient"))
        // The kernel raises an ambient capability only when it is both permitted and
        // inheritable; runc's own default config lists ambient ones with no inheritable
        // set, and runc then leaves them out. So does isorun, saying so at debug level.
        masks.ambient = ambient & masks.permitted & masks.inheritable
        if masks.ambient != ambient {
            Log.debug("\(configFile): process.capabilities.ambient: \((ambient & ~masks.ambient).nonzeroBitCount) capabilities not both permitted and inheritable are not raised")
        }
        return masks
    }

    static func sets(for capabilities: Capabilities?, configFile: String) throws(IsorunError) -> CapabilitySets {
        let masks = try masks(for: capabilities, configFile: configFile)
        guard let caps = cap_init() else { throw IsorunError("capabilities", SystemError("cap_init")) }
        for (flag, bits) in [(CAP_EFFECTIVE, masks.effective), (CAP_PERMITTED, masks.permitted), (CAP_INHERITABLE, masks.inheritable)] where bits != 0 {
            var list = (0..<64).filter { bits & (UInt64(1) << UInt64($0)) != 0 }.map { cap_value_t($0) }
            guard cap_set_flag(caps, flag, Int32(list.count), &list, CAP_SET) == 0 else {
                cap_free(UnsafeMutableRawPointer(caps))
                throw IsorunError("capabilities", SystemError("cap_set_flag"))
            }
        }
        return CapabilitySets(capabilities: caps, boundingMask: masks.bounding, ambientMask: masks.ambient)
    }

    static func mask(_ values: [cap_value_t]) -> UInt64 {
        values.reduce(0) { $0 | (UInt64(1) << UInt64($1)) }
    }

    /// Whether the bounding set keeps `name` (for the default seccomp profile's exceptions).
    static func grants(_ capabilities: Capabilities?, _ name: String) -> Bool {
        capabilities?.bounding?.contains(name) ?? false
    }
}
