import IsorunCore
import IsorunSpec
import IsorunSys

/// QEMU with no isorun on either side, for the startup benchmark: the same QEMU binary
/// and guest kernel as isorun's VMs, the same machine, accelerator and kernel command line, and an initramfs that
/// holds only a static busybox whose `reboot -f` is init. No isorun-init, no virtio
/// ports, no protocol: the floor a VM runtime on this kernel could reach, so the
/// difference to `isorun --mode vm` is what isorun itself costs.
public struct PlainQemuBoot {
    /// The command line; the initramfs is written into `workspace`, which the caller removes.
    public let arguments: [String]

    public init(bundle: Bundle, busybox: String, workspace: String) throws(IsorunError) {
        let kernel = try GuestArtifacts.kernel(explicit: nil, bundle: bundle, cacheDirectory: CacheLocation.holding("kernel"))
        let initramfs = "\(workspace)/plain-boot.cpio"
        do throws(SystemError) {
            let output = try OutputFile(creating: initramfs)
            var archive = CpioArchive(writingTo: output)
            try archive.addDirectory("dev")
            try archive.addCharacterDevice("dev/console", major: 5, minor: 1)
            try archive.addDirectory("bin")
            try archive.addFile("bin/busybox", from: busybox, mode: 0o755)
            try archive.finish()
            try output.close()
        } catch { throw IsorunError("write \(initramfs)", error) }
        let accelerator = AcceleratorProbe.host().resolve(.auto).accelerator
        let hypervisor = GuestArtifacts.hypervisor(configured: bundle.config.vm?.hypervisor?.path,
                                                   cacheDirectory: CacheLocation.holding("qemu"))
        let line = QemuCommandLine(executable: hypervisor.path, accelerator: accelerator, kernel: kernel.path, initramfs: initramfs,
                                   stockKernel: kernel.isStockFallback, memoryMiB: 128, vCPUs: 1,
                                   hostTSCKilohertz: accelerator == .tcg ? HostClock.tscKilohertz() : nil,
                                   consoleLog: "", controlPipe: "", qmpSocket: "", stdoutFifo: "", stderrFifo: "",
                                   forwardStdin: false)
        // Everything after `--` on the kernel command line is init's argv.
        let parameters = line.kernelParameters.map { $0.hasPrefix("rdinit=") ? "rdinit=/bin/busybox" : $0 } + ["--", "reboot", "-f"]
        arguments = [line.executable] + QemuCommandLine.machineArguments(machine: line.machine, accelerator: accelerator) + [
            "-m", "128", "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "none", "-kernel", kernel.path, "-initrd", initramfs, "-append", parameters.joined(separator: " "),
        ]
    }
}
