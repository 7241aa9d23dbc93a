import CIsorunInit

/// Runs the workload (started by the C shim with vfork) and reaps everything until it ends.
enum Supervision {
    /// The virtio ports the workload's standard streams go to (-1: /dev/null).
    struct Streams {
        var stdin: Int32
        var stdout: Int32
        var stderr: Int32
    }

    /// The workload's pseudo-terminal and the ports that carry it: what arrives on `input`
    /// is typed into `master`, what the terminal shows goes out on `output`.
    struct Terminal {
        var master: Int32
        var replica: Int32
        var input: Int32
        var output: Int32
    }

    /// Returns the workload's status in shell form (128+N for signal N).
    static func run(_ spec: WorkloadSpec, streams: Streams, terminal: Terminal?, typed: Int32, control: Int32,
                    lines: LineBuffer) -> Int32 {
        guard !spec.arguments.isEmpty else { GuestInit.fail("no process arguments received") }
        let paths = executableCandidates(spec.arguments[0], searchPath: spec.searchPath)
        let pid: pid_t
        switch spawn(spec.arguments, environment: spec.environment, candidates: paths, as: spec, streams: streams, hook: nil) {
        case .success(let started): pid = started
        case .failure(let failure): GuestInit.fail(failure.text)
        }
        // spawn returns once the process has exec'd; a container's `start` waits for this.
        GuestInit.send(.started)
        // Only the workload's side may hold the terminal: its end is the master's end of file.
        if let terminal { close(terminal.replica) }
        // Likewise the read end of typed input: the process's end of file is init's close.
        if typed >= 0 { close(streams.stdin) }
        return supervise(pid, spec: spec, terminal: terminal, typed: typed, control: control, lines: lines)
    }

    /// The startContainer hooks, in order, each as the workload will be (its user,
    /// directory, capabilities, filter, output) with the state on stdin. The first that
    /// fails, or outlives its timeout, fails the run (config.md).
    static func runStartContainerHooks(_ spec: WorkloadSpec, streams: Streams) {
        for hook in spec.startContainerHooks {
            let what = "startContainer hook \(hook.path)"
            let bytes = Array(spec.hookState.utf8)
            let state = bytes.withUnsafeBytes { isorun_guest_memory_file($0.baseAddress, $0.count) }
            guard state >= 0 else { GuestInit.fail("\(what): state for stdin: \(GuestInit.errnoText())") }
            defer { close(state) }
            var hookStreams = streams
            hookStreams.stdin = state
            let pid: pid_t
            switch spawn(hook.arguments.isEmpty ? [hook.path] : hook.arguments, environment: hook.environment,
                         candidates: [hook.path], as: spec, streams: hookStreams, hook: what) {
            case .success(let started): pid = started
            case .failure(let failure): GuestInit.fail(failure.text)
            }
            let deadline = hook.timeoutSeconds > 0 ? time(nil) + hook.timeoutSeconds : Int.max
            var status: Int32 = 0
            while waitpid(pid, &status, WNOHANG) == 0 {
                if time(nil) > deadline {
                    kill(pid, SIGKILL)
                    waitpid(pid, nil, 0)
                    GuestInit.fail("\(what): timed out after \(hook.timeoutSeconds) s")
                }
                usleep(1_000)
            }
            if status & 0x7f != 0 { GuestInit.fail("\(what): killed by signal \(status & 0x7f)") }
            if (status >> 8) & 0xff != 0 { GuestInit.fail("\(what): exited with status \((status >> 8) & 0xff)") }
        }
    }

    /// Starts `arguments` (the first of `candidates` that executes) with the workload's
    /// credentials and limits; a failure names the step that failed (and the hook, for a hook).
    static func spawn(_ arguments: [String], environment: [String], candidates paths: [String], as spec: WorkloadSpec,
                      streams: Streams, hook: String?) -> Result<pid_t, SpawnFailure> {
        let argv = CStrings(arguments)
        let envp = CStrings(environment)
        let candidates = CStrings(paths)
        let groups = spec.groups.map { gid_t($0) }
        let resources = spec.limits.map { Int32($0.resource) }
        let limits = spec.limits.map { rlimit(rlim_cur: rlim_t($0.soft), rlim_max: rlim_t($0.hard)) }
        var step: Int32 = 0, error: Int32 = 0
        let caps = spec.capabilities ?? (0, 0, 0, 0, 0)
        let scheduler = spec.scheduler ?? (0, 0, 0, 0, 0, 0, 0)
        let oomScore = CStrings(spec.oomScoreAdjustment.map { [String($0)] } ?? [])
        let pid = spec.workingDirectory.withCString { cwd in
            groups.withUnsafeBufferPointer { groups in
                resources.withUnsafeBufferPointer { resources in
                    limits.withUnsafeBufferPointer { limits in
                        spec.seccompProgram.withUnsafeBytes { seccomp in
                            var process = isorun_guest_process(
                                argv: argv.pointers, envp: envp.pointers, candidates: candidates.pointers,
                                candidate_count: Int32(paths.count), cwd: cwd, uid: spec.uid, gid: spec.gid,
                                groups: groups.baseAddress, group_count: Int32(groups.count),
                                rlimit_resources: resources.baseAddress, rlimits: limits.baseAddress,
                                rlimit_count: Int32(limits.count), stdin_fd: streams.stdin, stdout_fd: streams.stdout,
                                stderr_fd: streams.stderr, set_caps: spec.capabilities == nil ? 0 : 1,
                                cap_effective: caps.0, cap_permitted: caps.1, cap_inheritable: caps.2,
                                cap_bounding: caps.3, cap_ambient: caps.4, no_new_privs: spec.noNewPrivileges ? 1 : 0,
                                seccomp_program: seccomp.isEmpty ? nil : seccomp.baseAddress,
                                seccomp_instruction_count: Int32(seccomp.count / 8), seccomp_flags: spec.seccompFlags,
                                set_scheduler: spec.scheduler == nil ? 0 : 1, sched_policy: scheduler.0, sched_flags: scheduler.1,
                                sched_nice: scheduler.2, sched_priority: scheduler.3, sched_runtime: scheduler.4,
                                sched_deadline: scheduler.5, sched_period: scheduler.6, io_priority: spec.ioPriority ?? -1,
                                oom_score_adj: oomScore.pointers[0], umask: spec.umask.map { Int32($0) } ?? -1)
                            return isorun_guest_spawn(&process, &step, &error)
                        }
                    }
                }
            }
        }
        guard pid <= 0 else { return .success(pid) }
        let reason = String(cString: strerror(error))
        let what = hook.map { "\($0): " } ?? ""
        let text = switch UInt32(step) {
        case ISORUN_GUEST_STEP_CREDENTIALS.rawValue: "\(what)set user \(spec.uid):\(spec.gid): \(reason)"
        case ISORUN_GUEST_STEP_CHDIR.rawValue: "\(what)chdir \(spec.workingDirectory): \(reason)"
        case ISORUN_GUEST_STEP_CAPABILITIES.rawValue: "\(what)set capabilities: \(reason)"
        case ISORUN_GUEST_STEP_NO_NEW_PRIVS.rawValue: "\(what)set no_new_privs: \(reason)"
        case ISORUN_GUEST_STEP_SECCOMP.rawValue: "\(what)load seccomp filter: \(reason)"
        case ISORUN_GUEST_STEP_SCHEDULER.rawValue: "\(what)process.scheduler: sched_setattr: \(reason)"
        case ISORUN_GUEST_STEP_IO_PRIORITY.rawValue: "\(what)process.ioPriority: ioprio_set: \(reason)"
        case ISORUN_GUEST_STEP_OOM_SCORE.rawValue: "\(what)process.oomScoreAdj: write /proc/self/oom_score_adj: \(reason)"
        default: (hook.map { "\($0): exec: " } ?? "exec \(arguments[0]): ") + reason
        }
        return .failure(SpawnFailure(text: text))
    }

    struct SpawnFailure: Error {
        let text: String
    }

    /// Waits for the workload while reaping orphans, forwarding host signals and serving
    /// `isorun exec` (more processes, started as the workload was).
    ///
    /// A pidfd wakes init the moment the workload exits; orphans (re-parented to PID 1)
    /// are reaped on every wake-up and at least every 100 ms.
    static func supervise(_ workload: pid_t, spec: WorkloadSpec, terminal: Terminal?, typed: Int32, control: Int32,
                          lines: LineBuffer) -> Int32 {
        var lines = lines
        var typed = typed
        var execs = ExecSessions(base: spec)
        var typing = terminal.map { $0.input }.flatMap { $0 >= 0 ? $0 : nil }
        var showing = terminal?.master
        let workloadFD = isorun_guest_pidfd_open(workload)
        // Without pidfds (an older guest kernel), poll briefly instead.
        let timeout: Int32 = workloadFD >= 0 ? 100 : 5
        var handedOver = false
        while true {
            var status: Int32 = 0
            while true {
                let reaped = waitpid(-1, &status, WNOHANG)
                if reaped <= 0 { break }
                if reaped == workload {
                    let result = shellStatus(status)
                    // The workload is gone: nothing it started may outlive it.
                    kill(-1, SIGKILL)
                    while waitpid(-1, nil, 0) > 0 {}
                    if workloadFD >= 0 { close(workloadFD) }
                    // What the terminal still holds, now that no one else has it open.
                    if let terminal, showing != nil {
                        while case let bytes = GuestInit.readSome(terminal.master), !bytes.isEmpty {
                            _ = GuestInit.writeAll(terminal.output, bytes)
                        }
                    }
                    return result
                }
                execs.reaped(reaped, status: status)
            }
            var fds = [pollfd(fd: control, events: Int16(POLLIN), revents: 0)]
            if workloadFD >= 0 { fds.append(pollfd(fd: workloadFD, events: Int16(POLLIN), revents: 0)) }
            let streams = [typing, showing].compactMap { $0 }
            fds += streams.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let outputs = execs.outputDescriptors
            fds += outputs.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            // The first time round goes on without waiting: messages that came before the
            // process was started wait in `lines` (see GuestInit.run).
            let ready = poll(&fds, nfds_t(fds.count), handedOver ? timeout : 0)
            guard ready > 0 || !handedOver else { continue }
            if fds[0].revents != 0 || !handedOver {
                handedOver = true
                for line in lines.append(fds[0].revents != 0 ? GuestInit.readSome(control) : []) {
                    guard let message = GuestMessage(line: line) else { continue }
                    switch message {
                    case .signal(let number): kill(workload, number)
                    // A process that does not read its stdin must not stall init (the pipe
                    // is non-blocking): what a full pipe would not take is dropped; a
                    // process that closed its end gets no more.
                    case .input(let bytes) where typed >= 0:
                        let written = bytes.withUnsafeBytes { write(typed, $0.baseAddress, $0.count) }
                        if written < 0 && isorun_guest_errno() != EAGAIN && isorun_guest_errno() != EINTR {
                            close(typed)
                            typed = -1
                        }
                    case .inputEnd where typed >= 0:
                        close(typed)
                        typed = -1
                    case .terminal(let rows, let columns):
                        if let terminal { isorun_guest_set_window_size(terminal.master, rows, columns) }
                    default: execs.handle(message)
                    }
                }
            }
            if let terminal {
                for entry in fds where entry.revents != 0 && streams.contains(entry.fd) {
                    let bytes = GuestInit.readSome(entry.fd)
                    if entry.fd == terminal.master {
                        if bytes.isEmpty || !GuestInit.writeAll(terminal.output, bytes) { showing = nil }
                    } else if bytes.isEmpty || !GuestInit.writeAll(terminal.master, bytes) {
                        typing = nil
                    }
                }
            }
            for entry in fds.suffix(outputs.count) where entry.revents != 0 { execs.pump(entry.fd) }
        }
    }

    /// A wait status in shell form: the exit code, or 128+N for signal N.
    static func shellStatus(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    static func executableCandidates(_ file: String, searchPath: String) -> [String] {
        if file.contains("/") { return [file] }
        return searchPath.split(separator: ":", omittingEmptySubsequences: false).map { dir in
            dir.isEmpty ? file : "\(dir)/\(file)"
        }
    }
}

/// A NULL-terminated C string array that lives as long as this object. The array itself is
/// allocated here too: a Swift array passed where C keeps the pointer (a struct field) would
/// only be a temporary buffer, valid for the one call that makes the struct.
final class CStrings {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let count: Int

    init(_ strings: [String]) {
        count = strings.count + 1
        pointers = .allocate(capacity: count)
        pointers.initialize(from: strings.map { strdup($0) } + [nil], count: count)
    }

    deinit {
        for index in 0..<count { free(pointers[index]) }
        pointers.deallocate()
    }
}
