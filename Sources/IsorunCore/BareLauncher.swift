import Glibc
import IsorunCgroups
import IsorunSpec
import IsorunSys

/// Bare mode: the workload runs as a plain host process, the way software runs on
/// bare metal. It gets the bundle's env, cwd, rlimits, personality, memory policy and user
/// (rootless: the caller's), and a cgroup so that isorun can account for it, limit it when
/// `linux.resources` asks, and kill what it leaves behind. No namespaces, no rootfs, no
/// seccomp: showing what that lacks is the point.
public struct BareLauncher: Launcher {
    public var mode: Mode { .bare }

    public init() {}

    public func launch(_ request: RunRequest, state: RunState) throws(IsorunError) -> any Workload {
        let configFile = "\(request.bundle.directory)/config.json"
        Log.debug("bare mode ignores the bundle's rootfs (\(request.bundle.rootfsPath)); the workload sees the host filesystem")
        if let devices = request.bundle.config.linux?.netDevices, !devices.isEmpty {
            Log.debug("bare mode ignores linux.netDevices: the workload shares the host's network, devices included")
        }
        var plan = try ProcessSettings.basePlan(for: try request.process, configFile: configFile)
        request.applyLifecycle(to: &plan)
        if HostProcess.isRootless, let user = plan.user {
            // A host process of an unprivileged user can be no one else; the config's user is
            // the container's, which only a user namespace (sandbox mode) can map.
            Log.debug("bare mode runs rootless as uid \(HostProcess.userID), not process.user's \(user.uid)")
            plan.user = nil
        }
        plan.personality = ProcessSettings.personality(request.bundle.config.linux)
        plan.memoryPolicy = ProcessSettings.memoryPolicy(request.bundle.config.linux)
        let resources = request.bundle.config.linux?.resources
        let cgroup = try WorkloadCgroup.manager(for: request, resources: resources)
        try WorkloadCgroup.create(cgroup, resources: resources, state: state)
        // Orphans of the workload are re-parented to isorun, so they can be reaped.
        Processes.becomeSubreaper()
        let pid = try WorkloadCgroup.spawn(plan, into: cgroup, for: request)
        return BareWorkload(pid: pid, cgroup: cgroup)
    }
}

final class BareWorkload: Workload {
    let pid: pid_t
    let cgroup: any CgroupManager
    private var cleaned = false

    init(pid: pid_t, cgroup: any CgroupManager) {
        self.pid = pid
        self.cgroup = cgroup
    }

    var isNamespaceInit: Bool { false }

    func cleanUp() {
        guard !cleaned else { return }
        cleaned = true
        do { try cgroup.killAllAndDestroy(afterKilling: Processes.reapAnyExited) } catch { Log.warning("\(error)") }
        // What the workload left is this supervisor's to reap (it is their subreaper),
        // whether it ended on its own or was killed: all of it has left the cgroup by now,
        // but a process becomes this one's child only once its own parent has exited, so
        // one pass can come too early, and what it misses goes to init at isorun's exit.
        Processes.reapUntilNoChildren(withinMilliseconds: 1_000)
    }
}
