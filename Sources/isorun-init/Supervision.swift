import Glibc
import IsorunGuestProtocol

/// Runs the workload as PID 2 and reaps everything until it ends.
enum Supervision {
    /// The virtio ports the workload's standard streams go to (-1: /dev/null).
    struct Streams {
        var stdin: Int32
        var stdout: Int32
        var stderr: Int32
    }

    /// Returns the workload's status in shell form (128+N for signal N).
    static func run(_ spec: WorkloadSpec, streams: Streams, control: Int32, lines: LineBuffer) -> Int32 {
        guard !spec.arguments.isEmpty else { GuestInit.fail("no process arguments received") }
        // Prepared before fork: the child only makes system calls.
        let argv = CStrings(spec.arguments)
        let envp = CStrings(spec.environment)
        let candidates = CStrings(executableCandidates(spec.arguments[0], searchPath: spec.searchPath))
        var groups = spec.groups.map { gid_t($0) }

        let pid = fork()
        if pid == 0 {
            let null = open("/dev/null", O_RDWR)
            dup2(streams.stdin >= 0 ? streams.stdin : null, 0)
            dup2(streams.stdout >= 0 ? streams.stdout : null, 1)
            dup2(streams.stderr >= 0 ? streams.stderr : null, 2)
            _ = setsid()
            for limit in spec.limits {
                var value = rlimit(rlim_cur: rlim_t(limit.soft), rlim_max: rlim_t(limit.hard))
                _ = setrlimit(__rlimit_resource_t(UInt32(limit.resource)), &value)
            }
            _ = setgroups(groups.count, &groups)
            _ = setgid(spec.gid)
            _ = setuid(spec.uid)
            if chdir(spec.workingDirectory) != 0 { childFail(control, "chdir \(spec.workingDirectory)") }
            var firstError = ENOENT
            for case let candidate? in candidates.pointers {
                execve(candidate, argv.pointers, envp.pointers)
                if errno != ENOENT && errno != ENOTDIR && firstError == ENOENT { firstError = errno }
            }
            errno = firstError
            childFail(control, "exec \(spec.arguments[0])")
        }
        guard pid > 0 else { GuestInit.fail("fork: \(GuestInit.errnoText())") }
        return supervise(pid, control: control, lines: lines)
    }

    static func childFail(_ control: Int32, _ what: String) -> Never {
        GuestInit.control = control
        GuestInit.send(.error("\(what): \(GuestInit.errnoText())"))
        _exit(127)
    }

    /// Waits for the workload while reaping orphans and forwarding host signals.
    static func supervise(_ workload: pid_t, control: Int32, lines: LineBuffer) -> Int32 {
        var lines = lines
        var fds = [pollfd(fd: control, events: Int16(POLLIN), revents: 0)]
        while true {
            var status: Int32 = 0
            while true {
                let reaped = waitpid(-1, &status, WNOHANG)
                if reaped <= 0 { break }
                if reaped == workload {
                    let signal = status & 0x7f
                    let result = signal == 0 ? (status >> 8) & 0xff : 128 + signal
                    // The workload is gone: nothing it started may outlive it.
                    kill(-1, SIGKILL)
                    while waitpid(-1, nil, 0) > 0 {}
                    return result
                }
            }
            // Short waits keep exits prompt without a SIGCHLD handler in PID 1.
            if poll(&fds, 1, 5) > 0 {
                let bytes = GuestInit.readSome(control)
                for line in lines.append(bytes) {
                    if case .signal(let number)? = GuestMessage(line: line) { kill(workload, number) }
                }
            }
        }
    }

    static func executableCandidates(_ file: String, searchPath: String) -> [String] {
        if file.contains("/") { return [file] }
        return searchPath.split(separator: ":", omittingEmptySubsequences: false).map { dir in
            dir.isEmpty ? file : "\(dir)/\(file)"
        }
    }
}

/// A NULL-terminated C string array that lives as long as this object.
final class CStrings {
    let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit { pointers.forEach { free($0) } }
}
