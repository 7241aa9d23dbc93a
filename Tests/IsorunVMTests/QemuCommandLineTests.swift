import Testing
import IsorunGuestProtocol
@testable import IsorunVM

struct QemuCommandLineTests {
    func commandLine(_ accelerator: Accelerator, stdin: Bool = false) -> QemuCommandLine {
        QemuCommandLine(accelerator: accelerator, kernel: "/k/vmlinux", initramfs: "/c/x.cpio", memoryMiB: 160, vCPUs: 2,
                        hostTSCKilohertz: accelerator == .tcg ? 2_596_142 : nil, consoleLog: "/s/console.log",
                        controlPipe: "/s/control", qmpSocket: "/s/qmp.sock", stdoutFifo: "/s/stdout",
                        stderrFifo: "/s/stderr", forwardStdin: stdin)
    }

    func value(after flag: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: flag).map { arguments[$0 + 1] }
    }

    @Test func tcgUsesMicrovmAndTellsTheGuestItsTSC() {
        let arguments = commandLine(.tcg).arguments
        #expect(value(after: "-accel", in: arguments) == "tcg")
        #expect(value(after: "-M", in: arguments)?.hasPrefix("microvm") == true)
        #expect(value(after: "-m", in: arguments) == "160")
        #expect(value(after: "-smp", in: arguments) == "2")
        let append = value(after: "-append", in: arguments) ?? ""
        #expect(append.contains("tsc_early_khz=2596142"))
        #expect(append.contains("rdinit=/.isorun/init"))
        #expect(append.contains("panic=-1"))
        for flag in ["-nodefaults", "-no-user-config", "-no-reboot"] { #expect(arguments.contains(flag)) }
    }

    /// What hands an idle VM's freed memory back: free page reporting, which isorun's
    /// kernel can honour at a small order.
    @Test func freedGuestPagesAreReported() {
        let arguments = commandLine(.tcg).arguments
        #expect(arguments.contains("virtio-balloon-device,free-page-reporting=on"))
        #expect((value(after: "-append", in: arguments) ?? "").contains("page_reporting.page_reporting_order=5"))
    }

    /// Patching `lock` prefixes away for one CPU costs ~120 ms of a TCG boot and buys nothing there.
    @Test func oneVCPUUnderTCGKeepsTheKernelsSMPCode() {
        var line = commandLine(.tcg)
        #expect(!(value(after: "-append", in: line.arguments) ?? "").contains("noreplace-smp"))
        line.vCPUs = 1
        #expect((value(after: "-append", in: line.arguments) ?? "").contains("noreplace-smp"))
        line.accelerator = .kvm
        #expect(!(value(after: "-append", in: line.arguments) ?? "").contains("noreplace-smp"))
    }

    @Test func theGuestWaitsForStdinOnlyWhenPromised() {
        let line = "console=ttyS0 quiet rdinit=/.isorun/init isorun.stdin=1".split(separator: " ")
        #expect(GuestPorts.attached(kernelParameters: line).contains(GuestPorts.stdin))
        let without = GuestPorts.attached(kernelParameters: "console=ttyS0 quiet".split(separator: " "))
        #expect(without == [GuestPorts.control, GuestPorts.stdout, GuestPorts.stderr])
    }

    @Test func kvmPathHasNoTCGAssumptions() {
        let arguments = commandLine(.kvm).arguments
        #expect(value(after: "-accel", in: arguments) == "kvm")
        #expect(value(after: "-cpu", in: arguments) == "host")
        #expect(!(value(after: "-append", in: arguments) ?? "").contains("tsc_early_khz"))
    }

    /// A socket path holds 107 bytes: a longer QMP socket is bound by name from its directory.
    @Test func aLongQMPSocketPathIsBoundByNameFromItsDirectory() {
        var line = commandLine(.tcg)
        #expect(value(after: "-qmp", in: line.arguments) == "unix:/s/qmp.sock,server=on,wait=off")
        #expect(line.workingDirectory == nil)
        line.qmpSocket = "/tmp/isorun-podman.WrGGeu/runtime-root/isorun/" + String(repeating: "d", count: 64) + "/qmp.sock"
        #expect(value(after: "-qmp", in: line.arguments) == "unix:qmp.sock,server=on,wait=off")
        #expect(line.workingDirectory == "/tmp/isorun-podman.WrGGeu/runtime-root/isorun/" + String(repeating: "d", count: 64))
    }

    /// Bind mounts: one 9p device over the share directory, only when there is one.
    @Test func bindMountsShareOneDirectoryOver9p() {
        var line = commandLine(.tcg)
        #expect(!line.arguments.contains("-fsdev"))
        line.bindShare = "/s/binds"
        let arguments = line.arguments
        #expect(value(after: "-fsdev", in: arguments) == "local,id=binds,path=/s/binds,security_model=passthrough,multidevs=remap")
        #expect(arguments.contains("virtio-9p-device,fsdev=binds,mount_tag=\(GuestPorts.bindShare)"))
    }

    /// The interfaces a VM takes over: a virtio-net device per tap, on the descriptor QEMU
    /// inherits, with the interface's own MAC.
    @Test func eachTakenOverInterfaceIsAVirtioNetDeviceOnItsTap() {
        var line = commandLine(.tcg)
        #expect(!line.arguments.contains("-netdev"))
        line.networkDevices = [.init(descriptor: 7, mac: [0x02, 0x42, 0xac, 0x11, 0x00, 0x0a]),
                               .init(descriptor: 9, mac: [0xfe, 0, 0, 0, 0, 1])]
        let arguments = line.arguments
        #expect(arguments.filter { $0 == "-netdev" }.count == 2)
        #expect(arguments.contains("tap,id=net0,fd=7"))
        #expect(arguments.contains("virtio-net-device,netdev=net0,mac=02:42:ac:11:00:0a"))
        #expect(arguments.contains("tap,id=net1,fd=9"))
        #expect(arguments.contains("virtio-net-device,netdev=net1,mac=fe:00:00:00:00:01"))
    }

    /// IPv6 costs a boot ~20-25 ms under TCG: only a guest with IPv6 addresses starts it,
    /// and the bundle's own parameters, last, may turn it back on.
    @Test func theGuestStartsIPv6OnlyWhenItHasIPv6Addresses() {
        var line = commandLine(.tcg)
        #expect(line.kernelParameters.contains("ipv6.disable=1"))
        line.guestIPv6 = true
        #expect(!line.kernelParameters.contains("ipv6.disable=1"))
        line.guestIPv6 = false
        line.extraKernelParameters = ["ipv6.disable=0"]
        #expect(line.kernelParameters.last == "ipv6.disable=0")
    }

    @Test func workloadStreamsHaveTheirOwnPorts() {
        let arguments = commandLine(.tcg).arguments
        let ports = arguments.filter { $0.hasPrefix("virtserialport,") }
        #expect(ports.count == 3)
        #expect(ports.contains { $0.hasSuffix("name=isorun.stdout") })
        #expect(ports.contains { $0.hasSuffix("name=isorun.stderr") })
        #expect(value(after: "-serial", in: arguments) == "file:/s/console.log")
        #expect(commandLine(.tcg, stdin: true).arguments.contains { $0.hasSuffix("name=isorun.stdin") })
    }

    /// isorun-init waits for exactly the ports the kernel command line promises: run from a
    /// terminal, isorun attaches no stdin port, and a guest that waited for one lost a second.
    @Test func theGuestIsToldWhetherAStdinPortExists() {
        let without = commandLine(.tcg).arguments
        #expect(!without.contains { $0.hasSuffix("name=isorun.stdin") })
        #expect(!(value(after: "-append", in: without) ?? "").contains("isorun.stdin"))
        #expect(value(after: "-append", in: commandLine(.tcg, stdin: true).arguments)?
            .split(separator: " ").contains("isorun.stdin=1") == true)
        var typing = commandLine(.kvm)
        typing.terminalInput = "/s/typing"
        #expect(value(after: "-append", in: typing.arguments)?.split(separator: " ").contains("isorun.stdin=1") == true)
    }
}

struct AcceleratorProbeTests {
    @Test func pvmStyleKVMWithoutVMXFallsBackToTCG() {
        let probe = AcceleratorProbe(kvmDeviceOpens: true, cpuFlags: ["fpu", "sse2", "hypervisor"])
        let (accelerator, reason) = probe.resolve(.auto)
        #expect(accelerator == .tcg)
        #expect(reason?.contains("vmx/svm") == true)
    }

    @Test func hardwareVirtualizationUsesKVM() {
        #expect(AcceleratorProbe(kvmDeviceOpens: true, cpuFlags: ["vmx"]).resolve(.auto).accelerator == .kvm)
        #expect(AcceleratorProbe(kvmDeviceOpens: true, cpuFlags: ["svm"]).resolve(.auto).accelerator == .kvm)
        #expect(AcceleratorProbe(kvmDeviceOpens: false, cpuFlags: ["vmx"]).resolve(.auto).accelerator == .tcg)
    }

    @Test func explicitChoiceWins() {
        let probe = AcceleratorProbe(kvmDeviceOpens: false, cpuFlags: [])
        #expect(probe.resolve(.kvm).accelerator == .kvm)
        #expect(AcceleratorProbe(kvmDeviceOpens: true, cpuFlags: ["vmx"]).resolve(.tcg).accelerator == .tcg)
    }
}
