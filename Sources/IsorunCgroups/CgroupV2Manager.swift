import Glibc
import IsorunSpec
import IsorunSys

/// cgroup v2: one directory in the unified hierarchy, controllers enabled from the top down.
public struct CgroupV2Manager: CgroupManager {
    let mountPoint: String
    let directory: String

    init(mountPoint: String, relativePath: String) {
        self.mountPoint = mountPoint
        self.directory = "\(mountPoint)/\(relativePath)"
    }

    init(directory: String) {
        self.mountPoint = "/sys/fs/cgroup"
        self.directory = directory
    }

    public var directories: [String] { [directory] }

    public func create() throws(CgroupError) {
        // Each ancestor must delegate the controllers to its children (no-internal-process rule:
        // isorun's own intermediate directories hold no processes). The ancestors made here are
        // marked for removal with the last cgroup under them (`CgroupFiles.madeMark`), so a
        // concurrent delete may remove one between two steps: then the walk starts again.
        let wanted = ["cpu", "cpuset", "memory", "pids"].filter(availableControllers.contains)
        var attempts = 0
        walk: while true {
            attempts += 1
            for (parent, child) in stepsDown {
                if !wanted.isEmpty { Self.delegate(wanted, below: parent) }
                do {
                    if try Files.makeDirectoryIfAbsent(child), child != directory {
                        CgroupFiles.markMade(child, hierarchy: mountPoint)
                    }
                } catch {
                    if error.isNoSuchFile && attempts < 4 { continue walk }
                    throw CgroupError(error)
                }
            }
            return
        }
    }

    public func apply(_ resources: Resources) throws(CgroupError) {
        if resources.network != nil {
            throw CgroupError("linux.resources.network: cgroup v2 has no net_cls or net_prio controller")
        }
        if let io = resources.blockIO {
            if io.leafWeight != nil || io.weightDevice?.contains(where: { $0.leafWeight != nil }) == true {
                throw CgroupError("linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights")
            }
            if let weight = io.weight { try CgroupFiles.write(directory, "io.weight", "default \(weight)") }
            for device in io.weightDevice ?? [] {
                if let weight = device.weight { try CgroupFiles.write(directory, "io.weight", "\(device.major):\(device.minor) \(weight)") }
            }
            for (key, devices) in [("rbps", io.throttleReadBpsDevice), ("wbps", io.throttleWriteBpsDevice),
                                   ("riops", io.throttleReadIOPSDevice), ("wiops", io.throttleWriteIOPSDevice)] {
                for device in devices ?? [] {
                    try CgroupFiles.write(directory, "io.max", "\(device.major):\(device.minor) \(key)=\(device.rate)")
                }
            }
        }
        for limit in resources.hugepageLimits ?? [] {
            try CgroupFiles.write(directory, "hugetlb.\(limit.pageSize).max", String(limit.limit))
        }
        if let rules = resources.devices, !rules.isEmpty {
            // v2 has no devices.allow: the same rules, compiled to a BPF program (see DeviceAccessList).
            let program = DeviceFilterProgram.instructions(for: DeviceAccessList(rules: rules + DeviceRules.alwaysAllowed))
            do { try CgroupDeviceProgram.attach(program, to: directory) } catch {
                throw CgroupError("linux.resources.devices: \(error)")
            }
        }
        if let rdma = resources.rdma, !rdma.isEmpty {
            try enable("rdma", for: "rdma")
            try CgroupFiles.writeRdmaLimits(rdma, in: directory)
        }
        if let memory = resources.memory {
            if memory.checkBeforeUpdate == true, let limit = memory.limit {
                try CgroupFiles.refuseBelowUsage(limit, usage: directory + "/memory.current")
            }
            if let limit = memory.limit { try CgroupFiles.write(directory, "memory.max", limit < 0 ? "max" : String(limit)) }
            if let swap = memory.swap {
                // OCI's swap is memory+swap; v2's memory.swap.max is swap alone.
                let value = swap < 0 ? "max" : String(max(0, swap - (memory.limit ?? 0)))
                try CgroupFiles.write(directory, "memory.swap.max", value)
            }
            if let reservation = memory.reservation { try CgroupFiles.write(directory, "memory.low", String(reservation)) }
            if memory.useHierarchy == false {
                throw CgroupError("linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical")
            }
            if memory.disableOOMKiller == true {
                throw CgroupError("linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer")
            }
        }
        if let pids = resources.pids {
            try CgroupFiles.write(directory, "pids.max", pids.limit > 0 ? String(pids.limit) : "max")
        }
        if let cpu = resources.cpu {
            if (cpu.realtimeRuntime ?? 0) != 0 || (cpu.realtimePeriod ?? 0) != 0 {
                throw CgroupError("linux.resources.cpu.realtimeRuntime: cgroup v2 has no real-time budgets per group; "
                    + "leave realtimeRuntime and realtimePeriod out (real-time tasks are limited by kernel.sched_rt_runtime_us)")
            }
            if let shares = cpu.shares {
                // The conversion runc and crun use: shares 2..262144 onto weight 1..10000.
                let weight = 1 + ((max(2, min(shares, 262_144)) - 2) * 9999) / 262_142
                try CgroupFiles.write(directory, "cpu.weight", String(weight))
            }
            if cpu.quota != nil || cpu.period != nil {
                let quota = cpu.quota.map { $0 > 0 ? String($0) : "max" } ?? "max"
                try CgroupFiles.write(directory, "cpu.max", "\(quota) \(cpu.period ?? 100_000)")
            }
            if let burst = cpu.burst { try CgroupFiles.write(directory, "cpu.max.burst", String(burst)) }
            if let idle = cpu.idle { try CgroupFiles.write(directory, "cpu.idle", String(idle)) }
            if let cpus = cpu.cpus { try CgroupFiles.write(directory, "cpuset.cpus", cpus) }
            if let mems = cpu.mems { try CgroupFiles.write(directory, "cpuset.mems", mems) }
        }
        for (key, value) in resources.unified ?? [:] {
            guard !key.contains("/") else { throw CgroupError("linux.resources.unified: invalid key \(key)") }
            try CgroupFiles.write(directory, key, value)
        }
    }

    /// A controller `create` does not enable for every container (rdma), enabled on the way
    /// down to this cgroup; `field` names what asked for it.
    private func enable(_ controller: String, for field: String) throws(CgroupError) {
        guard availableControllers.contains(controller) else {
            throw CgroupError("linux.resources.\(field): this host has no \(controller) controller")
        }
        for (parent, _) in stepsDown { try CgroupFiles.write(parent, "cgroup.subtree_control", "+\(controller)") }
    }

    /// Enables `controllers` for `parent`'s children, all in one write as a rule. The kernel
    /// refuses the whole write if one of them is not offered to `parent` (a user's cgroup that
    /// systemd delegates `cpu memory pids` to, without `cpuset`); then each one offered goes.
    /// Where `parent` is not ours to change (the root, for a rootless user), nothing does.
    static func delegate(_ controllers: [String], below parent: String) {
        let all = controllers.map { "+\($0)" }.joinedWithoutLookup(separator: " ")
        if (try? CgroupFiles.write(parent, "cgroup.subtree_control", all)) != nil { return }
        let offered = ((try? Files.readString("\(parent)/cgroup.controllers")) ?? "").split(whereSeparator: \.isWhitespace)
        let some = controllers.filter { offered.contains(Substring($0)) }
        guard !some.isEmpty, some.count < controllers.count else { return }
        _ = try? CgroupFiles.write(parent, "cgroup.subtree_control", some.map { "+\($0)" }.joinedWithoutLookup(separator: " "))
    }

    /// The controllers the unified tree offers (its root's cgroup.controllers).
    private var availableControllers: Set<String> {
        Set(((try? Files.readString("\(mountPoint)/cgroup.controllers")) ?? "").split(whereSeparator: \.isWhitespace).map(String.init))
    }

    /// Each directory from the mount point down to this cgroup, with the one below it: the
    /// parent delegates controllers to the child.
    private var stepsDown: [(parent: String, child: String)] {
        var steps: [(parent: String, child: String)] = []
        var current = mountPoint
        for component in directory.dropFirst(mountPoint.count).split(separator: "/") {
            steps.append((current, current + "/" + component))
            current += "/" + component
        }
        return steps
    }

    public var directoryForNewProcesses: String? { directory }

    public var selfJoinTaskFiles: [String] { [] }

    public func add(_ pid: pid_t) throws(CgroupError) {
        try CgroupFiles.write(directory, "cgroup.procs", String(pid))
    }

    public func processes() -> [pid_t] { CgroupFiles.processes(in: directory) }

    public func killAll() {
        if CgroupFiles.processes(in: directory).isEmpty { return }  // see CgroupV1Manager.killAll
        // cgroup.kill (Linux 5.14) kills every member at once, fork bombs included.
        if (try? CgroupFiles.write(directory, "cgroup.kill", "1")) == nil {
            _ = try? CgroupFiles.write(directory, "cgroup.freeze", "1")
            CgroupFiles.killUntilEmptyOnce(directory)
            _ = try? CgroupFiles.write(directory, "cgroup.freeze", "0")
        }
        CgroupFiles.killUntilEmpty(directory)
    }

    public func destroy() throws(CgroupError) {
        try CgroupFiles.removeDirectory(directory)
    }

    public func setFrozen(_ frozen: Bool) throws(CgroupError) {
        try CgroupFiles.write(directory, "cgroup.freeze", frozen ? "1" : "0")
    }

    public var isFrozen: Bool {
        CgroupFiles.readInt("\(directory)/cgroup.freeze") == 1
    }

    public var freezerToAdd: String? { nil }

    public func addingFreezer(at directory: String) throws(CgroupError) -> any CgroupManager { self }

    public func statistics() -> CgroupStatistics {
        var stats = CgroupStatistics()
        stats.memory.usage = CgroupFiles.readUnsigned("\(directory)/memory.current")
        stats.memory.maxUsage = CgroupFiles.readUnsigned("\(directory)/memory.peak")
        stats.memory.limit = CgroupFiles.readUnsigned("\(directory)/memory.max")
        stats.memory.failcnt = CgroupFiles.readField("\(directory)/memory.events", "max")
        stats.pids.current = CgroupFiles.readUnsigned("\(directory)/pids.current")
        stats.pids.limit = CgroupFiles.readUnsigned("\(directory)/pids.max")
        // cpu.stat counts microseconds.
        stats.cpu.total = CgroupFiles.readField("\(directory)/cpu.stat", "usage_usec").map { $0 * 1000 }
        stats.cpu.user = CgroupFiles.readField("\(directory)/cpu.stat", "user_usec").map { $0 * 1000 }
        stats.cpu.kernel = CgroupFiles.readField("\(directory)/cpu.stat", "system_usec").map { $0 * 1000 }
        return stats
    }

    /// Every controller was enabled at creation.
    public func covering(_ resources: Resources) throws(CgroupError) -> any CgroupManager { self }

    public func limits() -> CgroupLimits {
        var limits = CgroupLimits()
        limits.memoryLimitBytes = CgroupFiles.readInt("\(directory)/memory.max")
        limits.memoryPeakBytes = CgroupFiles.readInt("\(directory)/memory.peak")
        limits.pidsLimit = CgroupFiles.readInt("\(directory)/pids.max")
        if let text = try? Files.readString("\(directory)/cpu.max") {
            let parts = text.split(whereSeparator: \.isWhitespace)
            if parts.count == 2 {
                limits.cpuQuotaMicros = Int64(parts[0])
                limits.cpuPeriodMicros = Int64(parts[1])
            }
        }
        return limits
    }
}
