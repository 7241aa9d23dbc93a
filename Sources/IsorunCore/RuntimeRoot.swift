import Glibc
import IsorunCgroups
import IsorunSys

/// isorun's runtime state directory (default /run/isorun, or rootless
/// `$XDG_RUNTIME_DIR/isorun`): one entry per live run,
/// holding a record of what it created in a file the supervisor keeps locked for its
/// lifetime. A run whose lock is free was killed; the next run removes what it left.
///
/// The entry `<root>/<id>` is the record itself for a run without a directory (bare and
/// sandbox runs and containers), or a directory holding the record as `state` beside the
/// run's FIFOs and sockets (VM runs and containers). Either way the name is taken
/// atomically, so an id is unique across both. A run without a directory may keep files
/// beside its record as `<id>+<name>` (see `RunState.companion`); only a container does.
public struct RuntimeRoot: Sendable {
    public let path: String

    public init(path: String = RuntimeRoot.defaultPath) {
        self.path = path
    }

    /// /run/isorun for root. A rootless isorun may not write there, so, as runc does, it
    /// keeps its state in the user's runtime directory: `$XDG_RUNTIME_DIR/isorun`, or
    /// `/run/user/<uid>/isorun` where the variable is unset.
    public static var defaultPath: String {
        guard HostProcess.isRootless else { return "/run/isorun" }
        if let directory = HostProcess.variable("XDG_RUNTIME_DIR"), directory.hasPrefix("/") { return directory + "/isorun" }
        return "/run/user/\(HostProcess.userID)/isorun"
    }

    /// Creates the state of a new run. Fails if `id` is taken by a live run.
    /// Without `withDirectory` the record is a plain file: on an ext4 /run (this
    /// project's CI host) making and removing a directory costs ~0.45 ms, mostly in the
    /// final close that evicts it; a file, ~0.02 ms.
    public func createRun(id: String, mode: Mode, withDirectory: Bool) throws(IsorunError) -> RunState {
        guard RuntimeRoot.isValidID(id) else {
            throw IsorunError("invalid id '\(id)': use letters, digits, '.', '_' and '-' (at most 128)")
        }
        do { try Files.makeDirectories(path, mode: 0o711) } catch { throw IsorunError("runtime root", error) }
        let entry = "\(path)/\(id)"
        if !Self.claim(entry, directory: withDirectory) {
            guard errno == EEXIST else {
                throw IsorunError("runtime root", SystemError(withDirectory ? "mkdir" : "open", entry))
            }
            // Taken: either live (locked) or left behind by a killed run, which we reclaim.
            if !reclaimIfAbandoned(entry) { throw IsorunError("id '\(id)' is already in use under \(path)") }
            guard Self.claim(entry, directory: withDirectory) else {
                throw IsorunError("runtime root", SystemError(withDirectory ? "mkdir" : "open", entry))
            }
        }
        let lock: RuntimeLock
        do {
            // This run made the entry, so the only other holder can be a concurrent
            // run's sweep looking at the still empty record; it lets go at once (see
            // reclaimIfAbandoned). Up to 100 ms.
            let record = RunState.recordPath(of: entry, inDirectory: withDirectory)
            var acquired = try RuntimeLock.tryAcquire(record, create: true)
            for _ in 0..<200 where acquired == nil {
                usleep(500)
                acquired = try RuntimeLock.tryAcquire(record, create: true)
            }
            guard let acquired else { throw IsorunError("id '\(id)' is already in use under \(path)") }
            lock = acquired
        } catch let error as SystemError {
            throw IsorunError("runtime root", error)
        } catch {
            throw error as! IsorunError
        }
        let state = RunState(path: entry, hasDirectory: withDirectory, lock: lock, id: id, mode: mode)
        try state.save()
        return state
    }

    /// Makes `entry` as a directory or an empty file, failing (errno EEXIST) if it exists.
    private static func claim(_ entry: String, directory: Bool) -> Bool {
        if directory { return mkdir(entry, 0o700) == 0 }
        let fd = retryingOnInterrupt { open(entry, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// Removes what killed runs left behind: their processes, cgroups and state.
    /// Cheap when there is nothing to do (one readdir), so every run calls it.
    public func sweepLeftovers() {
        guard let entries = try? Files.list(path) else { return }
        // Not an id: a file beside a container's record, which goes with the record.
        for entry in entries where Self.isValidID(entry) { _ = reclaimIfAbandoned("\(path)/\(entry)") }
    }

    /// Cleans up the run at `entry` if no live supervisor holds its lock; true if it is gone.
    @discardableResult
    func reclaimIfAbandoned(_ entry: String) -> Bool {
        var info = stat()
        guard lstat(entry, &info) == 0 else { return errno == ENOENT }
        let isDirectory = (info.st_mode & S_IFMT) == S_IFDIR
        // Not a record: the FIFO a VM `create` waits on (`.<id>.ready`).
        guard isDirectory || (info.st_mode & S_IFMT) == S_IFREG else { return false }
        // A container from `isorun create` outlives its creator on purpose; `delete` removes it.
        let containerRecord = ContainerStore.file(ContainerStore.recordFile, of: entry, inDirectory: isDirectory)
        if Files.exists(containerRecord) { return false }
        let lockPath = RunState.recordPath(of: entry, inDirectory: isDirectory)
        let lock: RuntimeLock
        switch Result(catching: { () throws(SystemError) in try RuntimeLock.tryAcquire(lockPath, create: false) }) {
        case .success(let acquired?):
            lock = acquired
        case .success(nil):
            return false
        case .failure:
            // No lock file: the run died between mkdir and locking, or this is foreign.
            guard isDirectory, RuntimeRoot.isOlderThan(entry, seconds: 5) else { return false }
            return (try? Files.removeTree(entry)) != nil
        }
        // Looked at again under the lock: a `create` that wrote its container's record and
        // exited between the first look and the lock has made a container, not a leftover.
        if Files.exists(containerRecord) {
            withExtendedLifetime(lock) {}
            return false
        }
        // A run being created: its creator made the entry but has not locked and written
        // its record yet. Deleting it now would pull it from under that run; only an old
        // empty record is a leftover.
        if (try? Files.identity(of: lockPath).size) == 0, !RuntimeRoot.isOlderThan(entry, seconds: 5) {
            withExtendedLifetime(lock) {}
            return false
        }
        if let record = try? RunRecord.load(from: lockPath) {
            Log.info("cleaning up after killed run \(record.id) (\(record.mode))")
            record.cleanUp()
        }
        // A `create` killed before it wrote the container's record may have left its gate.
        if !isDirectory { for file in ContainerStore.files { try? Files.remove(ContainerStore.file(file, of: entry, inDirectory: false)) } }
        let removed = isDirectory ? (try? Files.removeTree(entry)) != nil : unlink(entry) == 0
        withExtendedLifetime(lock) {}
        return removed
    }

    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 128 && id != "." && id != ".."
            && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x2e || $0 == 0x5f }
    }

    static func isOlderThan(_ path: String, seconds: Int) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else { return false }
        return time(nil) - info.st_mtim.tv_sec > seconds
    }
}

/// One live run's state: its locked record, and for some launchers a directory around
/// it; removed when the run ends.
public final class RunState {
    /// The record's name inside a run's directory.
    static let recordFile = "state"

    /// A file a run without a directory keeps beside its record `entry`. '+' is not
    /// allowed in an id, so the name is no other run's entry.
    static func companion(_ name: String, of entry: String) -> String { "\(entry)+\(name)" }

    /// The locked record of the run at `entry`: the entry itself, or `state` in it.
    static func recordPath(of entry: String, inDirectory: Bool) -> String {
        inDirectory ? "\(entry)/\(recordFile)" : entry
    }

    /// `<root>/<id>`: the run's directory, or its record when it has none.
    let path: String
    let hasDirectory: Bool
    public let id: String
    public let mode: Mode
    private let lock: RuntimeLock
    private var record: RunRecord

    init(path: String, hasDirectory: Bool, lock: RuntimeLock, id: String, mode: Mode) {
        self.path = path
        self.hasDirectory = hasDirectory
        self.lock = lock
        self.id = id
        self.mode = mode
        self.record = RunRecord(id: id, mode: mode.rawValue, cgroupDirectories: [], processes: [], hostMountRoot: nil, mirrors: [])
    }

    /// Where the run keeps its FIFOs and sockets; only for a run created `withDirectory`.
    public var directory: String {
        precondition(hasDirectory, "run \(id) was created without a state directory")
        return path
    }

    /// A container without a mount namespace mounts under its rootfs on the host.
    public var hostMountRoot: String? { record.hostMountRoot }

    /// Records, before any is made, that mounts under `path` belong to this run.
    public func recordHostMounts(under path: String) throws(IsorunError) {
        record.hostMountRoot = path
        try save()
    }

    /// The cgroup directories recorded so far.
    public var cgroupDirectories: [String] { record.cgroupDirectories }

    /// Records cgroup directories before they are created.
    public func recordCgroup(directories: [String]) throws(IsorunError) {
        record.cgroupDirectories = directories
        try save()
    }

    /// Records a process (e.g. a VMM) that must be killed if the supervisor dies.
    public func recordProcess(_ pid: pid_t) throws(IsorunError) {
        if let start = Processes.startTime(of: pid) { record.processes.append((pid, start)) }
        try save()
    }

    /// Records, before it is made, a redirect between a network namespace's interface and a
    /// VM's tap, which outlives the VM unless removed (see NetworkMirror).
    public func recordMirror(interface: String, namespacePath: String) throws(IsorunError) {
        record.mirrors.append((interface, namespacePath))
        try save()
    }

    /// Takes back a mirror recorded but not made (its interface was taken: undoing it
    /// after a crash would remove another VM's).
    public func forgetMirror(interface: String, namespacePath: String) {
        record.mirrors.removeAll { $0.interface == interface && $0.namespacePath == namespacePath }
        try? save()
    }

    /// A file of this run's beside its record (`<entry>+<name>`), or in its directory.
    public func companionPath(_ name: String) -> String {
        hasDirectory ? "\(path)/\(name)" : Self.companion(name, of: path)
    }

    /// Records, before it is made, the bind mount that keeps a container's network
    /// namespace alive while it holds lent devices (see NetworkDeviceLoan).
    public func recordNetworkNamespacePin(_ pinPath: String) throws(IsorunError) {
        record.networkNamespacePin = pinPath
        try save()
    }

    /// Takes back the pin and the devices once everything lent is back.
    public func forgetNetworkNamespacePin() {
        record.networkNamespacePin = nil
        record.lentDevices = []
        try? save()
    }

    /// The pinned namespace, if this run lends devices.
    public var networkNamespacePin: String? { record.networkNamespacePin }

    /// Records the devices lent so far, the next one before it moves into the container.
    public func recordLent(_ devices: [LentNetworkDevice]) throws(IsorunError) {
        record.lentDevices = devices
        try save()
    }

    func save() throws(IsorunError) {
        do { try lock.replaceContents(record.serialized) } catch {
            throw IsorunError("runtime state", error)
        }
    }

    /// Undoes whatever the record still lists: the safety net of a launch that failed
    /// half-way, in case the launcher's own cleanup missed something (cheap when it did not).
    public func undoRecorded() {
        record.cleanUp()
    }

    /// Removes the run's state (after the launcher cleaned up what it recorded).
    public func remove() {
        guard hasDirectory else {
            unlink(path)
            return
        }
        if unlink("\(path)/\(Self.recordFile)") == 0, rmdir(path) == 0 { return }
        try? Files.removeTree(path)
    }
}

/// What a run created, in a line format that needs no parser library.
struct RunRecord {
    var id: String
    var mode: String
    var cgroupDirectories: [String]
    var processes: [(pid: pid_t, startTime: UInt64)]
    var hostMountRoot: String?
    /// Interfaces of network namespaces that redirect to a VM's tap.
    var mirrors: [(interface: String, namespacePath: String)]
    /// The bind mount that keeps a container's network namespace while it has lent devices.
    var networkNamespacePin: String? = nil
    var lentDevices: [LentNetworkDevice] = []

    var serialized: String {
        var lines = ["id=\(id)", "mode=\(mode)"]
        lines += cgroupDirectories.map { "cgroup=\($0)" }
        lines += processes.map { "process=\($0.pid) \($0.startTime)" }
        if let hostMountRoot { lines.append("mounts=\(hostMountRoot)") }
        lines += mirrors.map { "mirror=\($0.interface) \($0.namespacePath)" }
        if let networkNamespacePin { lines.append("netns=\(networkNamespacePin)") }
        lines += lentDevices.map { "netdev=\($0.recordValue)" }
        return lines.joinedWithoutLookup(separator: "\n") + "\n"
    }

    static func load(from path: String) throws(SystemError) -> RunRecord {
        var record = RunRecord(id: "", mode: "", cgroupDirectories: [], processes: [], hostMountRoot: nil, mirrors: [])
        for line in try Files.readString(path).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals], value = String(line[line.index(after: equals)...])
            switch key {
            case "id": record.id = value
            case "mode": record.mode = value
            case "cgroup": record.cgroupDirectories.append(value)
            case "mounts": record.hostMountRoot = value
            case "netns": record.networkNamespacePin = value
            case "netdev": if let device = LentNetworkDevice(recordValue: value) { record.lentDevices.append(device) }
            case "mirror":
                // An interface name has no spaces; the path after it may.
                if let space = value.firstIndex(of: " ") {
                    record.mirrors.append((String(value[..<space]), String(value[value.index(after: space)...])))
                }
            case "process":
                let parts = value.split(separator: " ")
                if parts.count == 2, let pid = pid_t(parts[0]), let start = UInt64(parts[1]) {
                    record.processes.append((pid, start))
                }
            default: continue
            }
        }
        return record
    }

    /// Removes the redirects of the interfaces a VM took over that its run did not give back.
    func releaseMirrors() {
        for mirror in mirrors { NetworkMirror.unmirror(interface: mirror.interface, namespacePath: mirror.namespacePath) }
    }

    /// The devices a container holds and their pinned namespace, when it lends any.
    var networkDeviceLoan: NetworkDeviceLoan? {
        networkNamespacePin.map { NetworkDeviceLoan(pinPath: $0, devices: lentDevices) }
    }

    /// Kills recorded processes (only if the pid still names the same process) and cgroups,
    /// and gives lent network devices back.
    func cleanUp() {
        for (pid, start) in processes where Processes.startTime(of: pid) == start {
            Processes.signal(pid, SIGKILL)
        }
        if let hostMountRoot { MountTable.unmountAll(under: hostMountRoot) }
        releaseMirrors()
        networkDeviceLoan?.giveBack()
        guard !cgroupDirectories.isEmpty, let layout = try? CgroupLayout.host() else { return }
        let cgroup = Cgroups.restore(directories: cgroupDirectories.filter(Files.isDirectory), layout: layout)
        try? cgroup.killAllAndDestroy()
    }
}
