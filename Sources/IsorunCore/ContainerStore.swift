import Glibc
import IsorunCgroups
import IsorunSpec
import IsorunSys

/// A container made by `isorun create` (the OCI runtime.md lifecycle). Unlike a
/// supervised run it outlives the isorun process that made it, so everything later
/// commands need is written to `<root>/<id>/container.json`.
public struct ContainerRecord: Sendable, Equatable {
    public var id: String
    /// Absolute path of the bundle directory.
    public var bundle: String
    /// Absolute path of the container's root filesystem (runc's `state` shows it); nil in
    /// records written before 2026-12-05.
    public var rootfs: String?
    public var mode: String
    /// The container's process, and its kernel start time (a pid alone can be reused).
    public var pid: Int32
    public var pidStartTime: UInt64
    /// RFC 3339, UTC.
    public var created: String
    public var annotations: [String: String]?
    public var cgroupDirectories: [String]
    /// The bundle's hooks: poststart and poststop run after `create` has returned.
    public var hooks: Hooks?
    /// A container without a mount namespace: its mounts under this path on the host.
    public var hostMountRoot: String?
    /// A container holding host network devices: its pinned network namespace, and the
    /// devices in the run's record (see NetworkDeviceLoan).
    public var networkNamespacePin: String?
    /// Whether the container's files are in a directory `<root>/<id>/` (a VM container's,
    /// or any container made before 2026-12-03's layout) rather than beside the run's
    /// record (see `ContainerStore`). Not written: where the record was found says it.
    public var hasStateDirectory: Bool

    public init(id: String, bundle: String, mode: String, pid: Int32, pidStartTime: UInt64, created: String,
                annotations: [String: String]?, cgroupDirectories: [String], hooks: Hooks?) {
        self.id = id
        self.bundle = bundle
        self.mode = mode
        self.pid = pid
        self.pidStartTime = pidStartTime
        self.created = created
        self.annotations = annotations
        self.cgroupDirectories = cgroupDirectories
        self.hooks = hooks
        self.hasStateDirectory = ContainerStore.hasDirectory(mode)
    }
}

extension ContainerRecord {
    /// Reads `container.json` by hand, as config.json is read (see IsorunSpec's `JSONFields.swift`):
    /// `start`, `state`, `kill` and `delete` each read it once per run.
    package init(json node: JSONNode) throws(JSONFieldError) {
        let o = try node.object()
        self.init(
            id: try o.required("id", JSONRead.string),
            bundle: try o.required("bundle", JSONRead.string),
            mode: try o.required("mode", JSONRead.string),
            pid: try o.required("pid", JSONRead.integer(Int32.self)),
            pidStartTime: try o.required("pidStartTime", JSONRead.integer(UInt64.self)),
            created: try o.required("created", JSONRead.string),
            annotations: try o.optional("annotations", JSONRead.stringMap),
            cgroupDirectories: try o.required("cgroupDirectories", JSONRead.strings),
            hooks: try o.optional("hooks", Hooks.init(json:))
        )
        rootfs = try o.optional("rootfs", JSONRead.string)
        hostMountRoot = try o.optional("hostMountRoot", JSONRead.string)
        networkNamespacePin = try o.optional("networkNamespacePin", JSONRead.string)
    }
}

extension ContainerRecord {
    /// `container.json`, written by hand for the reason `init(json:)` is read by hand.
    package var json: String {
        var writer = JSONWriter()
        writer.object { writer in
            writer.key("id"); writer.string(id)
            writer.key("bundle"); writer.string(bundle)
            if let rootfs { writer.key("rootfs"); writer.string(rootfs) }
            writer.key("mode"); writer.string(mode)
            writer.key("pid"); writer.integer(pid)
            writer.key("pidStartTime"); writer.integer(pidStartTime)
            writer.key("created"); writer.string(created)
            if let annotations { writer.key("annotations"); writer.stringMap(annotations) }
            writer.key("cgroupDirectories"); writer.strings(cgroupDirectories)
            if let hooks { writer.key("hooks"); hooks.write(to: &writer) }
            if let hostMountRoot { writer.key("hostMountRoot"); writer.string(hostMountRoot) }
            if let networkNamespacePin { writer.key("networkNamespacePin"); writer.string(networkNamespacePin) }
        }
        return writer.text
    }
}

extension ContainerRecord {
    /// What `isorun-oci` needs for `start` (release the process), `kill` (signal it) and
    /// `delete` (kill it, remove the cgroup and the state): the process and the cgroup
    /// directories, one per line, then `end`, so a reader can tell a whole plan. Nil
    /// when these commands must do more: run poststart or poststop hooks, unmount a
    /// container's host mounts, give back network devices, stop a VM.
    var lifecyclePlan: String? {
        let plainMode = mode == Mode.sandbox.rawValue || mode == Mode.bare.rawValue
        let hooksAfterCreate = !(hooks?.poststart ?? []).isEmpty || !(hooks?.poststop ?? []).isEmpty
        // isorun-oci reads up to 16 directories (MAX_CGROUPS) and one path per line.
        guard plainMode, !hooksAfterCreate, hostMountRoot == nil, networkNamespacePin == nil, cgroupDirectories.count <= 16,
              cgroupDirectories.allSatisfy({ $0.hasPrefix("/") && !$0.utf8.contains(UInt8(ascii: "\n")) }) else { return nil }
        // Appended one by one: `joined` would cost a scan of every protocol conformance in
        // the binary on the first create (see joinedWithoutLookup).
        var plan = "pid=\(pid) \(pidStartTime)\n"
        for directory in cgroupDirectories { plan += "cgroup=\(directory)\n" }
        return plan + "end\n"
    }
}

extension ContainerState {
    /// The state of a container made by `create`.
    public init(record: ContainerRecord, status: ContainerStatus) {
        self.init(id: record.id, status: status.rawValue, pid: status == .stopped ? nil : record.pid,
                  bundle: record.bundle, annotations: record.annotations, created: record.created)
    }

    /// A container's state as `state` and `list` show it: with runc's `rootfs` and `owner`
    /// (runc's `state` leaves the owner empty; `list` names the user).
    public static func shown(_ record: ContainerRecord, status: ContainerStatus, owner: String = "") -> ContainerState {
        var state = ContainerState(record: record, status: status)
        state.rootfs = record.rootfs
        state.owner = owner
        return state
    }
}

extension ContainerRecord {
    /// RFC 3339, UTC, as `created` is written.
    public static func now() -> String { WallClock.rfc3339() }
}

/// The status values of runtime.md's state, plus runc's `paused`.
public enum ContainerStatus: String, Sendable {
    case creating, created, running, paused, stopped
}

/// The containers under one runtime root.
///
/// A container's files are its record (`container.json`), the plan `isorun-oci` reads
/// (`lifecycle-plan`) and the start gate (`exec.fifo`). A VM container keeps them in the
/// directory its monitor's run has anyway (`<root>/<id>/`, beside the QEMU sockets). The
/// others have no directory: the files sit beside the run's record `<root>/<id>`, named
/// `<id>+<file>` ('+' is not allowed in an id, so no other container's name can clash).
/// On this host's ext4 /run the directory made `delete` ~0.3 ms slower (interleaved A/B of
/// 300 create-start-delete cycles); its `create` writes the files while the container's
/// process sets itself up, so making them costs `create` nothing visible.
public struct ContainerStore: Sendable {
    static let recordFile = "container.json"
    /// The FIFO the container's process waits on until `start` (see the shim).
    static let gateFile = "exec.fifo"
    /// The file `isorun-oci` (Sources/isorun-oci, the binary containerd runs) reads to
    /// carry out `start`, `delete` and `kill` without starting this Swift binary, which
    /// costs ~0.9 ms a process. Written whenever the record is; absent when the container's
    /// start or delete must do more than the plan says, so that isorun does them.
    static let planFile = "lifecycle-plan"
    /// A container's files in the order they are removed: the record last, because a
    /// record is what makes a container (see `RuntimeRoot.reclaimIfAbandoned`).
    static let files = [gateFile, planFile, recordFile]

    public let root: RuntimeRoot

    public init(root: RuntimeRoot) {
        self.root = root
    }

    /// Whether a new container of this mode keeps its files in a directory of its own.
    static func hasDirectory(_ mode: String) -> Bool { mode == Mode.vm.rawValue }

    /// `<root>/<id>`: the run's record, or a VM container's directory.
    public func directory(of id: String) -> String { "\(root.path)/\(id)" }

    /// Where a container keeps `file`: in its directory, or beside its run's record.
    func path(of file: String, id: String, inDirectory: Bool) -> String {
        Self.file(file, of: directory(of: id), inDirectory: inDirectory)
    }

    /// `file` of the container whose run's entry is `entry` (`<root>/<id>`): inside the
    /// entry when it is a directory, beside it otherwise.
    static func file(_ file: String, of entry: String, inDirectory: Bool) -> String {
        inDirectory ? "\(entry)/\(file)" : RunState.companion(file, of: entry)
    }

    public func gate(of record: ContainerRecord) -> String {
        path(of: Self.gateFile, id: record.id, inDirectory: record.hasStateDirectory)
    }

    public func load(_ id: String) throws(IsorunError) -> ContainerRecord {
        guard RuntimeRoot.isValidID(id) else { throw IsorunError("invalid container id '\(id)'") }
        // Most containers have no directory; a VM container's record is the second guess.
        var inDirectory = false
        var path = path(of: Self.recordFile, id: id, inDirectory: false)
        var text = try? Files.read(path)
        if text == nil {
            inDirectory = true
            path = self.path(of: Self.recordFile, id: id, inDirectory: true)
            text = try? Files.read(path)
        }
        guard let text else { throw IsorunError("container '\(id)' does not exist under \(root.path)") }
        do {
            var record = try readSpecDocument(text, file: path, ContainerRecord.init(json:))
            record.hasStateDirectory = inDirectory
            return record
        } catch {
            throw IsorunError("\(path): unreadable container state: \(error.jsonPath.map { "\($0): " } ?? "")\(error.message)")
        }
    }

    public func save(_ record: ContainerRecord) throws(IsorunError) {
        let path = path(of: Self.recordFile, id: record.id, inDirectory: record.hasStateDirectory)
        do { try Files.writeAtomically(path, record.json) } catch {
            throw IsorunError("write \(path): \(error)")
        }
        try savePlan(for: record)
    }

    private func savePlan(for record: ContainerRecord) throws(IsorunError) {
        let path = path(of: Self.planFile, id: record.id, inDirectory: record.hasStateDirectory)
        guard let plan = record.lifecyclePlan else {
            try? Files.remove(path)
            return
        }
        do { try Files.writeAtomically(path, plan) } catch { throw IsorunError("write \(path): \(error)") }
    }

    /// Removes a container's files and then its run's state, in that order.
    private func removeState(id: String, inDirectory: Bool) throws(SystemError) {
        let entry = directory(of: id)
        if inDirectory { return try Files.removeTree(entry) }
        for file in Self.files { try Files.remove(Self.file(file, of: entry, inDirectory: false)) }
        try Files.remove(entry)
    }

    /// Created until `start` opens the gate, running until the process exits, then stopped.
    public func status(of record: ContainerRecord) -> ContainerStatus {
        guard Processes.runningStartTime(of: record.pid) == record.pidStartTime else { return .stopped }
        if Files.exists(gate(of: record)) { return .created }
        return cgroup(of: record)?.isFrozen == true ? .paused : .running
    }

    /// `pause` (freeze every process in the container's cgroup) and `resume`.
    public func setPaused(_ record: ContainerRecord, _ paused: Bool) throws(IsorunError) {
        let status = status(of: record)
        let expected: ContainerStatus = paused ? .running : .paused
        guard status == expected else {
            throw IsorunError("container '\(record.id)' is \(status.rawValue), not \(expected.rawValue)")
        }
        guard var cgroup = cgroup(of: record) else { throw IsorunError("container '\(record.id)' has no cgroup left") }
        if paused, let freezer = cgroup.freezerToAdd {
            // Recorded before it is made, so that `delete` removes it whatever happens next.
            var record = record
            record.cgroupDirectories.append(freezer)
            try save(record)
            do { cgroup = try cgroup.addingFreezer(at: freezer) } catch { throw IsorunError(error) }
        }
        do { try cgroup.setFrozen(paused) } catch { throw IsorunError(error) }
    }

    /// `update`: new limits for a created, running or paused container. On cgroup v1 a
    /// controller it did not need before is added, and recorded for `delete`.
    public func update(_ record: ContainerRecord, resources: Resources) throws(IsorunError) {
        let status = status(of: record)
        guard status != .stopped else { throw IsorunError("container '\(record.id)' is stopped: nothing to update") }
        guard let cgroup = cgroup(of: record) else { throw IsorunError("container '\(record.id)' has no cgroup left") }
        do {
            let covering = try cgroup.covering(resources)
            if covering.directories != record.cgroupDirectories {
                var record = record
                record.cgroupDirectories = covering.directories
                try save(record)
            }
            try covering.apply(resources)
        } catch let error as CgroupError {
            throw IsorunError(error)
        } catch {
            throw error as! IsorunError
        }
    }

    /// The pids in the container's cgroup, as the host sees them; for a container without
    /// one (rootless), those in its PID namespace while its process runs, or that process
    /// alone where it has no PID namespace of its own.
    public func processes(of record: ContainerRecord) -> [Int32] {
        guard record.cgroupDirectories.isEmpty else { return (cgroup(of: record)?.processes() ?? []).sorted() }
        guard Processes.runningStartTime(of: record.pid) == record.pidStartTime else { return [] }
        let namespace = Processes.sharingPidNamespace(with: record.pid)
        return namespace.isEmpty ? [record.pid] : namespace.sorted()
    }

    /// The user who owns the container's record, by name as /etc/passwd has it (`#uid`
    /// where it has none), for `list`'s OWNER, as runc names it.
    public func owner(of record: ContainerRecord) -> String {
        guard let uid = Files.owner(of: path(of: Self.recordFile, id: record.id, inDirectory: record.hasStateDirectory))?.uid else {
            return ""
        }
        let entry = (try? Files.readString("/etc/passwd"))?.split(separator: "\n").lazy
            .map { $0.split(separator: ":", omittingEmptySubsequences: false) }
            .first { $0.count > 2 && $0[2] == Substring(String(uid)) }
        return entry.map { String($0[0]) } ?? "#\(uid)"
    }

    /// Every container under the root, in name order.
    public func list() -> [ContainerRecord] {
        ((try? Files.list(root.path)) ?? []).filter(RuntimeRoot.isValidID).sorted().compactMap { try? load($0) }
    }

    /// `create`: the run's state, the start gate, the cgroup and the process, which
    /// is left waiting at the gate. A failure at any step removes what was made.
    /// With `process.terminal`, the process gets a new pseudo-terminal whose master goes
    /// to `consoleSocket` first.
    public func create(_ request: RunRequest, with launcher: any Launcher,
                       consoleSocket: String? = nil) throws(IsorunError) -> ContainerRecord {
        root.sweepLeftovers()
        let inDirectory = Self.hasDirectory(launcher.mode.rawValue)
        let state = try root.createRun(id: request.id, mode: launcher.mode, withDirectory: inDirectory)
        var created = false
        defer {
            if !created {
                state.undoRecorded()
                try? removeState(id: request.id, inDirectory: inDirectory)
            }
        }
        let gate = try makeGate(for: request.id, inDirectory: inDirectory)
        defer { StreamCopy.close(gate) }
        var request = request
        request.startGateDescriptor = gate
        let terminal = try PseudoTerminal.forProcess(request.bundle.config.process, source: "\(request.bundle.directory)/config.json",
                                                     consoleSocket: consoleSocket)
        request.terminal = terminal.map { ($0.replica, $0.replicaPath) }
        defer { withExtendedLifetime(terminal) {} }
        // A sandbox's process sets itself up for a few milliseconds once released; the
        // record is written meanwhile. (A VM's launcher does not call this: below.)
        let recorded = RecordedDuringSetup(request: request, mode: launcher.mode, state: state)
        request.whileSettingUp = { [self] pid throws(IsorunError) in
            recorded.record = try record(recorded.request, pid: pid, mode: recorded.mode, state: recorded.state)
        }
        let workload = try launcher.launch(request, state: state)
        if let record = recorded.record {
            created = true
            return record
        }
        do {
            let record = try record(request, pid: workload.pid, mode: launcher.mode, state: state)
            created = true
            return record
        } catch {
            workload.cleanUp()
            throw error
        }
    }

    /// Writes the record of the container whose process is `pid`.
    private func record(_ request: RunRequest, pid: pid_t, mode: Mode, state: RunState) throws(IsorunError) -> ContainerRecord {
        guard let startTime = Processes.startTime(of: pid) else {
            throw IsorunError("create \(request.id): the container's process ended during setup")
        }
        var record = ContainerRecord(id: request.id, bundle: request.bundle.directory, mode: mode.rawValue,
                                     pid: pid, pidStartTime: startTime,
                                     created: ContainerRecord.now(), annotations: request.bundle.config.annotations,
                                     cgroupDirectories: state.cgroupDirectories, hooks: request.bundle.config.hooks)
        record.rootfs = request.bundle.rootfsPath
        record.hostMountRoot = state.hostMountRoot
        record.networkNamespacePin = state.networkNamespacePin
        try save(record)
        return record
    }

    /// The start gate of a container being created, open read-write (see `start`).
    public func makeGate(for id: String, inDirectory: Bool) throws(IsorunError) -> Int32 {
        do { return try StreamCopy.makeFifoReadWrite(path(of: Self.gateFile, id: id, inDirectory: inDirectory)) } catch {
            throw IsorunError("create start gate", error)
        }
    }

    /// Lets a created container's process exec its user program.
    public func start(_ record: ContainerRecord) throws(IsorunError) {
        let status = status(of: record)
        guard status == .created else { throw IsorunError("container '\(record.id)' is \(status.rawValue), not created") }
        let path = gate(of: record)
        let failure: ChildSetupError?
        do {
            let fd = try StreamCopy.openFifoForWriting(path)
            defer { StreamCopy.close(fd) }
            try StreamCopy.writeAll(fd, [0])
            // As runc's `start`: back once the process has exec'd, or with why it did not.
            // (A VM's monitor holds its gate for the guest's process: see HeldStartGate.)
            failure = ChildSetupError.afterStartGate(fd, path: path)
            try Files.remove(path)
        } catch {
            throw IsorunError("start \(record.id)", error)
        }
        if let failure {
            // Stopped when `start` says so: the process (a VM's monitor) may still be exiting.
            waitUntilEnded(record)
            throw IsorunError("start \(record.id): \(failure)")
        }
        do {
            try LifecycleHooks.run(record.hooks?.poststart, phase: "poststart", state: ContainerState(record: record, status: .running))
        } catch {
            // runtime-spec 1.3 (as runc): the container is stopped; `delete` destroys it
            // and runs the poststop hooks.
            Processes.signal(record.pid, SIGKILL)
            for pid in processes(of: record) { Processes.signal(pid, SIGKILL) }
            waitUntilEnded(record)
            throw IsorunError("\(error.message); container '\(record.id)' was stopped")
        }
    }

    /// Waits (up to a second) until the container's process has exited. It is not our
    /// child: whoever adopted it reaps it.
    private func waitUntilEnded(_ record: ContainerRecord) {
        for _ in 0..<500 {
            guard Processes.runningStartTime(of: record.pid) == record.pidStartTime else { return }
            usleep(2_000)
        }
    }

    /// Sends `signal` to the container's process, or with `all` to every process in it
    /// (see `processes(of:)`).
    public func kill(_ record: ContainerRecord, signal: Int32, all: Bool) throws(IsorunError) {
        // containerd and podman recognise "container not running" (their words, runc's
        // message) as "already gone"; `kill --all` of a stopped one signals what is left
        // in its cgroup and succeeds, as runc's does.
        guard all || status(of: record) != .stopped else { throw IsorunError("container not running") }
        if all {
            for pid in processes(of: record) { Processes.signal(pid, signal) }
        } else {
            Processes.signal(record.pid, signal)
        }
    }

    /// Removes a container: kills what is left in its cgroup (only a stopped or created
    /// one unless `force`), removes the cgroup and the container's state.
    public func delete(_ record: ContainerRecord, force: Bool) throws(IsorunError) {
        let status = status(of: record)
        if [.running, .paused].contains(status) && !force {
            throw IsorunError("container '\(record.id)' is running: stop it first or use delete --force")
        }
        if status != .stopped { Processes.signal(record.pid, SIGKILL) }
        // Usually everything in the cgroup has ended by now (containerd deletes a container
        // whose process exited): its directories go at once. Otherwise (a process still
        // dying, a paused container) the cgroup is thawed, emptied and then removed.
        if !Cgroups.removeIfEmpty(record.cgroupDirectories), let cgroup = cgroup(of: record) {
            if cgroup.isFrozen { try? cgroup.setFrozen(false) }
            do { try cgroup.killAllAndDestroy() } catch { throw IsorunError(error) }
        }
        waitUntilEnded(record)
        if let hostMountRoot = record.hostMountRoot { MountTable.unmountAll(under: hostMountRoot) }
        // A VM's monitor killed by `delete --force` had no time to give back the interfaces
        // its VM took over (see GuestNetwork); its run record still lists them. Host network
        // devices then go back, while their namespace is still pinned.
        if record.mode == Mode.vm.rawValue || record.networkNamespacePin != nil {
            let run = try? RunRecord.load(from: RunState.recordPath(of: directory(of: record.id), inDirectory: record.hasStateDirectory))
            run?.releaseMirrors()
            run?.networkDeviceLoan?.giveBack()
        }
        do { try removeState(id: record.id, inDirectory: record.hasStateDirectory) } catch { throw IsorunError("delete \(record.id)", error) }
        LifecycleHooks.runWarningOnFailure(record.hooks?.poststop, phase: "poststop",
                                           state: ContainerState(record: record, status: .stopped))
    }

    /// The container's cgroup, while any of its directories exist.
    public func cgroup(of record: ContainerRecord) -> (any CgroupManager)? {
        let existing = record.cgroupDirectories.filter(Files.isDirectory)
        guard !existing.isEmpty, let layout = try? CgroupLayout.host() else { return nil }
        return Cgroups.restore(directories: existing, layout: layout)
    }
}

/// What `create` needs to write the record while the container's process sets itself
/// up, and the record once written. Used on the launching thread only: the launch calls
/// `whileSettingUp` synchronously.
private final class RecordedDuringSetup: @unchecked Sendable {
    let request: RunRequest
    let mode: Mode
    let state: RunState
    var record: ContainerRecord?

    init(request: RunRequest, mode: Mode, state: RunState) {
        self.request = request
        self.mode = mode
        self.state = state
    }
}
