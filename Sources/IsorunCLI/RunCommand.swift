import ArgumentParser
import Glibc
import IsorunCore
import IsorunSandbox
import IsorunSpec
import IsorunSys
import IsorunVM

extension AcceleratorChoice: ExpressibleByArgument {}
extension RootLayout: ExpressibleByArgument {}

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

    @Option(name: .long, help: "VM mode: auto | kvm | tcg (auto uses KVM only with vmx/svm).")
    var accel: AcceleratorChoice = .auto

    @Option(name: .long, help: "VM mode: guest kernel to boot (overrides vm.kernel.path).")
    var kernel: String?

    @Option(name: .long, help: "VM mode: seconds the guest may take to reach its init.")
    var bootTimeout: Double = 60

    @Option(name: .long, help: "VM mode: how the rootfs reaches the guest: auto | initramfs | disk.")
    var vmRoot: RootLayout = .automatic

    @Argument(help: "Bundle directory (config.json + rootfs); in runc's form (with -b, or when it is not a bundle) the container id.")
    var bundle: String

    @Option(name: [.customShort("b"), .customLong("bundle")], help: "runc's form: the bundle directory; the argument is the container id.")
    var runcBundle: String?

    @Flag(name: [.short, .long], help: "runc's form: create and start, then return (the container keeps running).")
    var detach = false

    @Option(name: .customLong("pid-file"), help: "runc's form: write the container's pid here.")
    var pidFile: String?

    @OptionGroup var setupOptions: ContainerSetupOptions

    @Argument(parsing: .postTerminator, help: "Replaces process.args.")
    var arguments: [String] = []

    var options: RunOptions {
        RunOptions(mode: mode, id: id, root: global.root, debug: global.debug || LeadingGlobals.current.debug, bundle: bundle, arguments: arguments,
                   vm: VMOptions(accelerator: accel, kernel: kernel, bootTimeoutSeconds: bootTimeout,
                                 rootLayout: vmRoot), setup: setupOptions.setup)
    }

    /// runc's `run [-b BUNDLE] [-d] [--pid-file F] ID` takes its bundle from the current
    /// directory by default, so an argument that is neither a path nor a bundle is an id.
    static func namesContainer(_ argument: String) -> Bool {
        !argument.contains("/") && !Files.exists("\(argument)/config.json")
    }

    func run() throws {
        let runcForm = runcBundle != nil || detach || pidFile != nil || Self.namesContainer(bundle)
        guard runcForm else { throw ExitCode(try options.execute()) }
        if pidFile != nil && !detach { throw IsorunError("--pid-file: only with --detach (a foreground run is waited for)") }
        let directory = runcBundle ?? "."
        let id = bundle
        if runcBundle == nil && !Files.exists("config.json") {
            // Most likely a mistyped bundle name rather than runc's `run ID`: name it.
            throw IsorunError("\(bundle): no such bundle (no \(bundle)/config.json), and the current directory has no config.json for runc's `run ID`")
        }
        if detach {
            let store = global.containers()
            try CreateCommand.perform(store: store, bundle: directory, pidFile: pidFile, consoleSocket: nil, id: id,
                                      setup: setupOptions.setup, debug: global.debug || LeadingGlobals.current.debug)
            try StartCommand.perform(store: store, id: id)
            return
        }
        let loaded: Bundle
        do { loaded = try Bundle.load(directory: directory, requireRootfs: false) } catch { throw IsorunError(error) }
        var options = self.options
        options.bundle = directory
        options.id = id
        options.mode = try LifecycleMode.of(loaded)
        throw ExitCode(try options.execute())
    }
}
