import ArgumentParser
import Glibc
import IsorunCore
import IsorunSandbox
import IsorunSpec
import IsorunSys

/// `isorun run [--mode M] BUNDLE [-- ARGS...]`: run a bundle to completion.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an OCI bundle as a bare process, in a sandbox, or in a VM, and exit with its status."
    )

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "bare | sandbox | vm")
    var mode: Mode = .sandbox

    @Option(name: .long, help: "Name of this run under the runtime root (default: isorun-<pid>).")
    var id: String?

    @Argument(help: "Bundle directory (config.json + rootfs).")
    var bundle: String

    @Argument(parsing: .postTerminator, help: "Replaces process.args.")
    var arguments: [String] = []

    func run() throws {
        global.apply()
        let started = MonotonicClock.nanoseconds()
        let loaded: Bundle
        do { loaded = try Bundle.load(directory: bundle, requireRootfs: mode != .bare) } catch {
            throw IsorunError(error)
        }
        let request = RunRequest(bundle: loaded, id: id ?? "isorun-\(getpid())",
                                 argumentsOverride: arguments.isEmpty ? nil : arguments)
        let termination = try Supervisor(root: RuntimeRoot(path: global.root)).run(request, with: try launcher())
        let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e6
        Log.logger.debug("\(mode) run \(request.id) ended: \(termination) after \(elapsed) ms")
        throw ExitCode(termination.shellStatus)
    }

    func launcher() throws(IsorunError) -> any Launcher {
        switch mode {
        case .bare: BareLauncher()
        case .sandbox: SandboxLauncher()
        case .vm: throw IsorunError("--mode vm: the VM mode is not built yet")
        }
    }
}
