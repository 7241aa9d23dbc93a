import Glibc
import IsorunCgroups
import IsorunCore
import IsorunSandbox
import IsorunSpec
import IsorunSys
import IsorunVM

/// Everything `isorun run` needs, however it was parsed.
struct RunOptions: Equatable {
    var mode: Mode = .sandbox
    var id: String?
    var root = RuntimeRoot.defaultPath
    var debug = false
    var bundle: String
    var arguments: [String] = []
    var vm = VMOptions()
    /// `--preserve-fds`, `--no-pivot`, `--no-new-keyring`.
    var setup = ProcessSetup()

    /// Runs the bundle and returns the workload's status (128+N for signal N).
    func execute() throws(IsorunError) -> Int32 {
        if debug { Log.level = .debug }
        let started = MonotonicClock.nanoseconds()
        try ProcessSetup.checkPreserved(setup.preservedDescriptors, mode: mode)
        if mode == .sandbox { NetworkNamespaceHeadStart.begin() }
        let loaded: Bundle
        do { loaded = try Bundle.load(directory: bundle, requireRootfs: mode != .bare) } catch {
            throw IsorunError(error)
        }
        var request = RunRequest(bundle: loaded, id: id ?? "isorun-\(getpid())",
                                 argumentsOverride: arguments.isEmpty ? nil : arguments)
        request.setup = setup
        let termination = try Supervisor(root: RuntimeRoot(path: root)).run(request, with: try launcher())
        if debug {
            let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e6
            Log.debug("\(mode) run \(request.id) ended: \(termination) after \(elapsed) ms")
        }
        return termination.shellStatus
    }

    func launcher() throws(IsorunError) -> any Launcher { Self.launcher(for: mode, vm: vm) }

    static func launcher(for mode: Mode, vm: VMOptions) -> any Launcher {
        switch mode {
        case .bare: BareLauncher()
        case .sandbox: SandboxLauncher()
        case .vm: VMLauncher(options: vm)
        }
    }
}

/// A scanner for the one command line that is on every benchmark's and user's hot path:
/// `isorun [run] [--mode M] [--id I] [--root R] [--debug] BUNDLE [-- ARGS...]`.
///
/// ArgumentParser builds its model by reflection, which costs about 1.5 ms per start
/// (measured: a static binary with one ParsableCommand takes 3.1 ms against 1.6 ms
/// without). Anything this scanner does not recognise returns nil and goes to
/// ArgumentParser, which also owns help, errors and every other command; a unit test
/// checks that both parse the same inputs to the same options.
enum FastRunParser {
    /// An array, not a `Set`: see `MountOptions` on what a hashed table costs at start-up.
    static let subcommandNames: [String] = ["bench", "help", "create", "start", "state", "kill", "delete", "list", "features",
                                                       "ps", "pause", "resume", "spec", "exec", "update", "events", "vm-monitor", "vm-exec"]

    /// `globals` are the runc-style flags taken off the front (`isorun --root R run …`):
    /// they are the defaults the command's own flags override, as in `GlobalOptions`.
    static func parse(_ arguments: [String], globals: LeadingGlobals = LeadingGlobals()) -> RunOptions? {
        var index = 0
        if arguments.first == "run" { index = 1 }
        // Other subcommands belong to ArgumentParser.
        if let first = arguments.first, subcommandNames.contains(first) { return nil }
        var options = RunOptions(bundle: "")
        if let root = globals.root { options.root = root }
        options.debug = globals.debug
        var bundle: String?
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                guard bundle != nil else { return nil }
                options.arguments = Array(arguments[(index + 1)...])
                break
            }
            if argument == "--debug" {
                options.debug = true
                index += 1
                continue
            }
            if let (name, value, consumed) = option(arguments, at: index, names: ["--mode", "--id", "--root"]) {
                switch name {
                case "--mode":
                    guard let mode = Mode(rawValue: value) else { return nil }
                    options.mode = mode
                case "--id": options.id = value
                case "--root": options.root = value
                default: return nil
                }
                index += consumed
                continue
            }
            // A second positional before `--`, or anything flag-like: leave it to ArgumentParser.
            guard !argument.hasPrefix("-"), bundle == nil else { return nil }
            bundle = argument
            index += 1
        }
        // runc's `run ID` (bundle in the current directory) is RunCommand's to handle.
        guard let bundle, !RunCommand.namesContainer(bundle) else { return nil }
        options.bundle = bundle
        return options
    }

    /// `--name value` or `--name=value` for one of `names`: the name, its value and how many
    /// arguments it took. A value that looks like a flag is left to ArgumentParser (nil).
    static func option(_ arguments: [String], at index: Int, names: [String]) -> (String, String, Int)? {
        let argument = arguments[index]
        for name in names {
            if argument == name {
                guard index + 1 < arguments.count, !arguments[index + 1].hasPrefix("-") else { return nil }
                return (name, arguments[index + 1], 2)
            }
            if name.hasPrefix("--"), argument.hasPrefix(name + "=") {
                return (name, String(argument.dropFirst(name.count + 1)), 1)
            }
        }
        return nil
    }
}
