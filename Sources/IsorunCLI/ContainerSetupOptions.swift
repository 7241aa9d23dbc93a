import ArgumentParser
import IsorunCore

/// The flags of runc's `create` and `run` that change how the container's process is set up.
struct ContainerSetupOptions: ParsableArguments {
    @Option(name: .customLong("preserve-fds"), help: "Pass this many descriptors after stderr (3, 4, …) to the process.")
    var preserveFds: Int32 = 0

    @Flag(name: .customLong("no-pivot"),
          help: "Enter the rootfs by moving it onto / and chroot, not pivot_root (a root pivot_root refuses, such as an initramfs).")
    var noPivot = false

    @Flag(name: .customLong("no-new-keyring"), help: "Keep the caller's session keyring instead of a new one named after the container.")
    var noNewKeyring = false

    var setup: ProcessSetup {
        var setup = ProcessSetup()
        setup.preservedDescriptors = preserveFds
        setup.noPivotRoot = noPivot
        setup.newSessionKeyring = !noNewKeyring
        return setup
    }
}
