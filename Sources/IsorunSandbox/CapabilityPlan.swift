import CIsorunShim
import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys

/// `process.capabilities` resolved with libcap into the sets the shim applies.
/// No `capabilities` in the config means none: the workload gets only what is granted.
enum CapabilityPlan {
    static func sets(for capabilities: Capabilities?, configFile: String) throws(IsorunError) -> CapabilitySets {
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
        let bounding = try values(capabilities?.bounding, "bounding")
        let effective = try values(capabilities?.effective, "effective")
        let permitted = try values(capabilities?.permitted, "permitted")
        let inheritable = try values(capabilities?.inheritable, "inheritable")
        let ambient = try values(capabilities?.ambient, "ambient")

        guard let caps = cap_init() else { throw IsorunError("capabilities", SystemError("cap_init")) }
        for (flag, list) in [(CAP_EFFECTIVE, effective), (CAP_PERMITTED, permitted), (CAP_INHERITABLE, inheritable)] where !list.isEmpty {
            var list = list
            guard cap_set_flag(caps, flag, Int32(list.count), &list, CAP_SET) == 0 else {
                cap_free(UnsafeMutableRawPointer(caps))
                throw IsorunError("capabilities", SystemError("cap_set_flag"))
            }
        }
        // The kernel raises an ambient capability only when it is both permitted and
        // inheritable; runc's own default config lists ambient ones with no inheritable
        // set, and runc then leaves them out. So does isorun, saying so at debug level.
        let raisable = ambient.filter { permitted.contains($0) && inheritable.contains($0) }
        if raisable.count != ambient.count {
            Log.debug("\(configFile): process.capabilities.ambient: \(ambient.count - raisable.count) capabilities not both permitted and inheritable are not raised")
        }
        return CapabilitySets(capabilities: caps, boundingMask: mask(bounding), ambientMask: mask(raisable))
    }

    static func mask(_ values: [cap_value_t]) -> UInt64 {
        values.reduce(0) { $0 | (UInt64(1) << UInt64($1)) }
    }

    /// Whether the bounding set keeps `name` (for the default seccomp profile's exceptions).
    static func grants(_ capabilities: Capabilities?, _ name: String) -> Bool {
        capabilities?.bounding?.contains(name) ?? false
    }
}
