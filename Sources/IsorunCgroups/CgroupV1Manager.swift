import Glibc
import IsorunSpec
import IsorunSys

/// cgroup v1 (and the v1 half of a hybrid host): one directory per controller.
public struct CgroupV1Manager: CgroupManager {
    /// controller name -> directory of this workload's cgroup in that hierarchy.
    let controllerDirectories: [(controller: String, directory: String)]
    /// Where the hierarchies are mounted (/sys/fs/cgroup).
    let root: String

    init(root: String, relativePath: String, controllers: [String]) {
        self.root = root
        controllerDirectories = controllers.map { ($0, "\(root)/\($0)/\(relativePath)") }
    }

    init(directories: [String]) {
        // /sys/fs/cgroup/<controller>/...: the controller is the 4th component.
        let split = directories.map { $0.split(separator: "/") }
        root = split.first.map { "/" + $0.prefix(3).map(String.init).joinedWithoutLookup(separator: "/") } ?? "/sys/fs/cgroup"
        controllerDirectories = zip(split, directories).map { parts, directory in
            (parts.count > 3 ? String(parts[3]) : "", directory)
        }
    }

    /// pids always (tracking, limits, the kill at the end), memory for accounting, cpu and
    /// cpuset only when asked for: each hierarchy costs a mkdir on the startup path and an
    /// rmdir at the end (the freezer's pair ~0.1 ms of a 2.2 ms bare run here). The freezer
    /// comes when a container is first paused (`addingFreezer`).
    static func controllers(for resources: Resources?, root: String) -> [String] {
        var wanted = ["pids", "memory"]
        if let cpu = resources?.cpu {
            if cpu.shares != nil || cpu.quota != nil || cpu.period != nil || cpu.burst != nil || cpu.idle != nil
                || cpu.realtimeRuntime != nil || cpu.realtimePeriod != nil {
                wanted.append("cpu")
            }
            if cpu.cpus != nil || cpu.mems != nil { wanted.append("cpuset") }
        }
        if resources?.devices?.isEmpty == false { wanted.append("devices") }
        if resources?.blockIO != nil { wanted.append("blkio") }
        if resources?.hugepageLimits?.isEmpty == false { wanted.append("hugetlb") }
        if resources?.network?.classID != nil { wanted.append("net_cls") }
        if resources?.network?.priorities?.isEmpty == false { wanted.append("net_prio") }
        if resources?.rdma?.isEmpty == false { wanted.append("rdma") }
        return wanted.filter { Files.isDirectory("\(root)/\($0)") }
    }

    public var directories: [String] { controllerDirectories.map(\.directory) }

    func directory(of controller: String) -> String? {
        controllerDirectories.first { $0.controller == controller }?.directory
    }

    public func create() throws(CgroupError) { try create(through: ImmediateCgroupWriter()) }

    private func create(through writer: some CgroupWriter) throws(CgroupError) {
        for (controller, directory) in controllerDirectories {
            try writer.makeDirectories(directory, hierarchy: "\(root)/\(controller)")
            if controller == "cpuset" { try inheritCpuset(directory) }
        }
    }

    /// `create()` and `apply(resources)` as a job for the network namespace's helper, when
    /// they are mkdirs and writes alone. nil when a step must read first (a cpuset copies
    /// its parent's; realtime budgets, `checkBeforeUpdate` and files the kernel may lack
    /// are looked at), when an ancestor below the shared base may be missing, or when the
    /// immediate way would fail (and say why).
    public func creationJob(for resources: Resources?) -> CgroupJob? {
        guard directory(of: "cpuset") == nil, resources.map(Self.appliesByWritesAlone) ?? true else { return nil }
        let recorder = CgroupJobRecorder()
        do throws(CgroupError) {
            try create(through: recorder)
            if let resources { try apply(resources, through: recorder) }
        } catch {
            return nil
        }
        let job = CgroupJob(setup: recorder.steps, tasks: selfJoinTaskFiles)
        return job.fitsTheHelper ? job : nil
    }

    /// Settings `apply` makes by writing alone, with nothing read or looked up first.
    static func appliesByWritesAlone(_ resources: Resources) -> Bool {
        resources.blockIO == nil && resources.hugepageLimits?.isEmpty != false && resources.rdma?.isEmpty != false
            && resources.unified?.isEmpty != false
            && resources.memory?.kernelTCP == nil && resources.memory?.useHierarchy == nil
            && resources.memory?.checkBeforeUpdate != true
            && resources.cpu?.burst == nil && resources.cpu?.idle == nil
            && resources.cpu?.realtimeRuntime == nil && resources.cpu?.realtimePeriod == nil
    }

    /// A new v1 cpuset starts with no CPUs and no memory nodes, and refuses tasks;
    /// copy them down from the nearest configured ancestor.
    private func inheritCpuset(_ directory: String) throws(CgroupError) {
        var chain: [String] = []
        var current = directory
        while let slash = current.lastIndex(of: "/"), current.hasSuffix("/cpuset") == false {
            chain.append(current)
            current = String(current[..<slash])
        }
        for path in chain.reversed() {
            let parent = String(path[..<path.lastIndex(of: "/")!])
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let mine = (try? Files.readString("\(path)/\(file)"))?.trimmingNewlines ?? ""
                if mine.isEmpty, let inherited = try? Files.readString("\(parent)/\(file)") {
                    try CgroupFiles.write(path, file, inherited.trimmingNewlines)
                }
            }
        }
    }

    /// The directory of `controller`, or an error naming the field that needs it.
    private func required(_ controller: String, for field: String) throws(CgroupError) -> String {
        guard let directory = directory(of: controller) else {
            throw CgroupError("linux.resources.\(field): this host has no \(controller) cgroup hierarchy")
        }
        return directory
    }

    /// A file the kernel may lack (blkio.leaf_weight, per-size hugetlb files): refused by name.
    private func write(_ directory: String, _ file: String, _ value: String, for field: String) throws(CgroupError) {
        guard Files.exists("\(directory)/\(file)") else {
            throw CgroupError("linux.resources.\(field): this kernel has no \(file)")
        }
        try CgroupFiles.write(directory, file, value)
    }

    public func apply(_ resources: Resources) throws(CgroupError) { try apply(resources, through: ImmediateCgroupWriter()) }

    private func apply(_ resources: Resources, through writer: some CgroupWriter) throws(CgroupError) {
        if let key = resources.unified?.keys.sorted().first {
            throw CgroupError("linux.resources.unified: \(key) is a cgroup v2 file, and this host's controllers are on cgroup v1")
        }
        if let rules = resources.devices, !rules.isEmpty {
            let directory = try required("devices", for: "devices")
            // In order, each run of allow or deny rules through one open file.
            var rest = ArraySlice(rules + DeviceRules.alwaysAllowed)
            while let first = rest.first {
                let run = rest.prefix { $0.allow == first.allow }
                rest = rest.dropFirst(run.count)
                try writer.write("\(directory)/\(first.allow ? "devices.allow" : "devices.deny")", run.map(DeviceRules.text))
            }
        }
        if let network = resources.network {
            if let classID = network.classID {
                try writer.write("\(try required("net_cls", for: "network.classID"))/net_cls.classid", [String(classID)])
            }
            for priority in network.priorities ?? [] {
                try writer.write("\(try required("net_prio", for: "network.priorities"))/net_prio.ifpriomap",
                                 ["\(priority.name) \(priority.priority)"])
            }
        }
        if let io = resources.blockIO {
            let directory = try required("blkio", for: "blockIO")
            if let weight = io.weight {
                let file = Files.exists("\(directory)/blkio.weight") ? "blkio.weight" : "blkio.bfq.weight"
                try write(directory, file, String(weight), for: "blockIO.weight")
            }
            if let leaf = io.leafWeight { try write(directory, "blkio.leaf_weight", String(leaf), for: "blockIO.leafWeight") }
            for device in io.weightDevice ?? [] {
                if let weight = device.weight {
                    try write(directory, "blkio.weight_device", "\(device.major):\(device.minor) \(weight)", for: "blockIO.weightDevice")
                }
                if let leaf = device.leafWeight {
                    try write(directory, "blkio.leaf_weight_device", "\(device.major):\(device.minor) \(leaf)", for: "blockIO.weightDevice")
                }
            }
            for (field, file, devices) in [
                ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", io.throttleReadBpsDevice),
                ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", io.throttleWriteBpsDevice),
                ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", io.throttleReadIOPSDevice),
                ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", io.throttleWriteIOPSDevice),
            ] {
                for device in devices ?? [] {
                    try write(directory, file, "\(device.major):\(device.minor) \(device.rate)", for: "blockIO.\(field)")
                }
            }
        }
        for limit in resources.hugepageLimits ?? [] {
            try write(try required("hugetlb", for: "hugepageLimits"), "hugetlb.\(limit.pageSize).limit_in_bytes",
                      String(limit.limit), for: "hugepageLimits")
        }
        if let rdma = resources.rdma, !rdma.isEmpty {
            try CgroupFiles.writeRdmaLimits(rdma, in: try required("rdma", for: "rdma"))
        }
        if let memory = resources.memory, let directory = directory(of: "memory") {
            if memory.checkBeforeUpdate == true, let limit = memory.limit {
                try CgroupFiles.refuseBelowUsage(limit, usage: directory + "/memory.usage_in_bytes")
            }
            if let limit = memory.limit { try writer.write("\(directory)/memory.limit_in_bytes", [String(limit)]) }
            if let swap = memory.swap {
                // Swap accounting is the kernel's, so the hierarchy's root has the file
                // exactly when a new cgroup will.
                let file = "memory.memsw.limit_in_bytes"
                guard Files.exists("\(root)/memory/\(file)") else {
                    throw CgroupError("linux.resources.memory.swap: this kernel has no swap accounting (\(file) missing)")
                }
                try writer.write("\(directory)/\(file)", [String(swap)])
            }
            if let reservation = memory.reservation {
                try writer.write("\(directory)/memory.soft_limit_in_bytes", [String(reservation)])
            }
            if let tcp = memory.kernelTCP {
                try write(directory, "memory.kmem.tcp.limit_in_bytes", String(tcp), for: "memory.kernelTCP")
            }
            // memory.kernel: Linux 6.1 and later accept the write and do nothing; not written.
            if let swappiness = memory.swappiness { try writer.write("\(directory)/memory.swappiness", [String(swappiness)]) }
            if memory.disableOOMKiller == true { try writer.write("\(directory)/memory.oom_control", ["1"]) }
            if let hierarchical = memory.useHierarchy {
                do { try Files.write(directory + "/memory.use_hierarchy", hierarchical ? "1" : "0") } catch {
                    throw CgroupError("linux.resources.memory.useHierarchy: \(error)\(hierarchical ? "" : " (this kernel is always hierarchical)")")
                }
            }
        }
        if let pids = resources.pids, let directory = directory(of: "pids") {
            try writer.write("\(directory)/pids.max", [pids.limit > 0 ? String(pids.limit) : "max"])
        }
        if let cpu = resources.cpu {
            if let directory = directory(of: "cpu") {
                if let shares = cpu.shares { try writer.write("\(directory)/cpu.shares", [String(shares)]) }
                if let period = cpu.period { try writer.write("\(directory)/cpu.cfs_period_us", [String(period)]) }
                if let quota = cpu.quota { try writer.write("\(directory)/cpu.cfs_quota_us", [String(quota)]) }
                if let burst = cpu.burst { try write(directory, "cpu.cfs_burst_us", String(burst), for: "cpu.burst") }
                if let idle = cpu.idle { try write(directory, "cpu.idle", String(idle), for: "cpu.idle") }
                try RealtimeBudget.apply(runtime: cpu.realtimeRuntime, period: cpu.realtimePeriod, directory: directory,
                                         hierarchy: "\(root)/cpu")
            }
            if let directory = directory(of: "cpuset") {
                if let cpus = cpu.cpus { try writer.write("\(directory)/cpuset.cpus", [cpus]) }
                if let mems = cpu.mems { try writer.write("\(directory)/cpuset.mems", [mems]) }
            }
        }
    }

    public var directoryForNewProcesses: String? { nil }

    public var selfJoinTaskFiles: [String] { controllerDirectories.map { "\($0.directory)/tasks" } }

    public func add(_ pid: pid_t) throws(CgroupError) {
        for (_, directory) in controllerDirectories {
            try CgroupFiles.write(directory, "cgroup.procs", String(pid))
        }
    }

    public func processes() -> [pid_t] {
        guard let tracking = directory(of: "pids") ?? directories.first else { return [] }
        return CgroupFiles.processes(in: tracking)
    }

    public func killAll() {
        // Usually the workload has exited and taken everything with it. Freezing an empty
        // group is not free: the first frozen cgroup switches a kernel static key, which
        // patches code on every CPU. Nothing outside the group can fork into it, so an
        // empty group stays empty.
        if directories.allSatisfy({ CgroupFiles.processes(in: $0).isEmpty }) { return }
        let freezer = directory(of: "freezer")
        if let freezer { try? CgroupFiles.write(freezer, "freezer.state", "FROZEN") }
        for directory in directories { CgroupFiles.killUntilEmptyOnce(directory) }
        if let freezer { try? CgroupFiles.write(freezer, "freezer.state", "THAWED") }
        for directory in directories { CgroupFiles.killUntilEmpty(directory) }
    }

    public func setFrozen(_ frozen: Bool) throws(CgroupError) {
        guard let freezer = directory(of: "freezer") else { throw CgroupError("cgroup: no freezer hierarchy for this cgroup") }
        try CgroupFiles.write(freezer, "freezer.state", frozen ? "FROZEN" : "THAWED")
    }

    public var isFrozen: Bool {
        guard let freezer = directory(of: "freezer"),
              let state = try? Files.readString("\(freezer)/freezer.state") else { return false }
        return state.hasPrefix("FROZEN") || state.hasPrefix("FREEZING")
    }

    public var freezerToAdd: String? {
        guard directory(of: "freezer") == nil, let (root, relativePath) = rootAndRelativePath(),
              Files.isDirectory("\(root)/freezer") else { return nil }
        return "\(root)/freezer/\(relativePath)"
    }

    public func addingFreezer(at directory: String) throws(CgroupError) -> any CgroupManager {
        try adding(CgroupV1Manager(directories: [directory]))
    }

    /// This cgroup and `added`, made, with every process of this one moved in. Processes
    /// may fork while they are moved and a child of one not moved yet stays behind, so it
    /// goes round until none is left out (a pids limit bounds how many can appear).
    private func adding(_ added: CgroupV1Manager) throws(CgroupError) -> CgroupV1Manager {
        try added.create()
        for _ in 0..<100 {
            let left = Set(processes()).subtracting(added.processes())
            if left.isEmpty { return CgroupV1Manager(directories: directories + added.directories) }
            var moved = 0
            var failure: CgroupError?
            for pid in left {
                do { try added.add(pid); moved += 1 } catch { failure = error }
            }
            // A process that ended since it was listed cannot be moved, and is not listed
            // again; one still there that cannot be moved is an error.
            if moved == 0, let failure, !Set(processes()).isDisjoint(with: left) { throw failure }
        }
        throw CgroupError("cgroup: processes kept appearing in \(directories.first ?? "") while they were moved into \(added.directories.joined(separator: ", "))")
    }

    public func destroy() throws(CgroupError) {
        var firstError: CgroupError?
        for directory in directories {
            do { try CgroupFiles.removeDirectory(directory) } catch { firstError = firstError ?? error }
        }
        if let firstError { throw firstError }
    }

    public func statistics() -> CgroupStatistics {
        var stats = CgroupStatistics()
        if let memory = directory(of: "memory") {
            stats.memory.usage = CgroupFiles.readUnsigned("\(memory)/memory.usage_in_bytes")
            stats.memory.maxUsage = CgroupFiles.readUnsigned("\(memory)/memory.max_usage_in_bytes")
            stats.memory.limit = CgroupFiles.readUnsigned("\(memory)/memory.limit_in_bytes")
            stats.memory.failcnt = CgroupFiles.readUnsigned("\(memory)/memory.failcnt")
        }
        if let pids = directory(of: "pids") {
            stats.pids.current = CgroupFiles.readUnsigned("\(pids)/pids.current")
            stats.pids.limit = CgroupFiles.readUnsigned("\(pids)/pids.max")
        }
        // cpuacct shares its hierarchy with cpu on most hosts (cpu,cpuacct).
        if let cpu = directory(of: "cpu") ?? directory(of: "cpuacct") {
            stats.cpu.total = CgroupFiles.readUnsigned("\(cpu)/cpuacct.usage")
            stats.cpu.user = CgroupFiles.readUnsigned("\(cpu)/cpuacct.usage_user")
            stats.cpu.kernel = CgroupFiles.readUnsigned("\(cpu)/cpuacct.usage_sys")
        }
        return stats
    }

    public func covering(_ resources: Resources) throws(CgroupError) -> any CgroupManager {
        guard let (root, relativePath) = rootAndRelativePath() else { return self }
        let missing = Self.controllers(for: resources, root: root).filter { directory(of: $0) == nil }
        guard !missing.isEmpty else { return self }
        return try adding(CgroupV1Manager(root: root, relativePath: relativePath, controllers: missing))
    }

    /// /sys/fs/cgroup/<controller>/<relative path> split back into its parts.
    private func rootAndRelativePath() -> (String, String)? {
        guard let directory = directories.first else { return nil }
        let parts = directory.split(separator: "/")
        guard parts.count > 4 else { return nil }
        return ("/" + parts[0..<3].map(String.init).joinedWithoutLookup(separator: "/"),
                parts[4...].map(String.init).joinedWithoutLookup(separator: "/"))
    }

    public func limits() -> CgroupLimits {
        var limits = CgroupLimits()
        if let memory = directory(of: "memory") {
            limits.memoryLimitBytes = CgroupFiles.readInt("\(memory)/memory.limit_in_bytes")
            limits.memoryPeakBytes = CgroupFiles.readInt("\(memory)/memory.max_usage_in_bytes")
        }
        if let pids = directory(of: "pids") { limits.pidsLimit = CgroupFiles.readInt("\(pids)/pids.max") }
        if let cpu = directory(of: "cpu") {
            limits.cpuQuotaMicros = CgroupFiles.readInt("\(cpu)/cpu.cfs_quota_us")
            limits.cpuPeriodMicros = CgroupFiles.readInt("\(cpu)/cpu.cfs_period_us")
        }
        return limits
    }
}

extension CgroupFiles {
    /// One pass of SIGKILL over the current members (used while frozen: none can fork).
    static func killUntilEmptyOnce(_ directory: String) {
        for pid in processes(in: directory) { Processes.signal(pid, SIGKILL) }
    }
}

extension String {
    var trimmingNewlines: String {
        var result = Substring(self)
        while let last = result.last, last == "\n" || last == " " { result = result.dropLast() }
        return String(result)
    }
}
