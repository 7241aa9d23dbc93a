import ArgumentParser
import FoundationEssentials
import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSandbox
import IsorunSpec
import IsorunSys
import IsorunVM

/// runc's command line for the OCI lifecycle (runtime.md): `create`, `start`, `state`,
/// `kill`, `delete`, plus `list` and `features`. Global flags (`--root`, `--log`,
/// `--log-format`, `--debug`, `--systemd-cgroup`) come before the command, as with runc;
/// see `LeadingGlobals`.
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a container from a bundle; its process waits until `start`."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: [.short, .long], help: "Bundle directory (default: the current directory).")
    var bundle: String = "."

    @Option(name: .customLong("pid-file"), help: "Write the container's pid here.")
    var pidFile: String?

    @Option(name: .customLong("console-socket"), help: "UNIX socket for the pty master (process.terminal).")
    var consoleSocket: String?

    @OptionGroup var setupOptions: ContainerSetupOptions

    @Argument(help: "Container id.")
    var id: String

    func run() throws {
        try Self.perform(store: global.containers(), bundle: bundle, pidFile: pidFile, consoleSocket: consoleSocket, id: id,
                         setup: setupOptions.setup, debug: global.debug || LeadingGlobals.current.debug)
    }

    /// The command's work, shared with `FastLifecycleParser`.
    static func perform(store: ContainerStore, bundle: String, pidFile: String?, consoleSocket: String?, id: String,
                        setup: ProcessSetup = ProcessSetup(), debug: Bool) throws(IsorunError) {
        // Checked before anything is opened; the mode is checked once the bundle is read.
        try ProcessSetup.checkPreserved(setup.preservedDescriptors, mode: .sandbox)
        NetworkNamespaceHeadStart.begin()
        let loaded: Bundle
        do { loaded = try Bundle.load(directory: bundle) } catch { throw IsorunError(error) }
        let mode = try LifecycleMode.of(loaded)
        let record: ContainerRecord
        if mode == .vm {
            NetworkNamespaceHeadStart.discard()
            try ProcessSetup.checkPreserved(setup.preservedDescriptors, mode: mode)
            record = try VMContainer.create(store: store, bundle: loaded, id: id, consoleSocket: consoleSocket, debug: debug)
        } else {
            var request = RunRequest(bundle: loaded, id: id, argumentsOverride: nil)
            request.systemdCgroupPath = LeadingGlobals.current.systemdCgroup
            request.setup = setup
            record = try store.create(request, with: RunOptions.launcher(for: mode, vm: VMOptions()), consoleSocket: consoleSocket)
        }
        if let pidFile {
            do { try Files.writeAtomically(pidFile, "\(record.pid)") } catch {
                try? store.delete(record, force: true)
                throw IsorunError("--pid-file", error)
            }
        }
    }
}

/// Which mode a bundle asks for under the lifecycle commands, where there is no --mode:
/// the `io.isorun.mode` annotation (bare, sandbox, vm), else vm when `run.oci.handler`
/// is `vm` or config.json has a `vm` object (config-vm.md), else sandbox.
enum LifecycleMode {
    static let annotation = "io.isorun.mode"

    static func of(_ bundle: Bundle) throws(IsorunError) -> Mode {
        let annotations = bundle.config.annotations ?? [:]
        if let value = annotations[annotation] {
            guard let mode = Mode(rawValue: value) else {
                throw IsorunError("\(bundle.directory)/config.json: annotations.\(annotation): unknown mode '\(value)'; use bare, sandbox or vm")
            }
            return mode
        }
        if annotations["run.oci.handler"] == "vm" || bundle.config.vm != nil { return .vm }
        return .sandbox
    }
}

struct StartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a created container's process.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container id.") var id: String

    func run() throws { try Self.perform(store: global.containers(), id: id) }

    static func perform(store: ContainerStore, id: String) throws(IsorunError) {
        try store.start(try store.load(id))
    }
}

struct StateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "Print a container's state as runtime.md defines it.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container id.") var id: String

    func run() throws { try Self.perform(store: global.containers(), id: id) }

    static func perform(store: ContainerStore, id: String) throws(IsorunError) {
        let record = try store.load(id)
        print(ContainerState.shown(record, status: store.status(of: record)).json())
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Send a signal to a container (default SIGTERM).")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Signal every process in the container's cgroup.") var all = false
    @Argument(help: "Container id.") var id: String
    @Argument(help: "Signal: a number, or a name with or without SIG.") var signal: String = "TERM"

    func run() throws { try Self.perform(store: global.containers(), all: all, id: id, signal: signal) }

    static func perform(store: ContainerStore, all: Bool, id: String, signal: String) throws(IsorunError) {
        guard let number = SignalName.number(signal) else { throw IsorunError("unknown signal '\(signal)'") }
        try store.kill(try store.load(id), signal: number, all: all)
    }
}

/// Signal names as kill(1) and runc accept them.
enum SignalName {
    static let table: [String: Int32] = [
        "HUP": SIGHUP, "INT": SIGINT, "QUIT": SIGQUIT, "ILL": SIGILL, "TRAP": SIGTRAP, "ABRT": SIGABRT, "BUS": SIGBUS,
        "FPE": SIGFPE, "KILL": SIGKILL, "USR1": SIGUSR1, "SEGV": SIGSEGV, "USR2": SIGUSR2, "PIPE": SIGPIPE, "ALRM": SIGALRM,
        "TERM": SIGTERM, "STKFLT": SIGSTKFLT, "CHLD": SIGCHLD, "CONT": SIGCONT, "STOP": SIGSTOP, "TSTP": SIGTSTP,
        "TTIN": SIGTTIN, "TTOU": SIGTTOU, "URG": SIGURG, "XCPU": SIGXCPU, "XFSZ": SIGXFSZ, "VTALRM": SIGVTALRM,
        "PROF": SIGPROF, "WINCH": SIGWINCH, "IO": SIGIO, "PWR": SIGPWR, "SYS": SIGSYS,
    ]

    static func number(_ text: String) -> Int32? {
        if let number = Int32(text) { return number > 0 && number < 65 ? number : nil }
        let name = text.uppercased()
        return table[name.hasPrefix("SIG") ? String(name.dropFirst(3)) : name]
    }
}

struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Remove a container and everything it left.")

    @OptionGroup var global: GlobalOptions
    @Flag(name: [.short, .long], help: "Kill it first if it is still running.") var force = false
    @Argument(help: "Container ids (runc takes several).") var ids: [String]

    /// Each id in turn, as runc does: one that cannot be deleted is reported and the rest
    /// still go; the status is 125 if any failed.
    func run() throws {
        let store = global.containers()
        guard ids.count > 1 else { return try Self.perform(store: store, force: force, id: ids[0]) }
        var failed = false
        for id in ids {
            do { try Self.perform(store: store, force: force, id: id) } catch {
                failed = true
                IsorunCommand.report(error.message)
            }
        }
        if failed { throw ExitCode(IsorunError.exitStatus) }
    }

    static func perform(store: ContainerStore, force: Bool, id: String) throws(IsorunError) {
        let record: ContainerRecord
        do { record = try store.load(id) } catch {
            // runc: deleting what does not exist is an error, except with --force.
            if force { return }
            throw error
        }
        try store.delete(record, force: force)
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the containers under the runtime root.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "table | json") var format: String = "table"
    @Flag(name: [.short, .long], help: "Print the ids only, one per line.") var quiet = false

    func run() throws {
        let store = global.containers()
        if quiet {
            for record in store.list() { print(record.id) }
            return
        }
        let states = store.list().map { ContainerState.shown($0, status: store.status(of: $0), owner: store.owner(of: $0)) }
        switch format {
        case "json":
            print(ContainerState.json(states))
        case "table":
            print("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
            for state in states {
                print("\(state.id)\t\(state.pid.map(String.init) ?? "0")\t\(state.status)\t\(state.bundle)\t\(state.created ?? "")\t\(state.owner ?? "")")
            }
        default:
            throw IsorunError("--format: unknown format '\(format)'; use table or json")
        }
    }
}

/// `isorun features`: the features.md document, fixed at build time as the spec asks.
struct FeaturesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "features", abstract: "Print the OCI features isorun implements, as JSON.")

    struct Document: Encodable {
        struct Linux: Encodable {
            struct Cgroup: Encodable { var v1 = true, v2 = true, systemd = false, systemdUser = false }
            struct Seccomp: Encodable {
                var enabled = true
                var actions = SandboxFeatures.seccompActions
                var operators = SandboxFeatures.seccompOperators
                var knownFlags = SandboxFeatures.seccompFlags
                var supportedFlags = SandboxFeatures.seccompFlags
                var archs = ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]
            }
            struct Enabled: Encodable { var enabled: Bool }
            struct MountExtensions: Encodable { var idmap = Enabled(enabled: true) }
            var namespaces = SandboxFeatures.namespaces
            var capabilities = SandboxFeatures.capabilities
            var cgroup = Cgroup()
            var seccomp = Seccomp()
            var apparmor = Enabled(enabled: false)
            var selinux = Enabled(enabled: false)
            var intelRdt = Enabled(enabled: false)
            var mountExtensions = MountExtensions()
            /// runtime-spec 1.3's `linux.netDevices`, in sandbox mode.
            var netDevices = Enabled(enabled: true)
            /// runtime-spec 1.3's `linux.memoryPolicy`: what isorun recognises, whether or
            /// not this host's kernel has it.
            struct MemoryPolicyFeatures: Encodable {
                var modes = MemoryPolicy.modes.map(\.key)
                var flags = MemoryPolicy.flagBits.map(\.key)
            }
            var memoryPolicy = MemoryPolicyFeatures()
        }
        var ociVersionMin = "1.0.0"
        var ociVersionMax = "1.3.0"
        var hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
        var mountOptions = SandboxFeatures.mountOptions
        var linux = Linux()
        var annotations = [LifecycleMode.annotation: "bare | sandbox | vm"]
    }

    func run() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(Document()), as: UTF8.self))
    }
}

struct PauseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Freeze every process of a running container.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container id.") var id: String

    func run() throws {
        let store = global.containers()
        try store.setPaused(try store.load(id), true)
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Thaw a paused container.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Container id.") var id: String

    func run() throws {
        let store = global.containers()
        try store.setPaused(try store.load(id), false)
    }
}

struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List a container's processes: ps(1)'s table (ps options after the id; -ef when none), or their host pids as JSON.")

    @OptionGroup var global: GlobalOptions
    @Option(name: [.short, .long], help: "table | json") var format: String = "table"
    @Argument(help: "Container id.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "Options for ps(1) (table only).") var psOptions: [String] = []

    func run() throws {
        let store = global.containers()
        let pids = store.processes(of: try store.load(id))
        switch format {
        case "json":
            guard psOptions.isEmpty else { throw IsorunError("ps: --format json takes no ps options") }
            print("[" + pids.map(String.init).joined(separator: ",") + "]")
        case "table": print(try Self.table(of: pids, options: psOptions.isEmpty ? ["-ef"] : psOptions), terminator: "")
        default: throw IsorunError("--format: unknown format '\(format)'; use table or json")
        }
    }

    /// ps(1)'s table with `options`, as runc's `ps` prints it: the header, then the lines
    /// whose PID column is one of `pids`.
    static func table(of pids: [Int32], options: [String]) throws(IsorunError) -> String {
        let result = HostCommand.output(of: ["ps"] + options)
        guard result.status == 0 else {
            throw IsorunError("ps \(options.joined(separator: " ")): exit status \(result.status)\(result.complaint.isEmpty ? "" : ": \(result.complaint)")")
        }
        let lines = result.output.split(separator: "\n", omittingEmptySubsequences: true)
        guard let header = lines.first, let column = header.split(separator: " ").firstIndex(of: "PID") else {
            throw IsorunError("ps \(options.joined(separator: " ")): its table has no PID column")
        }
        let wanted = Set(pids)
        let rows = lines.dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > column && Int32(fields[column]).map(wanted.contains) == true
        }
        return ([header] + rows).map { $0 + "\n" }.joined()
    }
}

/// `isorun spec`: a starting config.json, the same shape as the example bundles'.
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Write a default config.json into the bundle directory.")

    @Option(name: [.short, .long], help: "Bundle directory (default: the current directory).")
    var bundle: String = "."

    @Flag(help: "A config an unprivileged user can run: a user namespace mapping the caller's uid and gid to root, /sys bound from the host, no cgroup mount or network namespace.")
    var rootless = false

    func run() throws {
        let path = "\(bundle)/config.json"
        guard !Files.exists(path) else { throw IsorunError("\(path) exists; remove it first") }
        let config = rootless ? Self.rootlessConfig(uid: HostProcess.userID, gid: HostProcess.groupID) : Self.defaultConfig
        do { try Files.write(path, config, create: true) } catch { throw IsorunError("spec", error) }
    }

    /// The default config changed as `runc spec --rootless` changes its own: without the
    /// namespaces and mounts only root may make (a network namespace would leave the
    /// container loopback alone anyway), with a user namespace mapping `uid` and `gid`.
    static func rootlessConfig(uid: UInt32, gid: UInt32) -> String {
        let sysfs = #"{ "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },"#
        let sysBind = #"{ "destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"] }"#
        let cgroupMount: String = "\n    " + #"{ "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }"#
        let namespaces = #"[{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }],"#
        let uidMap: String = #"    "uidMappings": [{ "containerID": 0, "hostID": "# + String(uid) + #", "size": 1 }],"#
        let gidMap: String = #"    "gidMappings": [{ "containerID": 0, "hostID": "# + String(gid) + #", "size": 1 }],"#
        let userNamespaces: String = #"[{ "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "user" }],"#
            + "\n" + uidMap + "\n" + gidMap
        var config = defaultConfig
        config = config.replacing(sysfs, with: sysBind)
        config = config.replacing(cgroupMount, with: "")
        return config.replacing(namespaces, with: userNamespaces)
    }

    static let defaultConfig = """
    {
      "ociVersion": "1.3.0",
      "process": {
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {
          "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
          "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
          "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
        },
        "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
        "noNewPrivileges": true
      },
      "root": { "path": "rootfs", "readonly": true },
      "hostname": "isorun",
      "mounts": [
        { "destination": "/proc", "type": "proc", "source": "proc" },
        { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
        { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
          "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
        { "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
        { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"] },
        { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
        { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
      ],
      "linux": {
        "namespaces": [{ "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                        "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi", "/sys/devices/virtual/powercap"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
      }
    }

    """
}
