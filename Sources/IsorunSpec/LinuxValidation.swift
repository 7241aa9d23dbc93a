/// Rules for the `linux` section: namespaces, ID mappings, devices, cgroup
/// resources and seccomp. Typos here would otherwise surface only as an errno from
/// deep inside the sandbox setup.
extension ConfigValidator {
    private static let propagationModes = [
        "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
    ]

    mutating func check(_ linux: Linux, config: RuntimeConfig) {
        let namespaces = linux.namespaces ?? []
        for (i, namespace) in namespaces.enumerated() {
            let path = "linux.namespaces[\(i)]"
            if let first = namespaces.firstIndex(where: { $0.type == namespace.type }), first < i {
                report("\(path).type", "duplicate namespace type \(quoted(namespace.type.rawValue)) (first given at linux.namespaces[\(first)])")
            }
            if let nsPath = namespace.path {
                checkAbsolute(nsPath, at: "\(path).path", what: "namespace path")
            }
        }
        checkMappings(linux.uidMappings, at: "linux.uidMappings")
        checkMappings(linux.gidMappings, at: "linux.gidMappings")
        if !config.hasNamespace(.user) {
            if !(linux.uidMappings ?? []).isEmpty {
                report("linux.uidMappings", "uid mappings need a user namespace; add {\"type\": \"user\"} to linux.namespaces")
            }
            if !(linux.gidMappings ?? []).isEmpty {
                report("linux.gidMappings", "gid mappings need a user namespace; add {\"type\": \"user\"} to linux.namespaces")
            }
        }
        for (i, device) in (linux.devices ?? []).enumerated() {
            let path = "linux.devices[\(i)]"
            if !["c", "b", "u", "p"].contains(device.type) {
                report("\(path).type", "unknown device type \(quoted(device.type)); expected c, b, u or p")
            } else if device.type != "p", device.major == nil || device.minor == nil {
                report(path, "device \(quoted(device.path)) of type \(device.type) needs both major and minor numbers")
            }
            checkAbsolute(device.path, at: "\(path).path", what: "device path")
        }
        if let resources = linux.resources {
            check(resources)
        }
        if let propagation = linux.rootfsPropagation, !Self.propagationModes.contains(propagation) {
            report("linux.rootfsPropagation",
                   "unknown propagation \(quoted(propagation)); expected \(alternatives(Self.propagationModes))")
        }
        if let seccomp = linux.seccomp {
            check(seccomp)
        }
        for (i, path) in (linux.maskedPaths ?? []).enumerated() {
            checkAbsolute(path, at: "linux.maskedPaths[\(i)]", what: "masked path")
        }
        for (i, path) in (linux.readonlyPaths ?? []).enumerated() {
            checkAbsolute(path, at: "linux.readonlyPaths[\(i)]", what: "read-only path")
        }
        if let personality = linux.personality, !["LINUX", "LINUX32"].contains(personality.domain) {
            report("linux.personality.domain", "unknown domain \(quoted(personality.domain)); expected LINUX or LINUX32")
        }
        if let flag = linux.personality?.flags?.first {
            report("linux.personality.flags", "unknown flag \(quoted(flag)); the runtime spec defines none")
        }
        if linux.intelRdt != nil {
            // The spec allows no container without it: a runtime that cannot give the class
            // of service must fail (and this one has no resctrl support, nor does this host).
            report("linux.intelRdt", "isorun does not implement Intel RDT (resctrl classes of service); remove intelRdt or use a runtime that does")
        }
        for problem in linux.memoryPolicy?.problems ?? [] {
            report("linux.memoryPolicy.\(problem.field)", problem.message)
        }
        if let netDevices = linux.netDevices {
            check(netDevices: netDevices, config: config)
        }
        if let offsets = linux.timeOffsets {
            check(offsets, newTimeNamespace: namespaces.contains { $0.type == .time && ($0.path ?? "").isEmpty })
        }
    }

    private mutating func check(_ offsets: [String: TimeOffset], newTimeNamespace: Bool) {
        if !offsets.isEmpty && !newTimeNamespace {
            report("linux.timeOffsets", "clock offsets need a new time namespace; add {\"type\": \"time\"} (without a path) to linux.namespaces")
        }
        for (clock, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            if !TimeOffset.clocks.contains(where: { $0.key == clock }) {
                report("linux.timeOffsets", "unknown clock \(quoted(clock)); expected monotonic or boottime")
            }
            if let nanoseconds = offset.nanosecs, nanoseconds >= 1_000_000_000 {
                report("linux.timeOffsets.\(clock).nanosecs", "\(nanoseconds) is not below 1000000000 (one second)")
            }
        }
    }

    private mutating func check(_ resources: Resources) {
        for (i, rule) in (resources.devices ?? []).enumerated() {
            let path = "linux.resources.devices[\(i)]"
            if let type = rule.type, !["a", "c", "b"].contains(type) {
                report("\(path).type", "unknown device type \(quoted(type)); expected a, c or b")
            }
            if let access = rule.access, !access.allSatisfy({ "rwm".contains($0) }) {
                report("\(path).access", "access must combine r, w and m, got \(quoted(access))")
            }
        }
        if let memory = resources.memory {
            if let limit = memory.limit, let swap = memory.swap, limit > 0, swap > 0, swap < limit {
                report("linux.resources.memory.swap",
                       "swap must be >= limit (swap is memory+swap): swap is \(swap), limit is \(limit)")
            }
            if let swappiness = memory.swappiness, swappiness > 100 {
                report("linux.resources.memory.swappiness", "must be between 0 and 100, got \(swappiness)")
            }
        }
        for (device, limit) in (resources.rdma ?? [:]).sorted(by: { $0.key < $1.key })
            where limit.hcaHandles == nil && limit.hcaObjects == nil {
            report("linux.resources.rdma.\(device)", "give hcaHandles, hcaObjects or both")
        }
        if let cpu = resources.cpu {
            if let burst = cpu.burst, let quota = cpu.quota, quota > 0, burst > UInt64(quota) {
                report("linux.resources.cpu.burst", "must not be larger than the quota (\(quota) µs), got \(burst)")
            }
            if let idle = cpu.idle, idle != 0 && idle != 1 {
                report("linux.resources.cpu.idle", "must be 0 or 1, got \(idle)")
            }
        }
    }

    private mutating func check(_ seccomp: Seccomp) {
        let actions = alternatives(Seccomp.validActions)
        if !Seccomp.validActions.contains(seccomp.defaultAction) {
            report("linux.seccomp.defaultAction", "unknown action \(quoted(seccomp.defaultAction)); expected \(actions)")
        }
        for (i, rule) in (seccomp.syscalls ?? []).enumerated() {
            let path = "linux.seccomp.syscalls[\(i)]"
            if rule.names.isEmpty {
                report("\(path).names", "a rule must name at least one system call")
            }
            if !Seccomp.validActions.contains(rule.action) {
                report("\(path).action", "unknown action \(quoted(rule.action)); expected \(actions)")
            }
            for (j, argument) in (rule.args ?? []).enumerated() where !Seccomp.validOperators.contains(argument.op) {
                report("\(path).args[\(j)].op",
                       "unknown operator \(quoted(argument.op)); expected \(alternatives(Seccomp.validOperators))")
            }
            // With the filter in place, the child passes the listener to isorun (sendmsg) and
            // waits until the agent has it (recvfrom): before that, no agent could answer them.
            if rule.action == "SCMP_ACT_NOTIFY", let name = rule.names.first(where: { $0 == "sendmsg" || $0 == "recvfrom" }) {
                report("\(path).names", "SCMP_ACT_NOTIFY cannot take \(name): isorun hands the agent its listener with it")
            }
        }
        let flagNames = Seccomp.filterFlags.map(\.name)
        for (i, flag) in (seccomp.flags ?? []).enumerated() where !flagNames.contains(flag) {
            report("linux.seccomp.flags[\(i)]", "unknown flag \(quoted(flag)); expected \(alternatives(flagNames))")
        }
        if seccomp.defaultAction == "SCMP_ACT_NOTIFY" {
            report("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default: every system call, the runtime's own included, would wait for the agent")
        }
        if seccomp.notifiesAgent && (seccomp.listenerPath ?? "").isEmpty {
            report("linux.seccomp.listenerPath", "SCMP_ACT_NOTIFY needs the agent's socket here")
        }
        if seccomp.listenerMetadata != nil && seccomp.listenerPath == nil {
            report("linux.seccomp.listenerMetadata", "must not be set without listenerPath")
        }
        if (seccomp.flags ?? []).contains("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") && !seccomp.notifiesAgent {
            report("linux.seccomp.flags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs an SCMP_ACT_NOTIFY rule")
        }
    }
}
