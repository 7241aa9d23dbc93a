import CIsorunShim
import Glibc

/// Everything the child does between clone() and execve(), as plain data.
///
/// Launchers fill this in (that is where the policy lives); `Spawner` hands it
/// to the C shim, which carries it out without making decisions.
public struct SpawnPlan {
    public struct MountStep: Sendable, Equatable {
        public enum Kind: Int32, Sendable { case filesystem = 0, bind = 1, symlink = 2, device = 3 }
        public var kind: Kind
        public var source: String?
        public var target: String
        public var fstype: String?
        public var flags: UInt = 0
        public var propagation: UInt = 0
        public var data: String?
        public var remountFlags: UInt = 0
        public var targetIsFile = false
        /// For `.device`: the node to make.
        public var device: DeviceNode?
        /// For `.bind`: show the files' owners through these mappings (an idmapped mount).
        public var idmap: IDMap?
        /// For `.bind`: the detached tree to attach instead of binding `source` (the idmapped
        /// copy, made by the parent just before the spawn); -1 for none.
        public var sourceDescriptor: Int32 = -1
        /// mount_setattr(2) bits set and cleared on the mount and every mount below it
        /// (runtime-spec's `rro`, `rnosuid`, …); 0 and 0 for none.
        public var recursiveSet: UInt64 = 0
        public var recursiveClear: UInt64 = 0
        /// For `.filesystem`: `tmpcopyup`, the covered directory's tree copied into the mount.
        public var copyUp = false

        /// The owner mappings of an idmapped bind mount, as uid_map and gid_map take them.
        public struct IDMap: Sendable, Equatable {
            public var uidMap: String
            public var gidMap: String
            /// Map the source's submounts too (`ridmap`), not only the mount itself.
            public var recursive: Bool
            public init(uidMap: String, gidMap: String, recursive: Bool) {
                self.uidMap = uidMap
                self.gidMap = gidMap
                self.recursive = recursive
            }
        }

        /// Type and permission bits (S_IFCHR | 0666, ...), dev_t and owner of a device node.
        public struct DeviceNode: Sendable, Equatable {
            public var mode: UInt32
            public var number: UInt64
            public var uid: UInt32
            public var gid: UInt32
            /// A different file already at the path is an error (the spec's rule for
            /// `linux.devices`); otherwise the host's node is bound over it.
            public var existingMustMatch: Bool
            public init(mode: UInt32, number: UInt64, uid: UInt32, gid: UInt32, existingMustMatch: Bool) {
                self.mode = mode
                self.number = number
                self.uid = uid
                self.gid = gid
                self.existingMustMatch = existingMustMatch
            }
        }

        public init(kind: Kind, source: String?, target: String, fstype: String? = nil, flags: UInt = 0,
                    propagation: UInt = 0, data: String? = nil, remountFlags: UInt = 0, targetIsFile: Bool = false) {
            self.kind = kind
            self.source = source
            self.target = target
            self.fstype = fstype
            self.flags = flags
            self.propagation = propagation
            self.data = data
            self.remountFlags = remountFlags
            self.targetIsFile = targetIsFile
        }
    }

    public struct ResourceLimit: Sendable, Equatable {
        public var resource: Int32
        public var soft: UInt64
        public var hard: UInt64
        public init(resource: Int32, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.soft = soft
            self.hard = hard
        }
    }

    /// set_mempolicy(2)'s arguments: the mode with its flags, and the nodes as the bit mask
    /// of C `unsigned long`s the call reads (empty: no nodes).
    public struct MemoryPolicyAttributes: Sendable, Equatable {
        public var mode: Int32
        public var nodeMask: [UInt]
        public init(mode: Int32, nodes: [Int]) {
            self.mode = mode
            let bits = UInt.bitWidth
            var mask = [UInt](repeating: 0, count: nodes.isEmpty ? 0 : nodes.max()! / bits + 1)
            for node in nodes { mask[node / bits] |= 1 << UInt(node % bits) }
            self.nodeMask = mask
        }
    }

    /// sched_setattr(2)'s fields, as numbers.
    public struct SchedulerAttributes: Sendable, Equatable {
        public var policy: UInt32
        public var flags: UInt64
        public var nice: Int32
        public var priority: UInt32
        public var runtime: UInt64
        public var deadline: UInt64
        public var period: UInt64
        public init(policy: UInt32, flags: UInt64 = 0, nice: Int32 = 0, priority: UInt32 = 0,
                    runtime: UInt64 = 0, deadline: UInt64 = 0, period: UInt64 = 0) {
            self.policy = policy
            self.flags = flags
            self.nice = nice
            self.priority = priority
            self.runtime = runtime
            self.deadline = deadline
            self.period = period
        }
    }

    /// An OCI hook the child runs itself (createContainer, startContainer).
    public struct Hook: Sendable, Equatable {
        public var path: String
        public var arguments: [String]?
        public var environment: [String]?
        /// Seconds; nil: no limit.
        public var timeout: Int?
        public init(path: String, arguments: [String]?, environment: [String]?, timeout: Int?) {
            self.path = path
            self.arguments = arguments
            self.environment = environment
            self.timeout = timeout
        }
    }

    public var arguments: [String]
    public var environment: [String]
    /// The program to exec when it is not `arguments[0]` (a hook's path).
    public var executable: String?
    /// stdin from this descriptor instead of isorun's.
    public var stdinDescriptor: Int32?
    public var searchPath: String?
    public var workingDirectory: String?

    public var cloneFlags: Int32 = 0
    public var unshareCgroupNamespace = false
    /// Unshare the IPC namespace once root of the new user namespace (see NamespacePlan).
    public var unshareIPCNamespace = false
    public var unshareTimeNamespace = false
    /// Written to /proc/self/timens_offsets of the new time namespace.
    public var timeOffsets: String?
    /// personality(2) set just before the filter and exec.
    public var personality: Int32?
    /// (open namespace fd, CLONE_NEW* type) pairs joined with setns().
    public var joins: [(fd: Int32, type: Int32)] = []

    public var rootfs: String?
    public var rootfsPropagation: UInt = 0
    /// The mount point `rootfs` lies on.
    public var rootfsParentMount: String?
    /// No mount namespace: mounts under the rootfs on the host, chroot instead of pivot_root.
    public var rootfsInHostNamespace = false
    /// `--no-pivot`: move the rootfs onto / and chroot instead of pivot_root (see the shim).
    public var noPivotRoot = false
    /// A new session keyring of this name for the child (see the shim); nil keeps the caller's.
    public var sessionKeyring: String?
    /// Inside `rootfs`; without one, only binds of host paths onto host paths, made in the
    /// child's own mount namespace (`cloneFlags` must hold CLONE_NEWNS).
    public var mounts: [MountStep] = []
    /// (/proc/sys/... path, value)
    public var sysctls: [(path: String, value: String)] = []
    public var maskedPaths: [String] = []
    public var readonlyPaths: [String] = []
    public var readonlyRoot = false
    public var hostname: String?
    public var domainname: String?
    public var bringUpLoopback = false

    public var user: (uid: uid_t, gid: gid_t, groups: [gid_t])?
    /// Leave the supplementary groups as they are: the child's user namespace denies
    /// setgroups(2) (a rootless run's; see NamespacePlan.keepsGroups).
    public var keepGroups = false
    public var umask: mode_t?
    public var resourceLimits: [ResourceLimit] = []

    public var capabilities: CapabilitySets?
    public var noNewPrivileges = false
    public var seccompFilter: CompiledSeccompFilter?
    /// seccomp(2) flags the filter is loaded with (SECCOMP_FILTER_FLAG_LOG, ...).
    public var seccompFlags: UInt32 = 0
    /// For a filter with SCMP_ACT_NOTIFY rules: gets its notification listener (which it
    /// must not close) and the child's pid as soon as the child has loaded it; the child
    /// waits until this returns nil, or is ended when it returns why the listener could
    /// not be handed on.
    public var seccompListener: ((_ listener: Int32, _ pid: pid_t) -> String?)?

    public var parentDeathSignal: Int32 = SIGKILL
    /// Set by the child itself before anything else (see the shim).
    public var oomScoreAdjustment: Int32?
    /// sched_setattr(2) for the child, before its capabilities change.
    public var scheduler: SchedulerAttributes?
    /// ioprio_set(2) value for the child (class << 13 | level).
    public var ioPriority: Int32?
    /// set_mempolicy(2) for the child, before its seccomp filter.
    public var memoryPolicy: MemoryPolicyAttributes?
    /// CPUs the child runs on until it has joined its cgroups, and from then on.
    public var initialCPUs: [Int32] = []
    public var finalCPUs: [Int32] = []
    /// Detach from isorun's session and terminal (setsid) before exec.
    public var newSession = false
    /// A pseudo-terminal replica to make the controlling terminal and stdio (in a new session).
    public var terminalDescriptor: Int32?
    /// Run with stdin, stdout and stderr on /dev/null.
    public var nullStdio = false
    /// With `nullStdio`: stdout goes here instead (e.g. a pipe the caller reads).
    public var stdoutDescriptor: Int32?
    /// With `stdoutDescriptor`: stderr goes there too.
    public var stderrToStdout = false
    /// With `nullStdio`: a descriptor to use as stderr instead (a benchmark's log of a
    /// command's complaints).
    public var stderrDescriptor: Int32?
    /// A cgroup v2 directory to create the child in (clone3 CLONE_INTO_CGROUP).
    public var cgroupDirectory: String?
    /// cgroup v1 `tasks` files the child moves itself into once released (see the shim):
    /// unlike the parent writing its pid to `cgroup.procs`, this waits for no RCU grace period.
    public var cgroupTaskFiles: [String] = []
    /// Instead of `cgroupTaskFiles` (cgroup v1): the cgroups being made by the network
    /// namespace's helper while the child sets up, rather than by the parent before clone.
    public var cgroupJob: CgroupJobHandOff?
    /// `isorun create`: a FIFO descriptor the child waits on before exec (see the shim).
    public var startGateDescriptor: Int32?
    /// Inherited descriptors 3 ..< 3 + this that the workload keeps (`--preserve-fds`).
    public var preservedDescriptors: Int32 = 0
    /// isorun's own descriptors the program inherits under the same numbers (a VM's taps).
    public var keptDescriptors: [Int32] = []
    /// Stop before pivot_root so the parent can run prestart and createRuntime hooks;
    /// `PendingChild.release` then reports `.atHookBarrier`.
    public var hookBarrier = false
    /// Run by the child in the container's namespaces before pivot_root, and after the
    /// start gate just before exec; each reads a state from `PendingChild.release`.
    public var createContainerHooks: [Hook] = []
    public var startContainerHooks: [Hook] = []
    /// The caller takes a step of its own between `Spawner.start` and `release` (writes
    /// ID maps, moves the child into a cgroup). Without one, the child runs its plan at
    /// once, cloned vfork-style (see the shim's `run_at_once`), unless the plan itself
    /// needs the parent mid-way: a start gate, a hook barrier, hooks fed by the release, a
    /// seccomp listener to hand on.
    public var parentStepsBeforeRelease = true

    var runsAtOnce: Bool { !parentStepsBeforeRelease && !setupNeedsParent }

    /// The plan itself needs the parent while the child sets up: a start gate, a hook
    /// barrier, hooks fed by the release, a seccomp listener to hand on.
    public var setupNeedsParent: Bool {
        startGateDescriptor != nil || hookBarrier || !createContainerHooks.isEmpty || !startContainerHooks.isEmpty
            || seccompListener != nil
    }

    public init(arguments: [String], environment: [String]) {
        self.arguments = arguments
        self.environment = environment
    }
}

/// Capability sets ready for the shim: libcap's cap_t for E/P/I plus two masks.
public final class CapabilitySets: @unchecked Sendable {
    public let capabilities: cap_t
    public let boundingMask: UInt64
    public let ambientMask: UInt64

    /// Takes ownership of `capabilities` (freed with cap_free).
    public init(capabilities: cap_t, boundingMask: UInt64, ambientMask: UInt64) {
        self.capabilities = capabilities
        self.boundingMask = boundingMask
        self.ambientMask = ambientMask
    }

    deinit { cap_free(UnsafeMutableRawPointer(capabilities)) }
}

/// A seccomp filter compiled to BPF in the parent; the child only loads it.
public final class CompiledSeccompFilter: @unchecked Sendable {
    public var program: sock_fprog

    /// Takes ownership of `program.filter` (malloc'd by the shim).
    public init(program: sock_fprog) { self.program = program }

    /// A program from its raw instructions (8 bytes each, as the kernel takes them); nil
    /// unless `instructions` is a whole, non-empty program of at most BPF_MAXINSNS.
    public convenience init?(instructions: [UInt8]) {
        let size = MemoryLayout<sock_filter>.stride
        let count = instructions.count / size
        guard count > 0, count <= 4096, instructions.count == count * size,
              let memory = malloc(instructions.count) else { return nil }
        instructions.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: instructions.count) }
        self.init(program: sock_fprog(len: UInt16(count), filter: memory.assumingMemoryBound(to: sock_filter.self)))
    }

    public var instructionCount: Int { Int(program.len) }

    /// The raw instructions, for storing the program.
    public var instructions: [UInt8] {
        Array(UnsafeRawBufferPointer(start: program.filter, count: instructionCount * MemoryLayout<sock_filter>.stride))
    }

    deinit { free(program.filter) }
}

/// The child's own report of the step that failed before exec.
public struct ChildSetupError: Error, Sendable, CustomStringConvertible {
    public let step: String
    public let errno: Int32
    /// errno 0: the step says it all (a hook's exit status).
    public var description: String { errno == 0 ? step : "\(step): \(Errno.describe(errno))" }
}

extension ChildSetupError {
    /// Waits until the process behind a start gate (SpawnPlan.startGateDescriptor) that
    /// `gate`, an open write end, has just released has exec'd or died: the child holds a
    /// flock(2) on the gate until its exec closes it. Then returns the failure it reported
    /// into the gate after release (a startContainer hook, exec itself), if any.
    public static func afterStartGate(_ gate: Int32, path: String) -> ChildSetupError? {
        _ = retryingOnInterrupt { flock(gate, LOCK_EX) }
        // `gate` keeps the FIFO's buffer alive while this end reads it.
        let reader = retryingOnInterrupt { open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }
        guard reader >= 0 else { return nil }
        defer { Glibc.close(reader) }
        var report = isorun_child_error()
        let size = MemoryLayout<isorun_child_error>.size
        let got = withUnsafeMutableBytes(of: &report) { read(reader, $0.baseAddress, size) }
        if got == 1 {
            // Its own go byte, unread: the process had ended before `start`.
            return ChildSetupError(step: "the container's process ended before it was started", errno: 0)
        }
        guard got == size else { return nil }
        let step = withUnsafeBytes(of: report.what) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return ChildSetupError(step: step, errno: report.err)
    }
}

/// The holder's side of a start gate for a container whose process is not the shim's
/// child (a VM's monitor, which carries out `start` itself): held from before `create`
/// returns until the process runs, so that `start` (`ChildSetupError.afterStartGate`)
/// waits for it and reads why it did not. A holder that dies frees the gate with it.
public final class HeldStartGate: @unchecked Sendable {
    private var gate: Int32 = -1

    public init() {}

    /// Takes the lock on `gate`, the gate's read-write descriptor, which this now owns.
    public func hold(_ gate: Int32) throws(SystemError) {
        guard retryingOnInterrupt({ flock(gate, LOCK_EX) }) == 0 else { throw SystemError("flock", "start gate", errno: errno) }
        self.gate = gate
    }

    /// Lets `start` return, with `failure` the reason it prints; nothing once let go.
    public func release(reporting failure: String?) {
        guard gate >= 0 else { return }
        if let failure {
            var report = isorun_child_error()
            withUnsafeMutableBytes(of: &report.what) { what in
                let text = failure.utf8.prefix(what.count - 1)
                what.copyBytes(from: text)
            }
            _ = withUnsafeBytes(of: &report) { write(gate, $0.baseAddress, $0.count) }
        }
        Glibc.close(gate)
        gate = -1
    }

    deinit { release(reporting: nil) }
}

/// A cloned child waiting for the parent's go-ahead.
public final class PendingChild {
    public let pid: pid_t
    /// True when the kernel created the child in `SpawnPlan.cgroupDirectory`; otherwise
    /// the caller must move it there.
    public let bornInCgroup: Bool
    private var handle: isorun_spawn_handle
    private let arena: CArena
    private var plan: UnsafeMutablePointer<isorun_spawn_plan>?
    private let seccompListener: ((Int32, pid_t) -> String?)?

    init(handle: isorun_spawn_handle, arena: CArena, plan: UnsafeMutablePointer<isorun_spawn_plan>,
         seccompListener: ((Int32, pid_t) -> String?)?) {
        self.pid = handle.pid
        self.bornInCgroup = handle.born_in_cgroup != 0
        self.handle = handle
        self.arena = arena
        self.plan = plan
        self.seccompListener = seccompListener
    }

    /// How far a released child got.
    public enum Progress: Sendable {
        /// It exec'd the workload, or waits at its start gate.
        case ready
        /// It waits at its hook barrier for `resume()`.
        case atHookBarrier
    }

    /// Lets the child run its plan. Returns once it has exec'd the workload (or reached
    /// its start gate or hook barrier); on a setup failure the child has exited (status
    /// 125) and is reaped here. `creating` and `created` are the state documents its
    /// createContainer and startContainer hooks read, when the plan has such hooks.
    @discardableResult
    public func release(hookStates: (creating: [UInt8], created: [UInt8])? = nil) throws(ChildSetupError) -> Progress {
        try letGo(hookStates: hookStates)
        return try awaitReport()
    }

    /// The first half of `release`: the go-ahead, after which the parent may do work of
    /// its own while the child sets itself up, before `awaitReport`.
    public func letGo(hookStates: (creating: [UInt8], created: [UInt8])? = nil) throws(ChildSetupError) {
        var report = isorun_child_error()
        var framed: [UInt8] = []
        if let hookStates {
            for document in [hookStates.creating, hookStates.created] {
                withUnsafeBytes(of: UInt32(document.count)) { framed.append(contentsOf: $0) }
                framed.append(contentsOf: document)
            }
        }
        let rc = framed.withUnsafeBytes { isorun_spawn_let_go(&handle, &report, $0.baseAddress, $0.count) }
        if rc != 0 { _ = try settle(rc, report) }
    }

    /// The second half of `release`: waits for the child's report.
    public func awaitReport() throws(ChildSetupError) -> Progress {
        var report = isorun_child_error()
        return try settle(isorun_spawn_await(&handle, &report), report)
    }

    /// Lets a child waiting at its hook barrier go on; returns as `release` does.
    public func resume() throws(ChildSetupError) {
        var report = isorun_child_error()
        _ = try settle(isorun_spawn_resume(&handle, &report), report)
    }

    /// Hands a seccomp listener on and waits again (which lets the waiting child go on);
    /// a listener that could not be handed on ends the child.
    private func settle(_ rc: Int32, _ report: isorun_child_error) throws(ChildSetupError) -> Progress {
        var rc = rc, report = report
        while rc == ISORUN_SECCOMP_LISTENER_READY {
            let listener = handle.seccomp_notify_fd
            handle.seccomp_notify_fd = -1
            let failure: String? = seccompListener.map { $0(listener, pid) } ?? "no agent for the seccomp listener"
            close(listener)
            if let failure {
                abort()
                throw ChildSetupError(step: failure, errno: 0)
            }
            report = isorun_child_error()
            rc = isorun_spawn_await(&handle, &report)
        }
        return try finish(rc, report)
    }

    private func finish(_ rc: Int32, _ report: isorun_child_error) throws(ChildSetupError) -> Progress {
        if rc == 1 { return .atHookBarrier }
        releasePlan()
        guard rc == 0 else {
            let step = withUnsafeBytes(of: report.what) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            _ = try? Processes.wait(pid)
            throw ChildSetupError(step: step, errno: report.err)
        }
        return .ready
    }

    /// Kills and reaps a child that must not run (the parent's own setup failed).
    public func abort() {
        isorun_spawn_abort(&handle)
        releasePlan()
    }

    private func releasePlan() {
        plan?.deallocate()
        plan = nil
    }
}

/// Starts children from a `SpawnPlan` through the C shim.
public enum Spawner {
    public static func start(_ plan: SpawnPlan) throws(SystemError) -> PendingChild {
        let arena = CArena()
        let cPlan = UnsafeMutablePointer<isorun_spawn_plan>.allocate(capacity: 1)
        cPlan.initialize(to: isorun_spawn_plan())
        fill(cPlan, from: plan, arena: arena)
        var handle = isorun_spawn_handle()
        // Opened here, as root in isorun's namespaces: the kernel checks a cgroup write
        // against the opener, so a child already in a user namespace may still use them.
        var taskFDs: [Int32] = []
        for path in plan.cgroupTaskFiles {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                let error = SystemError("open", path)
                taskFDs.forEach { close($0) }
                cPlan.deallocate()
                throw error
            }
            taskFDs.append(fd)
        }
        cPlan.pointee.cgroup_task_fds = UnsafePointer(arena.array(taskFDs))
        cPlan.pointee.cgroup_task_paths = arena.constStringArray(plan.cgroupTaskFiles)
        cPlan.pointee.cgroup_task_count = Int32(taskFDs.count)
        let cgroupFD = plan.cgroupDirectory.map { open($0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) } ?? -1
        cPlan.pointee.cgroup_fd = cgroupFD
        let pid = isorun_spawn_start(cPlan, &handle)
        if cgroupFD >= 0 { close(cgroupFD) }
        taskFDs.forEach { close($0) }
        guard pid > 0 else {
            cPlan.deallocate()
            throw SystemError("clone", plan.arguments.first, errno: -pid)
        }
        return PendingChild(handle: handle, arena: arena, plan: cPlan, seccompListener: plan.seccompListener)
    }

    private static func fill(_ c: UnsafeMutablePointer<isorun_spawn_plan>, from plan: SpawnPlan, arena: CArena) {
        c.pointee.argv = arena.stringArray(plan.arguments)
        c.pointee.envp = arena.stringArray(plan.environment)
        c.pointee.search_path = arena.string(plan.searchPath)
        c.pointee.cwd = arena.string(plan.workingDirectory)
        c.pointee.clone_flags = plan.cloneFlags
        c.pointee.unshare_cgroup_ns = plan.unshareCgroupNamespace ? 1 : 0
        c.pointee.unshare_ipc_ns = plan.unshareIPCNamespace ? 1 : 0
        c.pointee.unshare_time_ns = plan.unshareTimeNamespace ? 1 : 0
        c.pointee.time_offsets = arena.string(plan.timeOffsets)
        c.pointee.personality = plan.personality ?? -1
        c.pointee.joins = UnsafePointer(arena.array(plan.joins.map { isorun_join(fd: $0.fd, nstype: $0.type) }))
        c.pointee.join_count = Int32(plan.joins.count)
        c.pointee.rootfs = arena.string(plan.rootfs)
        c.pointee.rootfs_propagation = plan.rootfsPropagation
        c.pointee.rootfs_parent_mount = arena.string(plan.rootfsParentMount)
        c.pointee.rootfs_in_host_namespace = plan.rootfsInHostNamespace ? 1 : 0
        c.pointee.no_pivot_root = plan.noPivotRoot ? 1 : 0
        c.pointee.session_keyring = arena.string(plan.sessionKeyring)
        c.pointee.mounts = UnsafePointer(arena.array(plan.mounts.map { step in
            isorun_mount_op(kind: step.kind.rawValue, source: arena.string(step.source), target: arena.string(step.target),
                            fstype: arena.string(step.fstype), flags: step.flags, propagation: step.propagation,
                            data: arena.string(step.data), remount_flags: step.remountFlags,
                            target_is_file: step.targetIsFile ? 1 : 0, device_mode: step.device?.mode ?? 0,
                            device_number: step.device?.number ?? 0, device_uid: step.device?.uid ?? 0,
                            device_gid: step.device?.gid ?? 0,
                            device_existing_must_match: step.device?.existingMustMatch == true ? 1 : 0,
                            source_fd: step.sourceDescriptor,
                            recursive_attr_set: step.recursiveSet, recursive_attr_clr: step.recursiveClear,
                            copy_up: step.copyUp ? 1 : 0)
        }))
        c.pointee.mount_count = Int32(plan.mounts.count)
        c.pointee.sysctl_paths = arena.constStringArray(plan.sysctls.map(\.path))
        c.pointee.sysctl_values = arena.constStringArray(plan.sysctls.map(\.value))
        c.pointee.sysctl_count = Int32(plan.sysctls.count)
        c.pointee.masked_paths = arena.constStringArray(plan.maskedPaths)
        c.pointee.masked_count = Int32(plan.maskedPaths.count)
        c.pointee.readonly_paths = arena.constStringArray(plan.readonlyPaths)
        c.pointee.readonly_count = Int32(plan.readonlyPaths.count)
        c.pointee.readonly_root = plan.readonlyRoot ? 1 : 0
        c.pointee.hostname = arena.string(plan.hostname)
        c.pointee.domainname = arena.string(plan.domainname)
        c.pointee.bring_up_loopback = plan.bringUpLoopback ? 1 : 0
        if let user = plan.user {
            c.pointee.set_user = 1
            c.pointee.uid = user.uid
            c.pointee.gid = user.gid
            c.pointee.groups = UnsafePointer(arena.array(user.groups))
            c.pointee.group_count = Int32(user.groups.count)
            c.pointee.keep_groups = plan.keepGroups ? 1 : 0
        }
        if let umask = plan.umask {
            c.pointee.set_umask = 1
            c.pointee.umask = umask
        }
        c.pointee.rlimits = UnsafePointer(arena.array(plan.resourceLimits.map {
            isorun_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard)
        }))
        c.pointee.rlimit_count = Int32(plan.resourceLimits.count)
        if let caps = plan.capabilities {
            arena.retain(caps)
            c.pointee.set_caps = 1
            c.pointee.caps = caps.capabilities
            c.pointee.bounding_mask = caps.boundingMask
            c.pointee.ambient_mask = caps.ambientMask
        }
        c.pointee.no_new_privs = plan.noNewPrivileges ? 1 : 0
        if let filter = plan.seccompFilter {
            arena.retain(filter)
            c.pointee.seccomp = UnsafePointer(arena.array([filter.program]))
        }
        c.pointee.seccomp_flags = plan.seccompFlags
        c.pointee.seccomp_listener = plan.seccompListener == nil ? 0 : 1
        c.pointee.parent_death_signal = plan.parentDeathSignal
        c.pointee.new_session = plan.newSession ? 1 : 0
        c.pointee.terminal_fd = plan.terminalDescriptor ?? -1
        c.pointee.null_stdio = plan.nullStdio ? 1 : 0
        c.pointee.stdout_fd = plan.stdoutDescriptor ?? -1
        c.pointee.stderr_to_stdout = plan.stderrToStdout ? 1 : 0
        c.pointee.stderr_fd = plan.stderrDescriptor ?? -1
        c.pointee.start_gate_fd = plan.startGateDescriptor ?? -1
        c.pointee.preserved_fds = plan.preservedDescriptors
        c.pointee.kept_fds = UnsafePointer(arena.array(plan.keptDescriptors))
        c.pointee.kept_fd_count = Int32(plan.keptDescriptors.count)
        c.pointee.executable = arena.string(plan.executable)
        c.pointee.stdin_fd = plan.stdinDescriptor ?? -1
        c.pointee.hook_barrier = plan.hookBarrier ? 1 : 0
        c.pointee.run_at_once = plan.runsAtOnce ? 1 : 0
        if let job = plan.cgroupJob {
            c.pointee.cgroup_job_socket = job.socket
            c.pointee.cgroup_job_helper = job.helper
            c.pointee.cgroup_job_steps = arena.constStringArray(job.job.descriptions)
            c.pointee.cgroup_job_step_count = Int32(job.job.steps.count)
            c.pointee.cgroup_join_before_mount = Int32(job.joinBeforeMount)
        }
        c.pointee.set_oom_score_adj = plan.oomScoreAdjustment == nil ? 0 : 1
        c.pointee.oom_score_adj = plan.oomScoreAdjustment ?? 0
        if let scheduler = plan.scheduler {
            c.pointee.set_scheduler = 1
            c.pointee.sched_policy = scheduler.policy
            c.pointee.sched_flags = scheduler.flags
            c.pointee.sched_nice = scheduler.nice
            c.pointee.sched_priority = scheduler.priority
            c.pointee.sched_runtime = scheduler.runtime
            c.pointee.sched_deadline = scheduler.deadline
            c.pointee.sched_period = scheduler.period
        }
        c.pointee.io_priority = plan.ioPriority ?? -1
        if let policy = plan.memoryPolicy {
            c.pointee.set_memory_policy = 1
            c.pointee.memory_policy_mode = policy.mode
            c.pointee.memory_policy_nodes = UnsafePointer(arena.array(policy.nodeMask))
            c.pointee.memory_policy_node_bits = UInt(policy.nodeMask.count * UInt.bitWidth)
        }
        c.pointee.initial_cpus = UnsafePointer(arena.array(plan.initialCPUs))
        c.pointee.initial_cpu_count = Int32(plan.initialCPUs.count)
        c.pointee.final_cpus = UnsafePointer(arena.array(plan.finalCPUs))
        c.pointee.final_cpu_count = Int32(plan.finalCPUs.count)
        c.pointee.create_container_hooks = UnsafePointer(arena.array(plan.createContainerHooks.map { arena.hook($0) }))
        c.pointee.create_container_hook_count = Int32(plan.createContainerHooks.count)
        c.pointee.start_container_hooks = UnsafePointer(arena.array(plan.startContainerHooks.map { arena.hook($0) }))
        c.pointee.start_container_hook_count = Int32(plan.startContainerHooks.count)
    }
}

/// Owns the C memory of one plan until the child has exec'd.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []
    private var owners: [AnyObject] = []

    deinit { allocations.forEach { free($0) } }

    func retain(_ owner: AnyObject) { owners.append(owner) }

    func string(_ value: String?) -> UnsafePointer<CChar>? {
        guard let value, let copy = strdup(value) else { return nil }
        allocations.append(UnsafeMutableRawPointer(copy))
        return UnsafePointer(copy)
    }

    func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        guard !values.isEmpty, let raw = malloc(MemoryLayout<T>.stride * values.count) else { return nil }
        allocations.append(raw)
        let typed = raw.bindMemory(to: T.self, capacity: values.count)
        typed.initialize(from: values, count: values.count)
        return typed
    }

    /// A NULL-terminated char *const[] (argv/envp shape).
    func stringArray(_ values: [String]) -> UnsafePointer<UnsafeMutablePointer<CChar>?>? {
        let pointers: [UnsafeMutablePointer<CChar>?] = values.map { UnsafeMutablePointer(mutating: string($0)) } + [nil]
        return UnsafePointer(array(pointers))
    }

    func hook(_ hook: SpawnPlan.Hook) -> isorun_hook {
        isorun_hook(path: string(hook.path), argv: hook.arguments.map(stringArray) ?? nil,
                    envp: hook.environment.map(stringArray) ?? nil, timeout_seconds: Int32(hook.timeout ?? 0))
    }

    func constStringArray(_ values: [String]) -> UnsafePointer<UnsafePointer<CChar>?>? {
        UnsafePointer(array(values.map { string($0) }))
    }
}
