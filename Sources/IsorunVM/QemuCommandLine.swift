import IsorunGuestProtocol

/// The QEMU invocation for one isorun VM, built from plain values so it can be
/// unit-tested and printed with `--debug`.
///
/// Choices measured under TCG on the development host: `-M microvm` boots faster
/// than `-M pc` (no PCI, no firmware tables to scan); an uncompressed ELF vmlinux is
/// entered directly through PVH; `rtc=off` would cost over a second, so it stays on;
/// `tsc_early_khz` is always passed because microvm has no PIT/HPET to calibrate the
/// TSC against, and guests without it hung in 4 of 7 boots.
///
/// Memory of an idle VM (QEMU's RSS): free page reporting through virtio-balloon hands
/// back what the guest frees after boot (the initramfs image, init memory). Two further
/// savings were measured and left out because they cost boot time under TCG (A/B, 20
/// runs each): guest RAM as a memfd (−4 to 6 MiB; +60 ms, its 4 KiB shmem faults against
/// the transparent huge pages anonymous memory gets) and `tb-size=16` (−8 MiB; +60 ms of
/// retranslation).
struct QemuCommandLine {
    var executable = "qemu-system-x86_64"
    var accelerator: Accelerator
    var kernel: String
    var initramfs: String
    /// Debian's stock kernel (the fallback): its virtio-mmio driver only finds devices
    /// through ACPI, and with ACPI on, `noapictimer` leaves it without a timer.
    var stockKernel = false
    /// A read-only disk image holding the rootfs (large rootfs, or the bundle's `vm.image`).
    var rootDisk: (path: String, format: String)? = nil
    var memoryMiB: Int
    var vCPUs: Int
    var hostTSCKilohertz: Int?
    var extraKernelParameters: [String] = []
    /// The serial console (kernel messages), kept apart from the workload's streams.
    var consoleLog: String
    /// Base path of the control FIFOs: QEMU opens `<base>.in` and `<base>.out`.
    var controlPipe: String
    var qmpSocket: String
    /// FIFOs isorun reads the workload's stdout and stderr from (see OutputRelay).
    var stdoutFifo: String
    var stderrFifo: String
    /// Forward isorun's own stdin into the guest (off when stdin is a terminal:
    /// QEMU would switch it to raw mode).
    var forwardStdin: Bool
    /// With a terminal: base path of the FIFO pair whose `.in` feeds the stdin port
    /// (see TerminalInput); replaces `forwardStdin`.
    var terminalInput: String? = nil
    /// The directory holding the bundle's bind mounts, shared with the guest over virtio-9p
    /// (QEMU's own file server: no daemon to supervise beside it). `passthrough` keeps
    /// owners and modes as the host has them, as a container's bind mount does;
    /// `multidevs=remap` keeps inode numbers unique across the mounts in it.
    var bindShare: String? = nil
    /// A virtio-net device per interface the VM takes over (see GuestNetwork).
    var networkDevices: [NetworkDevice] = []
    /// The guest gets IPv6 addresses. Otherwise its kernel starts with IPv6 off: setting the
    /// stack up costs ~20–25 ms of a boot under TCG (15 runs each). A bundle may turn it
    /// back on with `ipv6.disable=0` in `vm.kernel.parameters`, which come last.
    var guestIPv6 = false
    /// QEMU's own seccomp filter on top of its confinement (see VMLauncher): no fork or
    /// exec, no change of credentials, scheduling or affinity, no obsolete calls. A guest
    /// that escaped into QEMU would find these gone.
    var sandboxed = false
    var extraArguments: [String] = []

    /// A tap QEMU inherits as descriptor `descriptor`, and the MAC its device shows.
    struct NetworkDevice: Equatable {
        var descriptor: Int32
        var mac: [UInt8]

        var macText: String {
            mac.map { byte in
                let digits = Array("0123456789abcdef")
                return "\(digits[Int(byte >> 4)])\(digits[Int(byte & 0xf)])"
            }.joined(separator: ":")
        }
    }

    /// A socket path holds at most 107 bytes, and podman's 64-character container ids under
    /// a deep runtime root made the QMP socket's longer: then QEMU runs in the socket's
    /// directory and binds it by name (isorun itself connects through the directory). nil:
    /// QEMU keeps isorun's directory, against which relative `vm.hypervisor.parameters` resolve.
    var workingDirectory: String? {
        guard qmpSocket.utf8.count >= 108, let slash = qmpSocket.lastIndex(of: "/") else { return nil }
        return String(qmpSocket[..<slash])
    }

    var qmpAddress: String {
        guard workingDirectory != nil, let slash = qmpSocket.lastIndex(of: "/") else { return qmpSocket }
        return String(qmpSocket[qmpSocket.index(after: slash)...])
    }

    /// Without ACPI, microvm describes its virtio-mmio devices on the kernel command
    /// line and its CPUs in an MP table: the guest kernel needs no ACPI code at all.
    var machine: String { stockKernel ? "microvm" : "microvm,acpi=off" }

    /// The root disk is the only virtio-blk device, so the guest names it vda.
    static let rootDiskDevice = "/dev/vda"

    /// The guest path of the init inside the initramfs.
    static let initPath = "/.isorun/init"

    /// Smallest free block (2^order pages) the guest reports to the balloon: the 6.1
    /// default (4 MiB blocks, and 128 MiB free before it reports at all) misses most
    /// of the freed initramfs. Needs Guest/kernel/patches/page-reporting-order-param.patch.
    static let pageReportingOrder = 5

    static func machineArguments(machine: String, accelerator: Accelerator) -> [String] {
        switch accelerator {
        case .kvm: ["-M", machine, "-accel", "kvm", "-cpu", "host"]
        // Without ERMS/FSRM the guest's memcpy/memset avoid `rep movsb/stosb`, which TCG
        // emulates a byte at a time (freeing init memory went from 150 to 34 ms).
        case .tcg: ["-M", machine, "-accel", "tcg", "-cpu", "max,-erms,-fsrm"]
        }
    }

    var kernelParameters: [String] {
        var parameters = [
            "console=ttyS0", "quiet", "panic=-1",
            // Triple-fault reboot: the quickest way out, and -no-reboot turns it into QEMU's exit.
            "reboot=t",
            "rdinit=\(Self.initPath)",
        ]
        if let khz = hostTSCKilohertz { parameters.append("tsc_early_khz=\(khz)") }
        if accelerator == .tcg && !stockKernel {
            // TCG has no TSC-deadline timer, so the kernel would spend ~200 ms calibrating
            // the APIC timer; the PIT-less microvm does fine without it.
            parameters.append("noapictimer")
        }
        if accelerator == .tcg && vCPUs == 1 {
            // A kernel built for SMP that boots on one CPU rewrites every `lock` prefix in
            // its text to run uniprocessor: ~120 ms under TCG, where each store into
            // translated code drops that code. TCG with one vCPU runs `lock` at no extra cost.
            parameters.append("noreplace-smp")
        }
        if !stockKernel { parameters.append("page_reporting.page_reporting_order=\(Self.pageReportingOrder)") }
        if !stockKernel && !guestIPv6 { parameters.append("ipv6.disable=1") }
        // isorun-init waits for the ports it is told about; a port it waited for in vain
        // would cost its whole search timeout.
        if hasStdinPort { parameters.append(GuestPorts.stdinAttachedParameter) }
        return parameters + extraKernelParameters
    }

    var hasStdinPort: Bool { forwardStdin || terminalInput != nil }

    var arguments: [String] {
        var arguments = [executable] + Self.machineArguments(machine: machine, accelerator: accelerator)
        arguments += [
            "-m", "\(memoryMiB)", "-smp", "\(vCPUs)",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", kernel, "-initrd", initramfs,
            "-append", kernelParameters.joined(separator: " "),
            "-serial", "file:\(consoleLog)",
            "-qmp", "unix:\(qmpAddress),server=on,wait=off",
            // Port 0 is reserved for a console; the named ports follow. Fewer ports, fewer
            // virtqueues for the guest to set up.
            "-device", "virtio-serial-device,max_ports=\(hasStdinPort ? 5 : 4)",
            "-chardev", "pipe,id=control,path=\(controlPipe)",
            "-device", "virtserialport,chardev=control,name=\(GuestPorts.control)",
            "-chardev", "file,id=stdout,path=\(stdoutFifo)",
            "-device", "virtserialport,chardev=stdout,name=\(GuestPorts.stdout)",
            "-chardev", "file,id=stderr,path=\(stderrFifo)",
            "-device", "virtserialport,chardev=stderr,name=\(GuestPorts.stderr)",
        ]
        if sandboxed {
            arguments += ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]
        }
        if !stockKernel {
            // Free page reporting, and the balloon `update` inflates (GuestMemoryBalloon).
            arguments += ["-device", "virtio-balloon-device,free-page-reporting=on"]
        }
        if let rootDisk {
            arguments += [
                "-drive", "id=root,file=\(rootDisk.path),format=\(rootDisk.format),if=none,readonly=on",
                "-device", "virtio-blk-device,drive=root",
            ]
        }
        if let bindShare {
            arguments += [
                "-fsdev", "local,id=binds,path=\(bindShare),security_model=passthrough,multidevs=remap",
                "-device", "virtio-9p-device,fsdev=binds,mount_tag=\(GuestPorts.bindShare)",
            ]
        }
        for (number, device) in networkDevices.enumerated() {
            arguments += [
                "-netdev", "tap,id=net\(number),fd=\(device.descriptor)",
                "-device", "virtio-net-device,netdev=net\(number),mac=\(device.macText)",
            ]
        }
        if let terminalInput {
            arguments += [
                "-chardev", "pipe,id=stdin,path=\(terminalInput)",
                "-device", "virtserialport,chardev=stdin,name=\(GuestPorts.stdin)",
            ]
        } else if forwardStdin {
            arguments += [
                "-chardev", "stdio,id=stdin,signal=off",
                "-device", "virtserialport,chardev=stdin,name=\(GuestPorts.stdin)",
            ]
        }
        return arguments + extraArguments
    }
}
