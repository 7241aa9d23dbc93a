import Glibc
import IsorunCgroups
import IsorunSys

/// isorun's runtime state directory (default /run/isorun): one subdirectory per live
/// run, holding a record of what it created in a file the supervisor keeps locked for
/// its lifetime. A run whose lock is free was killed; the next run removes what it left.
public struct RuntimeRoot: Sendable {
    public let path: String

    public init(path: String = "/run/isorun") {
        self.path = path
    }

    /// Creates the state of a new run. Fails if `id` is taken by a live run.
    public func createRun(id: String, mode: Mode) throws(IsorunError) -> RunState {
        guard RuntimeRoot.isValidID(id) else {
            throw IsorunError("invalid id '\(id)': use letters, digits, '.', '_' and '-' (at most 128)")
        }
        do { try Files.makeDirectories(path, mode: 0o711) } catch { throw IsorunError("runtime root", error) }
        let directory = "\(path)/\(id)"
        if mkdir(directory, 0o700) != 0 {
            guard errno == EEXIST else { throw IsorunError("runtime root", SystemError("mkdir", directory)) }
            // Taken: either live (locked) or left behind by a killed run, which we reclaim.
            if !reclaimIfAbandoned(directory) { throw IsorunError("id '\(id)' is already in use under \(path)") }
            guard mkdir(directory, 0o700) == 0 else { throw IsorunError("runtime root", SystemError("mkdir", directory)) }
        }
        let lock: RuntimeLock
        do {
            // This run made the directory, so the only other holder can be a concurrent
            // run's sweep looking at the still empty record; it lets go at once (see
            // reclaimIfAbandoned). Up to 100 ms.
            let record = "\(directory)/\(RunState.recordFile)"
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
        let state = RunState(directory: directory, lock: lock, id: id, mode: mode)
        try state.save()
        return state
    }

    /// Removes what killed runs left behind: their processes, cgroups and state.
    /// Cheap when there is nothing to do (one readdir), so every run calls it.
    public func sweepLeftovers() {
        guard let entries = try? Files.list(path) else { return }
        for entry in entries { _ = reclaimIfAbandoned("\(path)/\(entry)") }
    }

    /// Cleans up `directory` if no live supervisor holds its lock; true if it is gone.
    @discardableResult
    func reclaimIfAbandoned(_ directory: String) -> Bool {
        // A container from `isorun create` outlives its creator on purpose; `delete` removes it.
        if Files.exists("\(directory)/\(ContainerStore.recordFile)") { return false }
        let lockPath = "\(directory)/\(RunState.recordFile)"
        let lock: RuntimeLock
        switch Result(catching: { () throws(SystemError) in try RuntimeLock.tryAcquire(lockPath, create: false) }) {
        case .success(let acquired?):
            lock = acquired
        case .success(nil):
            return false
        case .failure:
            // No lock file: the run died between mkdir and locking, or this is foreign.
            guard RuntimeRoot.isOlderThan(directory, seconds: 5) else { return false }
            return (try? Files.removeTree(directory)) != nil
        }
        // A run being created: its creator made the directory and the record but has not
        // locked and written it yet. Deleting it now would pull the directory from under
        // that run; only an old empty record is a leftover.
        if (try? Files.identity(of: lockPath).size) == 0, !RuntimeRoot.isOlderThan(directory, seconds: 5) {
            withExtendedLifetime(lock) {}
            return false
        }
        if let record = try? RunRecord.load(from: lockPath) {
            Log.info("cleaning up after killed run \(record.id) (\(record.mode))")
            record.cleanUp()
        }
        let removed = (try? Files.removeTree(directory)) != nil
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

/// One live run's state directory; removed when the run ends.
public final class RunState {
    /// The record of what the run created; also the file whose lock marks the run live.
    static let recordFile = "state"

    public let directory: String
    public let id: String
    public let mode: Mode
    private let lock: RuntimeLock
    private var record: RunRecord

    init(directory: String, lock: RuntimeLock, id: String, mode: Mode) {
        self.directory = directory
        self.lock = lock
        self.id = id
        self.mode = mode
        self.record = RunRecord(id: id, mode: mode.rawValue, cgroupDirectories: [], processes: [], hostMountRoot: nil)
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

    func save() throws(IsorunError) {
        do { try lock.replaceContents(record.serialized) } catch {
            throw IsorunError("runtime state", error)
        }
    }

    /// Removes the state directory (after the launcher cleaned up what it recorded).
    /// A run's directory holds only the record; a container's holds more.
    public func remove() {
        if unlink("\(directory)/\(Self.recordFile)") == 0, rmdir(directory) == 0 { return }
        try? Files.removeTree(directory)
    }
}

/// What a run created, in a line format that needs no parser library.
struct RunRecord {
    var id: String
    var mode: String
    var cgroupDirectories: [String]
    var processes: [(pid: pid_t, startTime: UInt64)]
    var hostMountRoot: String?

    var serialized: String {
        var lines = ["id=\(id)", "mode=\(mode)"]
        lines += cgroupDirectories.map { "cgroup=\($0)" }
        lines += processes.map { "process=\($0.pid) \($0.startTime)" }
        if let hostMountRoot { lines.append("mounts=\(hostMountRoot)") }
        // A plain loop: the generic joined(separator:) looks its element type up at run
        // time on first use (a scan of every conformance in the binary, ~0.15 ms).
        var text = ""
        for line in lines { text += line + "\n" }
        return text
    }

    static func load(from path: String) throws(SystemError) -> RunRecord {
        var record = RunRecord(id: "", mode: "", cgroupDirectories: [], processes: [], hostMountRoot: nil)
        for line in try Files.readString(path).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals], value = String(line[line.index(after: equals)...])
            switch key {
            case "id": record.id = value
            case "mode": record.mode = value
            case "cgroup": record.cgroupDirectories.append(value)
            case "mounts": record.hostMountRoot = value
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

    /// Kills recorded processes (only if the pid still names the same process) and cgroups.
    func cleanUp() {
        for (pid, start) in processes where Processes.startTime(of: pid) == start {
            Processes.signal(pid, SIGKILL)
        }
        if let hostMountRoot { MountTable.unmountAll(under: hostMountRoot) }
        guard !cgroupDirectories.isEmpty, let layout = try? CgroupLayout.host() else { return }
        let cgroup = Cgroups.restore(directories: cgroupDirectories.filter(Files.isDirectory), layout: layout)
        cgroup.killAll()
        try? cgroup.destroy()
    }
}
