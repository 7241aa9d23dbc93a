import CIsorunInit
import Glibc
import IsorunGuestProtocol

/// Runs the workload (started by the C shim with vfork) and reaps everything until it ends.
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
        let argv = CStrings(spec.arguments)
        let envp = CStrings(spec.environment)
        let paths = executableCandidates(spec.arguments[0], searchPath: spec.searchPath)
        let candidates = CStrings(paths)
        let groups = spec.groups.map { gid_t($0) }
        let resources = spec.limits.map { Int32($0.resource) }
        let limits = spec.limits.map { rlimit(rlim_cur: rlim_t($0.soft), rlim_max: rlim_t($0.hard)) }
        var step: Int32 = 0, error: Int32 = 0
        let caps = spec.capabilities ?? (0, 0, 0, 0, 0)
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
                                seccomp_instruction_count: Int32(seccomp.count / 8))
                            return isorun_guest_spawn(&process, &step, &error)
                        }
                    }
                }
            }
        }
        guard pid > 0 else {
            errno = error
            switch UInt32(step) {
            case ISORUN_GUEST_STEP_CREDENTIALS.rawValue:
                GuestInit.fail("set user \(spec.uid):\(spec.gid): \(GuestInit.errnoText())")
            case ISORUN_GUEST_STEP_CHDIR.rawValue:
                GuestInit.fail("chdir \(spec.workingDirectory): \(GuestInit.errnoText())")
            case ISORUN_GUEST_STEP_CAPABILITIES.rawValue:
                GuestInit.fail("set capabilities: \(GuestInit.errnoText())")
            case ISORUN_GUEST_STEP_NO_NEW_PRIVS.rawValue:
                GuestInit.fail("set no_new_privs: \(GuestInit.errnoText())")
            case ISORUN_GUEST_STEP_SECCOMP.rawValue:
                GuestInit.fail("load seccomp filter: \(GuestInit.errnoText())")
            default:
                GuestInit.fail("exec \(spec.arguments[0]): \(GuestInit.errnoText())")
            }
        }
        return supervise(pid, control: control, lines: lines)
    }

    /// Waits for the workload while reaping orphans and forwarding host signals.
    ///
    /// A pidfd wakes init the moment the workload exits; orphans (re-parented to PID 1)
    /// are reaped on every wake-up and at least every 100 ms.
    static func supervise(_ workload: pid_t, control: Int32, lines: LineBuffer) -> Int32 {
        var lines = lines
        let workloadFD = isorun_guest_pidfd_open(workload)
        var fds = [pollfd(fd: control, events: Int16(POLLIN), revents: 0)]
        if workloadFD >= 0 { fds.append(pollfd(fd: workloadFD, events: Int16(POLLIN), revents: 0)) }
        // Without pidfds (an older guest kernel), poll briefly instead.
        let timeout: Int32 = workloadFD >= 0 ? 100 : 5
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
                    if workloadFD >= 0 { close(workloadFD) }
                    return result
                }
            }
            if poll(&fds, nfds_t(fds.count), timeout) > 0, fds[0].revents != 0 {
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
