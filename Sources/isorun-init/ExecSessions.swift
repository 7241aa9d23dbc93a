import CIsorunInit

/// The processes `isorun exec` runs in the guest beside the workload, by the host's
/// number for each. Each is described by a few messages, then started as the workload
/// was (its capabilities, seccomp filter and limits; its own arguments, environment,
/// directory and user), with pipes for its standard streams; its output goes back to the
/// host as `x-out`, and `x-exit` follows once the process has ended and its output is sent.
struct ExecSessions {
    private struct Session {
        var pid: pid_t
        /// Where its input goes: the write end of its stdin pipe, or its terminal's master.
        var input: Int32
        /// With a terminal, `input` is also its one output: closed only at its end of file.
        var master: Int32?
        /// Read ends of its stdout (stream 1) and stderr (stream 2) still open.
        var outputs: [(descriptor: Int32, stream: Int32)]
        var status: Int32?
    }

    private let base: WorkloadSpec
    private var described: [Int: WorkloadSpec] = [:]
    private var terminals: [Int: (rows: UInt16, columns: UInt16)] = [:]
    private var sessions: [Int: Session] = [:]

    init(base: WorkloadSpec) { self.base = base }

    var outputDescriptors: [Int32] { sessions.values.flatMap { $0.outputs.map { $0.descriptor } } }

    mutating func handle(_ message: GuestMessage) {
        guard let id = message.execID else { return }
        switch message {
        case .execArgument(_, let value): describe(id) { $0.arguments.append(value) }
        case .execEnvironment(_, let value): describe(id) { $0.environment.append(value) }
        case .execWorkingDirectory(_, let value): describe(id) { $0.workingDirectory = value }
        case .execUser(_, let uid, let gid): describe(id) { ($0.uid, $0.gid, $0.groups) = (uid, gid, []) }
        case .execTerminal(_, let rows, let columns):
            if let master = sessions[id]?.master {
                isorun_guest_set_window_size(master, rows, columns)
            } else if sessions[id] == nil {
                terminals[id] = (rows, columns)
            }
        case .execStart: start(id)
        case .execInput(_, let bytes):
            guard let input = sessions[id]?.input, input >= 0 else { return }
            if !GuestInit.writeAll(input, bytes) { closeInput(id) }
        case .execInputEnd: closeInput(id)
        case .execSignal(_, let number):
            if let pid = sessions[id]?.pid {
                kill(pid, number)
            } else {
                // Its client went away before starting it: forget the description.
                described[id] = nil
                terminals[id] = nil
            }
        default: break
        }
    }

    /// Copies what one process wrote to the host; at end of file the pipe is closed.
    mutating func pump(_ descriptor: Int32) {
        guard let (id, session) = sessions.first(where: { $0.value.outputs.contains { $0.descriptor == descriptor } }),
              let stream = session.outputs.first(where: { $0.descriptor == descriptor })?.stream else { return }
        let bytes = GuestInit.readSome(descriptor)
        if bytes.isEmpty {
            close(descriptor)
            sessions[id]?.outputs.removeAll { $0.descriptor == descriptor }
            if session.master == descriptor { sessions[id]?.input = -1 }
            finishIfDone(id)
        } else {
            GuestInit.send(.execOutput(id: id, stream: stream, bytes))
        }
    }

    /// A reaped child: if it is one of these processes, its status is kept until its output is sent.
    mutating func reaped(_ pid: pid_t, status: Int32) {
        guard let id = sessions.first(where: { $0.value.pid == pid })?.key else { return }
        sessions[id]?.status = Supervision.shellStatus(status)
        closeInput(id)
        finishIfDone(id)
    }

    private mutating func describe(_ id: Int, _ change: (inout WorkloadSpec) -> Void) {
        guard sessions[id] == nil else { return }
        var spec = described[id] ?? Self.fresh(from: base)
        change(&spec)
        described[id] = spec
    }

    /// The workload's privileges and limits, none of its process.
    private static func fresh(from base: WorkloadSpec) -> WorkloadSpec {
        var spec = base
        spec.arguments = []
        spec.environment = []
        spec.workingDirectory = "/"
        return spec
    }

    private mutating func start(_ id: Int) {
        guard let spec = described.removeValue(forKey: id), !spec.arguments.isEmpty, sessions[id] == nil else {
            GuestInit.send(.execError(id: id, "exec: no command, or the number is in use"))
            return
        }
        if let size = terminals.removeValue(forKey: id) {
            startWithTerminal(id, spec: spec, size: size)
            return
        }
        var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
        guard isorun_guest_pipe(&input) == 0, isorun_guest_pipe(&output) == 0, isorun_guest_pipe(&errors) == 0 else {
            GuestInit.send(.execError(id: id, "exec: pipe: \(GuestInit.errnoText())"))
            for fd in input + output + errors where fd >= 0 { close(fd) }
            return
        }
        let streams = Supervision.Streams(stdin: input[0], stdout: output[1], stderr: errors[1])
        let paths = Supervision.executableCandidates(spec.arguments[0], searchPath: spec.searchPath)
        let started = Supervision.spawn(spec.arguments, environment: spec.environment, candidates: paths, as: spec,
                                        streams: streams, hook: nil)
        close(input[0])
        close(output[1])
        close(errors[1])
        switch started {
        case .success(let pid):
            sessions[id] = Session(pid: pid, input: input[1], master: nil, outputs: [(output[0], 1), (errors[0], 2)], status: nil)
        case .failure(let failure):
            for fd in [input[1], output[0], errors[0]] { close(fd) }
            GuestInit.send(.execError(id: id, failure.text))
        }
    }

    /// `start` for a process with a terminal: its master carries both directions.
    private mutating func startWithTerminal(_ id: Int, spec: WorkloadSpec, size: (rows: UInt16, columns: UInt16)) {
        var replica: Int32 = -1
        let master = isorun_guest_open_pty(size.rows, size.columns, &replica)
        guard master >= 0 else {
            GuestInit.send(.execError(id: id, "exec: open a pseudo-terminal: \(GuestInit.errnoText())"))
            return
        }
        let paths = Supervision.executableCandidates(spec.arguments[0], searchPath: spec.searchPath)
        let started = Supervision.spawn(spec.arguments, environment: spec.environment, candidates: paths, as: spec,
                                        streams: Supervision.Streams(stdin: replica, stdout: replica, stderr: replica), hook: nil)
        close(replica)
        switch started {
        case .success(let pid):
            sessions[id] = Session(pid: pid, input: master, master: master, outputs: [(master, 1)], status: nil)
        case .failure(let failure):
            close(master)
            GuestInit.send(.execError(id: id, failure.text))
        }
    }

    private mutating func closeInput(_ id: Int) {
        // A terminal has no end of input apart from its end: it stays open for the output.
        guard let input = sessions[id]?.input, input >= 0, sessions[id]?.master == nil else { return }
        close(input)
        sessions[id]?.input = -1
    }

    private mutating func finishIfDone(_ id: Int) {
        guard let session = sessions[id], let status = session.status, session.outputs.isEmpty else { return }
        sessions[id] = nil
        GuestInit.send(.execExit(id: id, status))
    }
}
