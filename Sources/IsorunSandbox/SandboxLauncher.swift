import CIsorunShim
import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSpec
import IsorunSys

/// Sandbox mode: the bundle as an OCI container — its own namespaces, its rootfs
/// behind pivot_root, a cgroup, a capability set, no_new_privs and a seccomp filter.
///
/// This type decides; the C shim executes the resulting `SpawnPlan` in the child.
public struct SandboxLauncher: Launcher {
    public var mode: Mode { .sandbox }

    public init() {}

    public func launch(_ request: RunRequest, state: RunState) throws(IsorunError) -> any Workload {
        let config = request.bundle.config
        let configFile = "\(request.bundle.directory)/config.json"
        let process = try request.process
        let linux = config.linux
        let layout: CgroupLayout
        do { layout = try CgroupLayout.host() } catch { throw IsorunError(error) }

        var plan = try ProcessSettings.basePlan(for: process, configFile: configFile)
        request.applyLifecycle(to: &plan)
        if request.setup.newSessionKeyring { plan.sessionKeyring = request.id }
        let namespaces = try NamespacePlan(linux, configFile: configFile)
        defer { namespaces.closeDescriptors() }
        plan.keepGroups = NamespacePlan.keepsGroups(linux)
        try NamespacePlan.checkRootlessMappings(linux, process: process, keepsGroups: plan.keepGroups, configFile: configFile)
        // runc's answer to a config without a mount namespace: the container's mounts are
        // made in the host's namespace, under the rootfs, and removed when it ends.
        let inHostMountNamespace = namespaces.cloneFlags & NamespaceFlags.mount == 0
            && !namespaces.joins.contains(where: { $0.type == NamespaceFlags.mount })
        plan.cloneFlags = namespaces.cloneFlags
        plan.unshareCgroupNamespace = namespaces.unshareCgroup
        plan.unshareIPCNamespace = namespaces.unshareIPC
        plan.unshareTimeNamespace = namespaces.unshareTime
        plan.timeOffsets = TimeOffset.timensLines(linux?.timeOffsets)
        plan.personality = ProcessSettings.personality(linux)
        plan.memoryPolicy = ProcessSettings.memoryPolicy(linux)
        plan.joins = namespaces.joins
        plan.bringUpLoopback = namespaces.createsNetworkNamespace

        plan.rootfs = request.bundle.rootfsPath
        plan.rootfsInHostNamespace = inHostMountNamespace
        if inHostMountNamespace {
            try state.recordHostMounts(under: request.bundle.rootfsPath)
            Log.debug("\(configFile): no mount namespace: the container's mounts are made under \(request.bundle.rootfsPath) on the host")
        }
        plan.readonlyRoot = config.root?.readonly ?? false
        guard let propagation = MountOptions.rootfsPropagation(linux?.rootfsPropagation) else {
            throw IsorunError("\(configFile): linux.rootfsPropagation: unknown propagation '\(linux?.rootfsPropagation ?? "")'")
        }
        plan.rootfsPropagation = propagation
        if propagation & UInt(MS_SHARED) != 0 { plan.rootfsParentMount = MountTable.mountPoint(containing: plan.rootfs!) }
        let resources = Self.resources(linux, rootless: HostProcess.isRootless)
        let cgroup = try WorkloadCgroup.manager(for: request, resources: resources)
        let cgroupView: MountPlan.CgroupView = switch layout {
        // cgroup v1 cannot be mounted inside a user namespace: show the workload its own directories.
        case .legacy where namespaces.createsUserNamespace: .bindings(cgroup.directories)
        default: namespaces.unshareCgroup ? .namespaced(layout, own: cgroup.directories) : .bindings(cgroup.directories)
        }
        let inUserNamespace = namespaces.createsUserNamespace || namespaces.joins.contains { $0.type == NamespaceFlags.user }
        plan.mounts = try MountPlan.steps(for: config, bundleDirectory: request.bundle.directory,
                                          configFile: configFile, cgroupView: cgroupView, inUserNamespace: inUserNamespace)
        if let terminal = request.terminal {
            // The spec's /dev/console: the process's terminal, as runc and crun provide it.
            plan.mounts.append(.init(kind: .bind, source: terminal.path, target: "/dev/console", targetIsFile: true))
        }
        plan.maskedPaths = linux?.maskedPaths ?? []
        plan.readonlyPaths = linux?.readonlyPaths ?? []
        if let sysctl = linux?.sysctl, !sysctl.isEmpty {
            let sorted = sysctl.sorted { $0.key < $1.key }
            for (key, _) in sorted { try Self.checkNamespaced(sysctl: key, config: config, configFile: configFile) }
            plan.sysctls = sorted.map { ("/proc/sys/" + $0.key.replacingDots(), $0.value) }
        }

        if let hostname = config.hostname {
            guard config.hasNamespace(.uts) else {
                throw IsorunError("\(configFile): hostname: setting a hostname needs a uts namespace")
            }
            plan.hostname = hostname
            plan.domainname = config.domainname
        }

        try Self.applyPrivileges(of: process, seccomp: linux?.seccomp, configFile: configFile,
                                 state: { request.hookState(pid: $0, status: .creating) }, to: &plan)

        // Idmapped binds are made here, where the host's user namespace still owns their
        // sources; the child only attaches them in its mount namespace.
        let detachedTrees: [Int32]
        do { detachedTrees = try IdmappedMount.prepare(&plan.mounts) } catch {
            throw IsorunError("\(configFile): mounts: idmapped mount", error)
        }
        defer { detachedTrees.forEach { close($0) } }

        // The network namespace's helper can make the cgroup while the child mounts
        // (CgroupJobHandOff): asked now, it starts once the namespace is made. Only for a
        // child that runs its setup at once, while the parent sleeps: no ID maps or devices
        // to hand over, no start gate, hooks or listener. (The child of a `create` waits at
        // its start gate, and its parent works on after the clone: with the helper taking
        // turns with that work, `create` took 0.09 ms longer.) Recorded first either way,
        // so a later run removes it.
        let network = NetworkNamespaceHeadStart.claim(for: namespaces)
        defer { network?.close() }
        let cgroupJob = network != nil && plan.rootfs != nil && !inHostMountNamespace && !namespaces.createsUserNamespace
            && linux?.netDevices?.isEmpty != false && !plan.setupNeedsParent ? cgroup.creationJob(for: resources) : nil
        var jobSent = false
        if let cgroupJob, let network {
            try state.recordCgroup(directories: cgroup.directories)
            jobSent = network.send(cgroupJob)
            if !jobSent { try WorkloadCgroup.createRecorded(cgroup, resources: resources) }
        } else {
            try WorkloadCgroup.create(cgroup, resources: resources, state: state)
        }
        /// Removes the cgroup once the helper, which may be making it, has exited.
        func removeCgroup() {
            if jobSent { network?.close() }
            try? cgroup.destroy()
        }
        if let pidNamespace = namespaces.pidNamespaceToJoin {
            let rc = isorun_setns(pidNamespace, NamespaceFlags.pid)
            guard rc == 0 else {
                removeCgroup()
                throw IsorunError("\(configFile): linux.namespaces: join pid namespace: \(Errno.describe(-rc))")
            }
        }
        // A child in its own user namespace can neither write its ID maps nor lower its
        // oom_score_adj: the parent does both. Any other child sees to its score itself.
        var prepare: ((pid_t) throws(IsorunError) -> Void)?
        if namespaces.createsUserNamespace {
            prepare = { pid throws(IsorunError) in
                if let linux { try NamespacePlan.writeIDMaps(pid: pid, linux: linux, configFile: configFile) }
                if let score = process.oomScoreAdj {
                    do { try Files.write("/proc/\(pid)/oom_score_adj", String(score)) } catch {
                        throw IsorunError("\(configFile): process.oomScoreAdj: \(error)")
                    }
                }
            }
        } else {
            plan.oomScoreAdjustment = process.oomScoreAdj.map(Int32.init)
        }
        // Waited for last: the namespace takes its helper longer to make (~0.6 ms here)
        // than reading the bundle takes, and everything above can run while it finishes.
        var helperAnswers = false
        if let network {
            do {
                let descriptor = try network.descriptor()
                plan.cloneFlags &= ~NamespaceFlags.network
                plan.joins.append((descriptor, NamespaceFlags.network))
                plan.bringUpLoopback = false  // done where it was made
                helperAnswers = jobSent
            } catch {
                Log.debug("network namespace made ahead of time failed (\(error)); clone makes it")
            }
        }
        if let cgroupJob, helperAnswers, let network, let socket = network.socket, let helper = network.helper {
            plan.cgroupJob = CgroupJobHandOff(job: cgroupJob, socket: socket, helper: helper,
                                              joinBeforeMount: Self.firstMountShowingCgroups(plan.mounts, layout: layout))
        } else if jobSent {
            // A helper that could not make the namespace never reads the job.
            network?.close()
            try WorkloadCgroup.createRecorded(cgroup, resources: resources)
        } else {
            network?.dismissHelper()
        }
        // linux.netDevices go into the namespace before the process runs: at once where the
        // namespace exists already (made ahead, or joined), else once clone has made it.
        var loan: LoanBox?
        if let requested = linux?.netDevices, !requested.isEmpty {
            let box = LoanBox()
            loan = box
            if let ready = plan.joins.first(where: { $0.type == NamespaceFlags.network })?.fd {
                do { box.value = try NetworkDeviceLoan.lend(requested, to: ready, state: state, configFile: configFile) } catch {
                    try? cgroup.destroy()
                    throw error
                }
            } else {
                let userPart = prepare
                prepare = { pid throws(IsorunError) in
                    try userPart?(pid)
                    box.value = try NetworkDeviceLoan.lend(requested, toNamespaceAt: "/proc/\(pid)/ns/net", state: state,
                                                           configFile: configFile)
                }
            }
        }
        let pid: pid_t
        do { pid = try WorkloadCgroup.spawn(plan, into: cgroup, for: request, prepare: prepare) } catch {
            loan?.value?.giveBack()
            // The helper may still have been making what the spawn's cleanup removed.
            if jobSent { removeCgroup() }
            throw error
        }
        return SandboxWorkload(pid: pid, cgroup: cgroup, isNamespaceInit: namespaces.createsPidNamespace,
                               hostMountRoot: state.hostMountRoot, networkDevices: loan?.value)
    }
}

/// The loan a launch makes, set from inside the spawn's `prepare` when that is where it happens.
private final class LoanBox {
    var value: NetworkDeviceLoan?
}

extension SandboxLauncher {
    /// What a process in the container may do: its capability sets, no_new_privs, and the
    /// config's seccomp filter (with its flags and agent) or the default one. `exec` gives
    /// its processes the same; `state` is what the agent is told about the container.
    static func applyPrivileges(of process: IsorunSpec.Process, seccomp: Seccomp?, configFile: String,
                                state: @escaping (pid_t) -> ContainerState, to plan: inout SpawnPlan) throws(IsorunError) {
        plan.capabilities = try CapabilityPlan.sets(for: process.capabilities, configFile: configFile)
        plan.noNewPrivileges = process.noNewPrivileges ?? false
        plan.seccompFilter = try WorkloadPrivileges.seccompFilter(for: process, seccomp: seccomp, configFile: configFile)
        plan.seccompFlags = SeccompAgent.flags(of: seccomp)
        plan.seccompListener = SeccompAgent.listener(for: seccomp, state: state)
    }

    /// The first mount that shows a cgroup (the cgroup filesystem, or anything at or from
    /// the hierarchies' root): the child joins its cgroups, and makes its cgroup namespace,
    /// before it. `mounts.count` when none does.
    static func firstMountShowingCgroups(_ mounts: [SpawnPlan.MountStep], layout: CgroupLayout) -> Int {
        let roots: [String] = switch layout {
        case .legacy(let root, _): [root, "/sys/fs/cgroup"]
        case .unified(let mountPoint): [mountPoint, "/sys/fs/cgroup"]
        }
        return mounts.firstIndex { step in
            step.fstype?.hasPrefix("cgroup") == true
                || [step.source, step.target].contains { path in roots.contains { path?.hasPrefix($0) == true } }
        } ?? mounts.count
    }

    /// A sysctl the container may set: one its own namespace scopes (runc's rule). Any
    /// other would change the host (a VM, with its own kernel, may set them all).
    static func checkNamespaced(sysctl key: String, config: RuntimeConfig, configFile: String) throws(IsorunError) {
        let ipcKeys: Set = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                            "kernel.shmmni", "kernel.shm_rmid_forced"]
        let namespace: NamespaceType? =
            if ipcKeys.contains(key) || key.hasPrefix("fs.mqueue.") { .ipc }
            else if key.hasPrefix("net.") { .network }
            else if key == "kernel.hostname" || key == "kernel.domainname" { .uts }
            else { nil }
        guard let namespace else {
            throw IsorunError("\(configFile): linux.sysctl.\(key): not scoped by any namespace; setting it would change the host")
        }
        guard config.hasNamespace(namespace) else {
            throw IsorunError("\(configFile): linux.sysctl.\(key): needs its own \(namespace.rawValue) namespace, or it would change the host's")
        }
    }

    /// The config's resources with the device cgroup every container gets, as runc gives
    /// it: without rules of the config's own, every device is denied but the defaults
    /// (DeviceRules.alwaysAllowed), so a node made with CAP_MKNOD, bound in or found on a
    /// devtmpfs opens only if it is one of those. The container's own `linux.devices` are
    /// allowed too: they were made to be used. A rootless isorun may not set device rules
    /// (nor need them: its user namespace lets no device node be made), so it adds none.
    static func resources(_ linux: Linux?, rootless: Bool) -> Resources? {
        guard var resources = linux?.resources ?? (rootless ? nil : Resources()) else { return nil }
        if resources.devices?.isEmpty != false {
            if rootless { return resources }
            resources.devices = [DeviceCgroupRule(allow: false, access: "rwm")]
        }
        for device in linux?.devices ?? [] where device.type != "p" {
            resources.devices?.append(DeviceCgroupRule(allow: true, type: device.type == "b" ? "b" : "c",
                                                       major: device.major, minor: device.minor, access: "rwm"))
        }
        return resources
    }
}

/// A running container: PID 1 of its namespace when it has a PID namespace.
final class SandboxWorkload: Workload {
    let pid: pid_t
    let cgroup: any CgroupManager
    let isNamespaceInit: Bool
    let hostMountRoot: String?
    /// Host network devices in the container's namespace, which go back after it ends.
    let networkDevices: NetworkDeviceLoan?
    private var cleaned = false

    init(pid: pid_t, cgroup: any CgroupManager, isNamespaceInit: Bool, hostMountRoot: String?,
         networkDevices: NetworkDeviceLoan? = nil) {
        self.pid = pid
        self.cgroup = cgroup
        self.isNamespaceInit = isNamespaceInit
        self.hostMountRoot = hostMountRoot
        self.networkDevices = networkDevices
    }

    func cleanUp() {
        guard !cleaned else { return }
        cleaned = true
        // The PID namespace died with its init; the cgroup catches anything that
        // joined from outside it or shares no PID namespace with it.
        do { try cgroup.killAllAndDestroy() } catch { Log.warning("\(error)") }
        if let hostMountRoot { MountTable.unmountAll(under: hostMountRoot) }
        networkDevices?.giveBack()
    }
}

extension String {
    func replacingDots() -> String { String(map { $0 == "." ? "/" : $0 }) }
}
