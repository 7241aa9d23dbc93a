import CIsorunShim
import Glibc

/// A container's cgroup v1 directories and settings as steps, for the network namespace's
/// helper to carry out while the container's child sets up (the shim's cgroup_job.c,
/// whose header describes the bytes). The `tasks` files come last: the helper opens them
/// and the child joins through them.
public struct CgroupJob: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        /// mkdir; a directory that exists is fine.
        case makeDirectory(String)
        /// Each value written through one open of the file, in order.
        case write(String, [String])
        /// Opened for the child to write "0" into.
        case openTasks(String)
    }

    public let steps: [Step]
    /// The job as the helper reads it (encoded once: it is checked, then sent).
    public let bytes: [UInt8]

    public init(setup: [Step], tasks: [String]) {
        steps = setup.filter { if case .openTasks = $0 { false } else { true } } + tasks.map(Step.openTasks)
        bytes = Self.encode(steps)
    }

    private static func encode(_ steps: [Step]) -> [UInt8] {
        var bytes: [UInt8] = []
        for step in steps {
            let (kind, path, values): (Int, String, [String]) = switch step {
            case .makeDirectory(let path): (ISORUN_CGROUP_STEP_MKDIR, path, [])
            case .write(let path, let values): (ISORUN_CGROUP_STEP_WRITE, path, values)
            case .openTasks(let path): (ISORUN_CGROUP_STEP_OPEN_TASKS, path, [])
            }
            bytes.append(UInt8(kind))
            // More than a byte counts is refused by `fitsTheHelper`.
            bytes.append(UInt8(truncatingIfNeeded: values.count))
            for text in [path] + values {
                bytes.append(contentsOf: text.utf8)
                bytes.append(0)
            }
        }
        return bytes
    }

    /// What each step does, as an error names it ("mkdir /sys/fs/cgroup/pids/isorun/c1").
    public var descriptions: [String] {
        steps.map { step in
            switch step {
            case .makeDirectory(let path): "mkdir \(path)"
            case .write(let path, let values): values.count == 1 ? "write \(path) (\(values[0]))" : "write \(path)"
            case .openTasks(let path): "open \(path)"
            }
        }
    }

    /// False when the helper could not carry it out: more `tasks` files than it passes
    /// back or a longer job than isorun sends (the shim's ISORUN_CGROUP_JOB_*), more values
    /// than a step counts, or a NUL inside a path or value.
    public var fitsTheHelper: Bool {
        var tasks = 0
        for step in steps {
            switch step {
            case .makeDirectory(let path): if path.utf8.contains(0) { return false }
            case .write(let path, let values):
                if values.count > 255 || ([path] + values).contains(where: { $0.utf8.contains(0) }) { return false }
            case .openTasks(let path):
                tasks += 1
                if path.utf8.contains(0) { return false }
            }
        }
        return tasks <= Int(ISORUN_CGROUP_JOB_MAX_TASK_FILES) && bytes.count <= Int(ISORUN_CGROUP_JOB_MAX_BYTES)
    }
}

/// A `CgroupJob` sent to the network namespace's helper, for the child to collect
/// (`SpawnPlan.cgroupJob`).
public struct CgroupJobHandOff: Sendable {
    public var job: CgroupJob
    /// isorun's end of the helper's socket, which the helper answers on, and the helper.
    public var socket: Int32
    public var helper: pid_t
    /// The mount (index in `SpawnPlan.mounts`) before which the child joins its cgroups:
    /// the first that shows one; `mounts.count` for none.
    public var joinBeforeMount: Int

    public init(job: CgroupJob, socket: Int32, helper: pid_t, joinBeforeMount: Int) {
        self.job = job
        self.socket = socket
        self.helper = helper
        self.joinBeforeMount = joinBeforeMount
    }
}
