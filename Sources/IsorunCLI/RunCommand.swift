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

    @Argument(help: "Bundle directory (config.json + rootfs).")
    var bundle: String

    @Argument(parsing: .postTerminator, help: "Replaces process.args.")
    var arguments: [String] = []

    var options: RunOptions {
        RunOptions(mode: mode, id: id, root: global.root, debug: global.debug || LeadingGlobals.current.debug, bundle: bundle, arguments: arguments,
                   vm: VMOptions(accelerator: accel, kernel: kernel, bootTimeoutSeconds: bootTimeout,
                                 rootLayout: vmRoot))
    }

    func run() throws {
        throw ExitCode(try options.execute())
    }
}
