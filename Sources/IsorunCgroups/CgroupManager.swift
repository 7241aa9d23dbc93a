import Glibc
import IsorunSpec
import IsorunSys

/// One workload's cgroup, whatever the host's layout. Launchers and the
/// leftover sweep only talk to this protocol.
public protocol CgroupManager: Sendable {
    /// Every directory this cgroup occupies (one per v1 controller, one on v2):
    /// recorded in the runtime root so a later run can remove them.
    var directories: [String] { get }
    func create() throws(CgroupError)
    func apply(_ resources: Resources) throws(CgroupError)
    /// `create()` and `apply(resources)` as steps another process can carry out (cgroup v1
    /// only, and only when they are mkdirs and writes alone); nil: call those two instead.
    func creationJob(for resources: Resources?) -> CgroupJob?
    func add(_ pid: pid_t) throws(CgroupError)
    /// Where a child can be created directly (cgroup v2 only); nil when it must be moved.
    var directoryForNewProcesses: String? { get }
    /// Files a new child writes "0" into to move itself in (cgroup v1's `tasks`; see
    /// `SpawnPlan.cgroupTaskFiles`); empty on v2, where it is created inside instead.
    var selfJoinTaskFiles: [String] { get }
    func processes() -> [pid_t]
    /// Kills every process in the cgroup and waits (briefly) until it is empty.
    func killAll()
    func destroy() throws(CgroupError)
    /// Stops every process in the cgroup where it is, or lets them go on (`pause`, `resume`).
    func setFrozen(_ frozen: Bool) throws(CgroupError)
    /// The directory `addingFreezer` would make: on v1, where the cgroup has no freezer
    /// directory yet (it gets one the first time it is paused); nil on v2, whose cgroups
    /// freeze by themselves.
    var freezerToAdd: String? { get }
    /// This cgroup with `directory` (what `freezerToAdd` named, and the caller recorded)
    /// made as its freezer and its processes moved in.
    func addingFreezer(at directory: String) throws(CgroupError) -> any CgroupManager
    /// True while the cgroup is frozen (or freezing).
    var isFrozen: Bool { get }
    /// What a process inside sees as its limits, for reports.
    func limits() -> CgroupLimits
    /// Usage now (`events`).
    func statistics() -> CgroupStatistics
    /// This cgroup with every controller `resources` needs (`update` of a running
    /// container): on v1 a missing hierarchy is created and the processes moved in.
    func covering(_ resources: Resources) throws(CgroupError) -> any CgroupManager
}

extension CgroupManager {
    public func creationJob(for resources: Resources?) -> CgroupJob? { nil }

    /// Lets `plan`'s child get into this cgroup without being moved by the parent: created
    /// inside it (v2), or moving itself in once released (v1).
    public func place(_ plan: inout SpawnPlan) {
        guard plan.cgroupJob == nil else { return }  // the child joins what the helper made
        plan.cgroupDirectory = directoryForNewProcesses
        plan.cgroupTaskFiles = selfJoinTaskFiles
    }

    /// Kills what is left in the cgroup and removes it. Usually nothing is left (the
    /// workload has ended and taken its processes with it), so removal is tried first: an
    /// empty cgroup goes at once, and only a busy one costs the kill, which reads every
    /// hierarchy's member list (~0.1 ms of a v1 run's cleanup here). `afterKilling` lets an
    /// owner reap the killed processes that are its children before the removal.
    public func killAllAndDestroy(afterKilling: () -> Void = {}) throws(CgroupError) {
        if directories.allSatisfy(CgroupFiles.removeIfEmpty) { return }
        killAll()
        afterKilling()
        try destroy()
    }

    /// Moves `child`, spawned from `plan`, into this cgroup unless `place` already saw to it
    /// (clone3 can fail over to a plain clone on an older kernel).
    public func addUnlessPlaced(_ child: PendingChild, plan: SpawnPlan) throws(CgroupError) {
        if !child.bornInCgroup && plan.cgroupTaskFiles.isEmpty && plan.cgroupJob == nil { try add(child.pid) }
    }
}

/// Usage counters, in the shape runc's `events` reports them.
public struct CgroupStatistics: Sendable, Equatable, Encodable {
    public struct CPU: Sendable, Equatable, Encodable {
        /// Nanoseconds of CPU time, all threads.
        public var total: UInt64?
        public var user: UInt64?
        public var kernel: UInt64?
    }
    public struct Memory: Sendable, Equatable, Encodable {
        public var usage: UInt64?
        public var maxUsage: UInt64?
        public var limit: UInt64?
        public var failcnt: UInt64?
    }
    public struct Pids: Sendable, Equatable, Encodable {
        public var current: UInt64?
        public var limit: UInt64?
    }
    public var cpu = CPU()
    public var memory = Memory()
    public var pids = Pids()
}

/// Limits and usage read back from the cgroup files.
public struct CgroupLimits: Sendable, Equatable {
    public var memoryLimitBytes: Int64?
    public var memoryPeakBytes: Int64?
    public var pidsLimit: Int64?
    public var cpuQuotaMicros: Int64?
    public var cpuPeriodMicros: Int64?
}

/// Builds the right manager for the host.
public enum Cgroups {
    /// `relativePath` is where the cgroup goes inside each hierarchy, e.g. `isorun/<id>`.
    public static func manager(layout: CgroupLayout, relativePath: String, resources: Resources?) -> any CgroupManager {
        switch layout {
        case .unified(let mountPoint):
            return CgroupV2Manager(mountPoint: mountPoint, relativePath: relativePath)
        case .legacy(let root, _):
            return CgroupV1Manager(root: root, relativePath: relativePath,
                                   controllers: CgroupV1Manager.controllers(for: resources, root: root))
        }
    }

    /// Removes `directories` (a cgroup's, as recorded) when they are empty or gone; false
    /// as soon as one is still in use. Needs no manager, so no look at the hierarchy.
    public static func removeIfEmpty(_ directories: [String]) -> Bool {
        directories.allSatisfy(CgroupFiles.removeIfEmpty)
    }

    /// Rebuilds a manager from directories recorded by an earlier run, to clean up after it.
    public static func restore(directories: [String], layout: CgroupLayout) -> any CgroupManager {
        switch layout {
        case .unified:
            return CgroupV2Manager(directory: directories.first ?? "")
        case .legacy:
            return CgroupV1Manager(directories: directories)
        }
    }

    /// The cgroup path a workload gets: the config's `linux.cgroupsPath` when absolute
    /// (relative to each hierarchy's root), else `isorun/<relative or id>`.
    /// With `systemd` (runc's `--systemd-cgroup`, which kubelet's systemd driver implies),
    /// `cgroupsPath` is `slice:prefix:name`, and the cgroup goes where systemd would put
    /// that unit: `kubepods-besteffort-pod1.slice:cri-containerd:c1` becomes
    /// `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope`.
    /// isorun does not register the unit with systemd (no D-Bus); it only uses its place.
    public static func relativePath(configured: String?, id: String, systemd: Bool) -> String {
        guard systemd else { return relativePath(configured: configured, id: id) }
        let parts = (configured ?? "").split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3 else { return "system.slice/isorun-\(id).scope" }
        let slice = parts[0].isEmpty ? "system.slice" : parts[0]
        let unit = parts[2].hasSuffix(".slice") ? parts[2] : "\(parts[1].isEmpty ? "isorun" : parts[1])-\(parts[2]).scope"
        return (expand(slice: slice) + [unit]).joined(separator: "/")
    }

    /// systemd nests `a-b-c.slice` as `a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root.
    static func expand(slice: String) -> [String] {
        guard slice != "-.slice", slice.hasSuffix(".slice") else { return [] }
        let words = slice.dropLast(".slice".count).split(separator: "-")
        return words.indices.map { words[...$0].joined(separator: "-") + ".slice" }
    }

    public static func relativePath(configured: String?, id: String) -> String {
        guard let configured, !configured.isEmpty else { return "isorun/\(id)" }
        if configured.hasPrefix("/") { return String(configured.drop { $0 == "/" }) }
        return "isorun/\(configured)"
    }
}

/// Helpers shared by both versions.
enum CgroupFiles {
    static func write(_ directory: String, _ file: String, _ value: String) throws(CgroupError) {
        do { try Files.write(directory + "/" + file, value) } catch { throw CgroupError(error) }
    }

    static func readInt(_ path: String) -> Int64? {
        guard let text = try? Files.readString(path) else { return nil }
        let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
        return Int64(trimmed)
    }

    /// `memory.checkBeforeUpdate`: a limit below the current usage is refused by name.
    static func refuseBelowUsage(_ limit: Int64, usage file: String) throws(CgroupError) {
        guard limit >= 0, let usage = readInt(file), limit < usage else { return }
        throw CgroupError("linux.resources.memory.limit: \(limit) bytes is below the \(usage) the container uses now (checkBeforeUpdate)")
    }

    /// `linux.resources.rdma`: one `rdma.max` line per device (v1 and v2 read the same lines).
    static func writeRdmaLimits(_ rdma: [String: RdmaLimit], in directory: String) throws(CgroupError) {
        for (device, limit) in rdma.sorted(by: { $0.key < $1.key }) {
            do { try Files.write(directory + "/rdma.max", limit.line(for: device)) } catch {
                throw CgroupError("linux.resources.rdma.\(device): \(error)")
            }
        }
    }

    static func readUnsigned(_ path: String) -> UInt64? {
        readInt(path).flatMap { $0 >= 0 ? UInt64($0) : nil }
    }

    /// A `key value` line of a stat file (cpu.stat, memory.stat).
    static func readField(_ path: String, _ key: String) -> UInt64? {
        guard let text = try? Files.readString(path) else { return nil }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == key { return UInt64(parts[1]) }
        }
        return nil
    }

    static func processes(in directory: String) -> [pid_t] {
        guard let text = try? Files.readString(directory + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { pid_t($0) }
    }

    /// One rmdir: true when the directory is gone (or was), false while it has members.
    /// Once it is gone, so are the empty directories isorun made above it.
    static func removeIfEmpty(_ directory: String) -> Bool {
        guard rmdir(directory) == 0 || errno == ENOENT else { return false }
        removeMadeAncestors(of: directory)
        return true
    }

    /// Marks a directory that isorun made on the way to a container's cgroup (a nested
    /// `cgroupsPath` such as `tenant/a/c1` makes `tenant` and `tenant/a`). The mark lives on
    /// the directory itself, so whichever container is removed last removes it, whoever made
    /// it; a directory someone else made (a parent with limits of its own) has no mark and
    /// stays. A cgroupfs directory takes `trusted.*` attributes from root in the host's
    /// user namespace; elsewhere the mark is not set and such directories stay, as before.
    static let madeMark = "trusted.isorun.made"

    /// The directory every relative `cgroupsPath` shares in a hierarchy: made once, kept, so
    /// that each container costs one mkdir and one rmdir.
    static func sharedBase(in hierarchy: String) -> String { hierarchy + "/isorun" }

    /// mkdir -p for the cgroup `directory` under `hierarchy`'s mount, marking the ancestors
    /// it makes. Usually only `directory` itself is missing. A concurrent delete may remove
    /// a marked ancestor between two mkdirs; that ENOENT is worth a second try.
    static func makeDirectories(_ directory: String, hierarchy: String) throws(CgroupError) {
        var attempts = 0
        while true {
            if mkdir(directory, 0o755) == 0 || errno == EEXIST { return }
            attempts += 1
            guard errno == ENOENT, attempts < 4, let slash = directory.lastIndex(of: "/"), directory.count > hierarchy.count else {
                throw CgroupError(SystemError("mkdir", directory))
            }
            try makeAncestor(String(directory[..<slash]), hierarchy: hierarchy)
        }
    }

    /// One missing ancestor, and its own missing ancestors first.
    private static func makeAncestor(_ path: String, hierarchy: String) throws(CgroupError) {
        do { try makeMarked(path, hierarchy: hierarchy) } catch {
            guard error.isNoSuchFile, path.count > hierarchy.count else { throw CgroupError(error) }
            try makeAncestor(String(path[..<path.lastIndex(of: "/")!]), hierarchy: hierarchy)
            do { try makeMarked(path, hierarchy: hierarchy) } catch { throw CgroupError(error) }
        }
    }

    private static func makeMarked(_ path: String, hierarchy: String) throws(SystemError) {
        if try Files.makeDirectoryIfAbsent(path) { markMade(path, hierarchy: hierarchy) }
    }

    /// Marks an ancestor this run has just made, unless it is the shared base.
    static func markMade(_ path: String, hierarchy: String) {
        if path != sharedBase(in: hierarchy) { Files.setAttribute(madeMark, "1", at: path) }
    }

    /// Removes the marked ancestors of a removed cgroup, nearest first, until one is not
    /// marked or still holds another container's cgroup.
    static func removeMadeAncestors(of directory: String) {
        var current = directory
        while let slash = current.lastIndex(of: "/"), slash != current.startIndex {
            current = String(current[..<slash])
            guard Files.hasAttribute(madeMark, at: current), rmdir(current) == 0 else { return }
        }
    }

    /// rmdir, retried while the kernel finishes tearing down killed tasks.
    static func removeDirectory(_ directory: String) throws(CgroupError) {
        for attempt in 0..<200 {
            if removeIfEmpty(directory) { return }
            guard errno == EBUSY, attempt < 199 else { break }
            usleep(5_000)
        }
        throw CgroupError(SystemError("rmdir", directory))
    }

    /// Kills until `directory` is empty; a fork bomb may add processes while we kill.
    /// A killed process leaves the cgroup within ~0.1 ms unless it is stuck in the kernel,
    /// so the wait starts short and doubles up to 2 ms (about 0.8 s in all).
    static func killUntilEmpty(_ directory: String) {
        var pause: UInt32 = 100
        for _ in 0..<400 {
            let pids = processes(in: directory)
            if pids.isEmpty { return }
            // No reaping here: a killed member that is the caller's child stays a zombie
            // (zombies are not listed in cgroup.procs) for its owner to reap; reaping any
            // child would steal exit statuses that other owners in this process wait for.
            for pid in pids { Processes.signal(pid, SIGKILL) }
            usleep(pause)
            pause = min(pause * 2, 2_000)
        }
    }
}

/// The device cgroup's rules as the kernel's v1 devices.allow/deny files read them.
enum DeviceRules {
    /// What every container may use whatever its config says, as runc allows it: mknod
    /// of any node, the default devices, the terminal devices and /dev/net/tun.
    static let alwaysAllowed: [DeviceCgroupRule] = [
        .init(allow: true, type: "c", access: "m"), .init(allow: true, type: "b", access: "m"),
        .init(allow: true, type: "c", major: 1, minor: 3, access: "rwm"), .init(allow: true, type: "c", major: 1, minor: 5, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 7, access: "rwm"), .init(allow: true, type: "c", major: 1, minor: 8, access: "rwm"),
        .init(allow: true, type: "c", major: 1, minor: 9, access: "rwm"), .init(allow: true, type: "c", major: 5, minor: 0, access: "rwm"),
        .init(allow: true, type: "c", major: 5, minor: 1, access: "rwm"), .init(allow: true, type: "c", major: 5, minor: 2, access: "rwm"),
        .init(allow: true, type: "c", major: 136, access: "rwm"), .init(allow: true, type: "c", major: 10, minor: 200, access: "rwm"),
    ]

    /// "c 1:3 rwm"; missing parts match everything.
    static func text(_ rule: DeviceCgroupRule) -> String {
        "\(rule.type ?? "a") \(rule.major.map(String.init) ?? "*"):\(rule.minor.map(String.init) ?? "*") \(rule.access ?? "rwm")"
    }
}
