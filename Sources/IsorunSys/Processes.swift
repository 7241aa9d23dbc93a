import CIsorunShim
import Glibc

/// How a child process ended, decoded from waitpid's status word.
public enum Termination: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)

    /// The shell convention isorun passes on: the exit code, or 128+N for signal N.
    public var shellStatus: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }

    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

/// Typed wrappers over the process calls the supervisor makes.
public enum Processes {
    /// Sends a signal; a process that is already gone is not an error.
    public static func signal(_ pid: pid_t, _ signal: Int32) {
        _ = kill(pid, signal)
    }

    public static func isAlive(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Blocks until `pid` ends and reaps it.
    public static func wait(_ pid: pid_t) throws(SystemError) -> Termination {
        var status: Int32 = 0
        let result = retryingOnInterrupt { waitpid(pid, &status, 0) }
        guard result == pid else { throw SystemError("waitpid", String(pid)) }
        return Termination(waitStatus: status)
    }

    /// Reaps `pid` if it has ended; nil while it runs.
    public static func reapIfExited(_ pid: pid_t) throws(SystemError) -> Termination? {
        var status: Int32 = 0
        let result = retryingOnInterrupt { waitpid(pid, &status, WNOHANG) }
        if result == 0 { return nil }
        guard result == pid else { throw SystemError("waitpid", String(pid)) }
        return Termination(waitStatus: status)
    }

    /// What became of a child process, found without reaping it.
    public enum ChildState: Sendable, Equatable {
        case running
        /// Ended, and its pid still reserved for us (a zombie) until it is reaped.
        case exited
        /// Not a child of ours, or already reaped: its pid may belong to anyone now.
        case notOurs
    }

    /// Looks at a child without reaping it (waitid with WNOWAIT). A caller that will
    /// still signal the child must not reap it first: once reaped, its pid (and process
    /// group id) can be handed to an unrelated process, here within seconds when the
    /// pid space is small and something forks hard.
    public static func peek(_ pid: pid_t) -> ChildState {
        var info = siginfo_t()
        let result = retryingOnInterrupt { waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) }
        guard result == 0 else { return .notOurs }
        return info._sifields._sigchld.si_pid == 0 ? .running : .exited
    }

    /// Reaps any children that have ended (orphans re-parented to a subreaper).
    public static func reapAnyExited() {
        var status: Int32 = 0
        while waitpid(-1, &status, WNOHANG) > 0 {}
    }

    /// Reaps children until there are none, for at most `milliseconds`: once a subreaper
    /// has killed what its workload left, the killed become its children one by one, as
    /// their own parents die, some after a single pass of `reapAnyExited` (left to init,
    /// such zombies linger here for up to a second, still owned by the workload's uid).
    public static func reapUntilNoChildren(withinMilliseconds milliseconds: UInt64) {
        let deadline = MonotonicClock.nanoseconds() + milliseconds * 1_000_000
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 { continue }
            if pid < 0 { if errno == EINTR { continue } else { return } }  // ECHILD: none left
            if MonotonicClock.nanoseconds() >= deadline { return }
            usleep(1_000)
        }
    }

    /// A pollable handle on a process, so a signal and an exit can be awaited together.
    public static func openPidFD(_ pid: pid_t) throws(SystemError) -> Int32 {
        let fd = isorun_pidfd_open(pid)
        guard fd >= 0 else { throw SystemError("pidfd_open", String(pid)) }
        return fd
    }

    /// The kernel's start time of a process (clock ticks since boot): with the pid it
    /// identifies a process even after the pid is reused.
    public static func startTime(of pid: pid_t) -> UInt64? {
        guard let stat = try? Files.readString("/proc/\(pid)/stat"),
              let closing = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: closing)...].split(separator: " ")
        // Field 22 of /proc/pid/stat; fields[0] here is field 3 (state).
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }

    /// The start time of `pid` while it has not exited (a zombie has), from one read of
    /// /proc/pid/stat: with a recorded start time it says "that process still runs".
    public static func runningStartTime(of pid: pid_t) -> UInt64? {
        guard let stat = try? Files.readString("/proc/\(pid)/stat"),
              let closing = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: closing)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }

    /// Every process in `pid`'s PID namespace (what a container without a cgroup holds),
    /// as this process sees them; empty unless that namespace is another than this
    /// process's own. Processes this one may not look into are left out.
    public static func sharingPidNamespace(with pid: pid_t) -> [pid_t] {
        func namespace(_ pid: String) -> String? { try? FileTree.linkTarget("/proc/\(pid)/ns/pid") }
        guard let target = namespace(String(pid)), target != namespace("self") else { return [] }
        return ((try? Files.list("/proc")) ?? []).compactMap { entry in
            guard let number = pid_t(entry), namespace(entry) == target else { return nil }
            return number
        }
    }

    /// Signal numbers the process catches (SigCgt in /proc/pid/status).
    public static func caughtSignals(of pid: pid_t) -> UInt64? {
        guard let status = try? Files.readString("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("SigCgt:") {
            return UInt64(line.dropFirst(7).trimmingCharacters(in: " \t"), radix: 16)
        }
        return nil
    }

    /// Makes this process the reaper of its orphaned descendants, so none escapes cleanup.
    public static func becomeSubreaper() {
        _ = isorun_become_subreaper()
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}

