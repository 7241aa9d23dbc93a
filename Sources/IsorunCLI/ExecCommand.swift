import ArgumentParser
import Glibc
import IsorunCore
import IsorunSandbox
import IsorunSpec
import IsorunSys
import IsorunVM

/// `exec`: one more process in a created or running container, as runc spells it.
/// containerd calls `exec --process FILE --detach --pid-file F ID`; people call
/// `exec ID ARGS…` and wait for the status.
struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "Run another process in a container.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "A process document (config.json's `process`); replaces ARGS and the flags below.")
    var process: String?
    @Flag(name: [.short, .long], help: "Do not wait: print nothing, leave the process running.") var detach = false
    @Option(name: .customLong("pid-file"), help: "Write the process's pid here.") var pidFile: String?
    @Option(name: .customLong("console-socket"), help: "UNIX socket for the pty master (with a terminal).") var consoleSocket: String?
    @Flag(name: [.short, .long], help: "Give the process a terminal (needs --console-socket).") var tty = false
    @Option(name: [.short, .long], help: "Add or replace an environment variable (KEY=value).") var env: [String] = []
    @Option(name: .long, help: "Working directory in the container.") var cwd: String?
    @Option(name: [.short, .long], help: "UID[:GID] to run as.") var user: String?
    @Option(name: .customLong("preserve-fds"), help: "Pass this many descriptors after stderr (3, 4, …) to the process.")
    var preserveFds: Int32 = 0
    @Option(name: [.customShort("c"), .long], help: "Add a capability (CAP_…) to the process's bounding, effective and permitted sets.")
    var cap: [String] = []
    @Option(name: [.customShort("g"), .customLong("additional-gids")], help: "Add a supplementary group.")
    var additionalGids: [UInt32] = []
    @Flag(name: .customLong("no-new-privs"), help: "Set no_new_privs for the process.") var noNewPrivs = false
    @Argument(help: "Container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.") var arguments: [String] = []

    func run() throws {
        if let status = try request.perform(store: global.containers()) { throw ExitCode(status) }
    }

    var request: ExecRequest {
        ExecRequest(id: id, arguments: arguments, processFile: process, detach: detach, pidFile: pidFile,
                    consoleSocket: consoleSocket, tty: tty, env: env, cwd: cwd, user: user, preserveFds: preserveFds,
                    cap: cap, additionalGids: additionalGids, noNewPrivs: noNewPrivs)
    }
}

/// What one `exec` asks for, however its command line was read (ArgumentParser's
/// `ExecCommand`, or `FastExecParser` for the forms containerd and people use most).
struct ExecRequest: Equatable {
    var id: String
    var arguments: [String] = []
    /// `--process`: a process document that replaces ARGS and the flags below.
    var processFile: String?
    var detach = false
    var pidFile: String?
    var consoleSocket: String?
    var tty = false
    var env: [String] = []
    var cwd: String?
    var user: String?
    var preserveFds: Int32 = 0
    var cap: [String] = []
    var additionalGids: [UInt32] = []
    var noNewPrivs = false

    /// Starts the process: its exit status when waited for, nil when detached.
    func perform(store: ContainerStore) throws(IsorunError) -> Int32? {
        try ProcessSetup.checkPreserved(preserveFds, mode: .sandbox)
        let record = try store.load(id)
        let status = store.status(of: record)
        guard status == .created || status == .running else {
            throw IsorunError("container '\(id)' is \(status.rawValue): exec needs a created or running container")
        }
        let config: RuntimeConfig
        do { config = try Bundle.load(directory: record.bundle, requireRootfs: false).config } catch { throw IsorunError(error) }
        let (process, source) = try execProcess(config: config)
        if record.mode == Mode.vm.rawValue {
            try ProcessSetup.checkPreserved(preserveFds, mode: .vm)
            // Into the guest, through the VM's owner; isorun stays to copy the streams.
            guard status == .running else { throw IsorunError("exec: a VM container takes exec once it is started") }
            // With a terminal, its master goes to the console socket as for a sandbox; the
            // replica carries the guest terminal's two directions.
            let terminal = try PseudoTerminal.forProcess(process, source: source, consoleSocket: consoleSocket, relayed: true)
            guard detach else {
                let status = try withExtendedLifetime(terminal) { () throws(IsorunError) in
                    try VMExecClient.run(process, containerDirectory: store.directory(of: id), terminal: terminal?.replica)
                }
                return status
            }
            // containerd waits for the pid it is given: a relay of isorun's own stands for
            // the process in the guest, ends with its status, and its end ends the process.
            let relay = try withExtendedLifetime(terminal) { () throws(IsorunError) in
                try VMExecRelayCommand.start(process, containerDirectory: store.directory(of: id), terminal: terminal?.replica)
            }
            if let pidFile {
                do { try Files.writeAtomically(pidFile, "\(relay)") } catch {
                    Processes.signal(relay, SIGKILL)
                    throw IsorunError("--pid-file", error)
                }
            }
            return nil
        }
        var exec = ContainerExec(record: record, config: config, process: process)
        exec.detach = detach
        exec.preservedDescriptors = preserveFds
        exec.processFile = processFile
        // From the container's own devpts, as runc's is: its /dev/pts then names it.
        let root = record.mode == Mode.sandbox.rawValue ? "/proc/\(record.pid)/root" : nil
        let terminal = try PseudoTerminal.forProcess(process, source: source, consoleSocket: consoleSocket, root: root)
        exec.terminal = terminal.map { ($0.replica, $0.replicaPath) }
        let pid = try withExtendedLifetime(terminal) { () throws(IsorunError) in try exec.start(in: store.cgroup(of: record)) }
        if let pidFile {
            do { try Files.writeAtomically(pidFile, "\(pid)") } catch {
                Processes.signal(pid, SIGKILL)
                throw IsorunError("--pid-file", error)
            }
        }
        guard !detach else { return nil }
        let termination = try Supervisor(root: store.root).attach(to: ExecWorkload(pid: pid))
        return termination.shellStatus
    }

    /// The process to run: the --process document, or the container's own process with
    /// ARGS and the flags applied (runc's rules).
    private func execProcess(config: RuntimeConfig) throws(IsorunError) -> (IsorunSpec.Process, String) {
        if let path = processFile {
            let bytes: [UInt8]
            do { bytes = try Files.read(path) } catch { throw IsorunError("--process", error) }
            do {
                let decoded = try IsorunSpec.Process.decode(bytes, file: path)
                guard let args = decoded.args, !args.isEmpty else { throw IsorunError("\(path): args: no command to run") }
                return (decoded, path)
            } catch let error as SpecError {
                throw IsorunError(error)
            } catch {
                throw error as! IsorunError
            }
        }
        guard !arguments.isEmpty else { throw IsorunError("exec: no command given (ARGS or --process)") }
        var process = config.process ?? IsorunSpec.Process()
        process.args = arguments
        process.terminal = tty
        if let cwd { process.cwd = cwd }
        var environment = process.env ?? []
        for entry in env {
            let name = entry.split(separator: "=", maxSplits: 1).first.map(String.init) ?? entry
            environment.removeAll { $0.hasPrefix(name + "=") }
            environment.append(entry)
        }
        process.env = environment
        if let user {
            let parts = user.split(separator: ":", maxSplits: 1)
            guard let uid = UInt32(parts[0]), parts.count == 1 || UInt32(parts[1]) != nil else {
                throw IsorunError("--user: '\(user)' is not UID or UID:GID")
            }
            process.user = User(uid: uid, gid: parts.count > 1 ? UInt32(parts[1])! : 0)
        }
        if !additionalGids.isEmpty {
            var user = process.user ?? User(uid: 0, gid: 0)
            user.additionalGids = (user.additionalGids ?? []) + additionalGids
            process.user = user
        }
        if noNewPrivs { process.noNewPrivileges = true }
        if !cap.isEmpty { process.capabilities = Self.adding(cap, to: process.capabilities, uid: process.user?.uid ?? 0) }
        return (process, "exec --tty")
    }

    /// runc's `exec --cap`: each capability joins the bounding, effective and permitted sets.
    /// A process that is not root also gets it in its inheritable and ambient sets, or execve
    /// would drop it from the effective set. The names are checked with the rest of the sets.
    private static func adding(_ names: [String], to sets: Capabilities?, uid: UInt32) -> Capabilities {
        var sets = sets ?? Capabilities()
        func add(_ name: String, to set: inout [String]?) {
            if set?.contains(name) != true { set = (set ?? []) + [name] }
        }
        for name in names {
            add(name, to: &sets.bounding)
            add(name, to: &sets.effective)
            add(name, to: &sets.permitted)
            if uid != 0 {
                add(name, to: &sets.inheritable)
                add(name, to: &sets.ambient)
            }
        }
        return sets
    }
}
