import CIsorunShim
import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSpec
import IsorunSys

/// `isorun exec`: one more process in a container made by `create`. It joins the
/// container's namespaces through /proc/<pid>/ns (only those that differ from isorun's
/// own, so a bare-mode container is joined on the host), enters its cgroup, and gets
/// the capabilities, no_new_privs and seccomp filter the same rules give the
/// container's own process.
public struct ContainerExec {
    public let record: ContainerRecord
    public let config: RuntimeConfig
    public let process: IsorunSpec.Process
    /// The pseudo-terminal replica for `process.terminal` with --console-socket.
    public var terminal: (descriptor: Int32, path: String)?
    /// With `detach` the process outlives isorun (no parent-death signal).
    public var detach = false
    /// `--preserve-fds`: inherited descriptors after stderr the process keeps.
    public var preservedDescriptors: Int32 = 0
    /// `--process`: the document `process` came from, named in errors about its fields;
    /// nil when it is config.json's process with the command line's changes.
    public var processFile: String?

    /// Joined in this order: the user namespace first, which owns the others (setns(2)).
    static let namespaces: [(file: String, flag: Int32)] = [
        ("user", NamespaceFlags.user), ("mnt", NamespaceFlags.mount), ("uts", NamespaceFlags.uts),
        ("ipc", NamespaceFlags.ipc), ("net", NamespaceFlags.network), ("cgroup", NamespaceFlags.cgroup),
        // The container's process enters its time namespace at execve: before `start` only
        // time_for_children names it (and after, both do).
        ("time_for_children", NamespaceFlags.time),
    ]

    public init(record: ContainerRecord, config: RuntimeConfig, process: IsorunSpec.Process) {
        self.record = record
        self.config = config
        self.process = process
    }

    /// Starts the process; returns its pid once it has exec'd.
    public func start(in cgroup: (any CgroupManager)?) throws(IsorunError) -> pid_t {
        let source = "\(record.bundle)/config.json"
        var plan = try ProcessSettings.basePlan(for: process, configFile: processFile ?? source)
        plan.workingDirectory = process.cwd
        (plan.initialCPUs, plan.finalCPUs) = try ProcessSettings.execCPUs(process.execCPUAffinity, configFile: processFile ?? source)
        // The container's policy, which every process in it has inherited from its first.
        plan.memoryPolicy = ProcessSettings.memoryPolicy(config.linux)
        // The process's own OOM score (config.json's for a plain `exec`, as runc has it;
        // containerd's documents carry the container's), not that of whoever called exec.
        plan.oomScoreAdjustment = process.oomScoreAdj.map(Int32.init)
        plan.parentDeathSignal = detach ? 0 : SIGKILL
        plan.terminalDescriptor = terminal?.descriptor
        plan.preservedDescriptors = preservedDescriptors
        // Like the container's own process, not the keyring of whoever called exec.
        if record.mode == Mode.sandbox.rawValue { plan.sessionKeyring = record.id }
        var opened: [Int32] = []
        defer { opened.forEach { StreamCopy.close($0) } }
        var pidNamespace: Int32?
        if record.mode == Mode.sandbox.rawValue {
            for namespace in Self.namespaces where differs(namespace.file) {
                let fd = try open(namespace.file)
                opened.append(fd)
                plan.joins.append((fd, namespace.flag))
            }
            // A rootless container's user namespace denies setgroups(2): the process keeps its groups.
            if differs("user"), (try? Files.readString("/proc/\(record.pid)/setgroups"))?.hasPrefix("deny") == true {
                try NamespacePlan.refuseAdditionalGroups(of: process, configFile: processFile ?? source)
                plan.keepGroups = true
            }
            if differs("pid") {
                pidNamespace = try open("pid")
                opened.append(pidNamespace!)
            }
            let record = record, annotations = config.annotations
            // The container's state names the container's process; the exec'd one is the
            // process state's `pid`.
            try SandboxLauncher.applyPrivileges(of: process, seccomp: config.linux?.seccomp, configFile: source, state: { _ in
                ContainerState(id: record.id, status: ContainerStatus.running.rawValue, pid: record.pid,
                               bundle: record.bundle, annotations: annotations, created: nil)
            }, to: &plan)
        }
        cgroup?.place(&plan)
        // With nothing for isorun to do between clone and release (the cgroup placed in the
        // plan), the child runs at once, cloned vfork-style: no copy of isorun's page
        // tables and none of the copy-on-write faults that follow. Not when it joins a time
        // namespace, which setns(2) refuses to a process sharing its memory (EUSERS).
        let joinsTime = plan.joins.contains { $0.type == NamespaceFlags.time }
        plan.parentStepsBeforeRelease = joinsTime || (cgroup != nil && plan.cgroupDirectory == nil && plan.cgroupTaskFiles.isEmpty)
        if let pidNamespace {
            if HostProcess.isRootless, let user = plan.joins.firstIndex(where: { $0.type == NamespaceFlags.user }) {
                // Rootless, only the container's user namespace gives the right to join its
                // PID namespace: isorun enters it first (the child then is in it already).
                let rc = isorun_setns(plan.joins[user].fd, NamespaceFlags.user)
                guard rc == 0 else { throw IsorunError("exec \(record.id): join user namespace: \(Errno.describe(-rc))") }
                plan.joins.remove(at: user)
            }
            // setns of a PID namespace applies to the caller's next children: the clone below.
            let rc = isorun_setns(pidNamespace, NamespaceFlags.pid)
            guard rc == 0 else { throw IsorunError("exec \(record.id): join pid namespace: \(Errno.describe(-rc))") }
        }
        let child: PendingChild
        do { child = try Spawner.start(plan) } catch { throw IsorunError("exec \(record.id)", error) }
        if let cgroup {
            do { try cgroup.addUnlessPlaced(child, plan: plan) } catch {
                child.abort()
                throw IsorunError(error)
            }
        }
        do { try child.release() } catch { throw IsorunError("exec \(record.id): \(error)") }
        return child.pid
    }

    private func differs(_ namespace: String) -> Bool {
        let theirs = try? FileTree.linkTarget("/proc/\(record.pid)/ns/\(namespace)")
        return theirs != nil && theirs != (try? FileTree.linkTarget("/proc/self/ns/\(namespace)"))
    }

    private func open(_ namespace: String) throws(IsorunError) -> Int32 {
        do { return try Files.openForReading("/proc/\(record.pid)/ns/\(namespace)") } catch {
            throw IsorunError("exec \(record.id): join \(namespace) namespace", error)
        }
    }
}

/// A process started by `exec` that isorun waits for: signals sent to isorun reach it,
/// and only it is killed if isorun must give up (the container lives on).
public final class ExecWorkload: Workload {
    public let pid: pid_t
    public init(pid: pid_t) { self.pid = pid }
    public var isNamespaceInit: Bool { false }
    public func cleanUp() {
        // A reaped pid may already name another process.
        if Processes.peek(pid) != .notOurs { Processes.signal(pid, SIGKILL) }
    }
}
