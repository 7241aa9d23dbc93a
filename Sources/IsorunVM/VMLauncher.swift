import IsorunCgroups
import IsorunCore
import IsorunGuestProtocol
import IsorunSandbox
import IsorunSpec
import IsorunSys

/// What a user can choose about the VM besides the bundle.
public struct VMOptions: Sendable, Equatable {
    public var accelerator: AcceleratorChoice = .auto
    /// Overrides `vm.kernel.path` and the built kernel.
    public var kernel: String?
    /// How long the guest may take to reach isorun-init before the run fails.
    public var bootTimeoutSeconds: Double = 60
    /// Initramfs or disk image for the rootfs (default: by size).
    public var rootLayout: RootLayout = .automatic
    /// Whether a person at isorun's terminal is told what VM mode chose (the accelerator,
    /// a fallback kernel or QEMU). Not when that terminal is the container's own console.
    public var noticesOnTerminal = true

    public init(accelerator: AcceleratorChoice = .auto, kernel: String? = nil, bootTimeoutSeconds: Double = 60,
                rootLayout: RootLayout = .automatic) {
        self.accelerator = accelerator
        self.kernel = kernel
        self.bootTimeoutSeconds = bootTimeoutSeconds
        self.rootLayout = rootLayout
    }
}

/// VM mode: the bundle's rootfs becomes the initramfs of a QEMU micro-VM with its own
/// kernel; isorun-init (PID 1 in the guest) runs the process and reports its status.
///
/// QEMU is the one process isorun owns and reaps here. It runs in the run's cgroup
/// (so cleanup can kill it by cgroup even after a SIGKILL of isorun), in its own
/// session (the terminal's Ctrl-C reaches isorun, which forwards it to the workload
/// instead of letting QEMU die of it), with SIGKILL as its parent-death signal.
public struct VMLauncher: Launcher {
    public var mode: Mode { .vm }
    /// The control FIFO, output FIFOs, QMP socket and console log live beside the record.
    public var needsStateDirectory: Bool { true }
    public let options: VMOptions
    let probe: AcceleratorProbe

    public init(options: VMOptions, probe: AcceleratorProbe = .host()) {
        self.options = options
        self.probe = probe
    }

    public func launch(_ request: RunRequest, state: RunState) throws(IsorunError) -> any Workload {
        let started = MonotonicClock.nanoseconds()
        func elapsed() -> String { "\((MonotonicClock.nanoseconds() - started) / 1_000_000) ms" }
        let process = try request.process
        let configFile = "\(request.bundle.directory)/config.json"
        let basePlan = try ProcessSettings.basePlan(for: process, configFile: configFile)
        if request.bundle.config.linux?.seccomp?.notifiesAgent == true {
            throw IsorunError("\(configFile): linux.seccomp: SCMP_ACT_NOTIFY needs an agent on the host, which the guest cannot reach")
        }
        // The VM is the boundary, but the bundle still says what its process may do inside
        // it: isorun-init applies these as the sandbox does (the filter compiled here).
        let privileges = try WorkloadPrivileges(process: process, seccomp: request.bundle.config.linux?.seccomp,
                                                configFile: configFile)
        let cache = GuestImageCache(directory: CacheLocation.directory)
        if HostProcess.isRootless {
            // Else the first file it could not write would be reported as missing.
            guard (try? Files.makeDirectories(cache.directory)) != nil, Files.isWritable(cache.directory) else {
                throw IsorunError("vm: the image cache \(cache.directory) is not this user's (uid \(HostProcess.userID)): point XDG_CACHE_HOME or ISORUN_CACHE at a directory of the user's own")
            }
        }
        let kernel = try GuestArtifacts.kernel(explicit: options.kernel, bundle: request.bundle,
                                               cacheDirectory: CacheLocation.holding("kernel"))
        if kernel.isStockFallback {
            tell("using Debian's stock kernel \(kernel.path): isorun's own could not be built (make kernel); boots are slower")
        }
        let hypervisor = GuestArtifacts.hypervisor(configured: request.bundle.config.vm?.hypervisor?.path,
                                                   cacheDirectory: CacheLocation.holding("qemu"))
        if hypervisor.isSystemFallback {
            tell("using the system's \(hypervisor.path): isorun's own QEMU is not built (make qemu); each VM holds ~30 MiB more")
        }
        let guestInit = GuestInitFiles(binary: try GuestArtifacts.initBinary(), modules: kernel.modules)
        let root: GuestImageCache.GuestRoot
        if let image = request.bundle.config.vm?.image {
            // config-vm.md: the bundle brings its own root disk; the rootfs directory is not used.
            root = GuestImageCache.GuestRoot(initramfs: try cache.initOnlyInitramfs(guestInit),
                                             diskImage: image.path, diskFormat: image.format,
                                             diskFilesystem: "auto", rootfsBytes: 0)
        } else {
            root = try cache.prepare(rootfs: request.bundle.rootfsPath, guestInit: guestInit, layout: options.rootLayout)
        }

        Log.debug("vm: guest images ready after \(elapsed())")
        let (accelerator, reason) = probe.resolve(options.accelerator)
        tell(reason ?? "using \(accelerator == .kvm ? "KVM" : "TCG emulation") (--accel \(options.accelerator.rawValue))")
        // The initramfs occupies guest RAM; a disk image is read on demand.
        let initramfsBytes = (try? Files.identity(of: root.initramfs).size) ?? 0
        let resources = try GuestResources(resources: request.bundle.config.linux?.resources,
                                           hardware: request.bundle.config.vm?.hwConfig,
                                           initramfsBytes: initramfsBytes,
                                           hostCPUs: HostProcess.onlineCPUs, configFile: configFile)
        if request.holdUntilStart != nil {
            // A container's memory limit may be updated later (GuestMemoryBalloon).
            try GuestMemoryBalloon.recordOverhead(GuestResources.overheadMiB(initramfsBytes: initramfsBytes),
                                                  stateDirectory: state.directory)
        }

        let control = try ControlChannel(base: "\(state.directory)/control")
        // process.terminal: the guest gives the process a pseudo-terminal; isorun's stdin
        // (a console's replica, or the user's terminal, made raw) feeds it.
        let typing = process.terminal == true ? try TerminalInput(base: "\(state.directory)/stdin", source: 0) : nil
        let typed = process.terminal != true && HostProcess.isTerminal(0) ? TypedInput() : nil
        let relays = [try OutputRelay(fifo: "\(state.directory)/stdout", target: 1),
                      try OutputRelay(fifo: "\(state.directory)/stderr", target: 2)]
        let mounts = try GuestMounts(bundle: request.bundle, stateDirectory: state.directory)
        if mounts.shareDirectory != nil && kernel.isStockFallback {
            throw IsorunError("\(configFile): mounts: bind mounts in VM mode need isorun's own guest kernel (make kernel); Debian's stock cloud kernel \(kernel.path) has no 9p")
        }
        let lent = try Self.lendNetworkDevices(of: request.bundle, state: state)
        let network: GuestNetwork
        // The namespace the guest's interfaces come from: the one the config joins, or the
        // one made for the devices it lends.
        let networkNamespace = request.bundle.config.linux?.namespace(.network)?.path ?? lent?.pinPath
        do { network = try GuestNetwork(bundle: request.bundle, namespacePath: networkNamespace, state: state) } catch {
            lent?.giveBack()
            throw error
        }
        if request.bundle.config.linux?.namespace(.network) == nil {
            // A container without a network namespace shares the host's network; a guest cannot.
            tell("\(configFile): no network namespace: in VM mode the guest has loopback only (the host's network stays the host's)")
        }
        if !network.devices.isEmpty && kernel.isStockFallback {
            network.undo()
            lent?.giveBack()
            throw IsorunError("\(configFile): linux.namespaces: a network namespace with interfaces needs isorun's own guest kernel in VM mode (make kernel); Debian's stock cloud kernel \(kernel.path) has virtio-net only as a module isorun-init does not load")
        }
        let sharesFiles = !mounts.hostBinds.isEmpty
        let boots = [kernel.path, root.initramfs] + (root.diskImage.map { [$0] } ?? [])
        let identity = VMMIdentity.forVM(owner: HostProcess.id, accelerator: accelerator, boots: boots,
                                         configuredHypervisor: hypervisor.isConfigured)
        // QEMU creates its QMP socket here, which its own uid (if any) must be able to do.
        let monitorDirectory = "\(state.directory)/vmm"
        do { try Files.makeDirectory(monitorDirectory, mode: 0o700) } catch { throw IsorunError("vm: state", error) }
        let consoleLog = "\(state.directory)/console.log"
        let commandLine = QemuCommandLine(
            executable: hypervisor.path,
            accelerator: accelerator, kernel: kernel.path, initramfs: root.initramfs, stockKernel: kernel.isStockFallback,
            rootDisk: root.diskImage.map { (path: $0, format: root.diskFormat) },
            memoryMiB: resources.memoryMiB, vCPUs: resources.vCPUs,
            hostTSCKilohertz: accelerator == .tcg ? HostClock.tscKilohertz() : nil,
            extraKernelParameters: request.bundle.config.vm?.kernel?.parameters ?? [],
            consoleLog: consoleLog, controlPipe: control.base,
            qmpSocket: Self.qmpSocket(stateDirectory: state.directory), stdoutFifo: relays[0].fifo, stderrFifo: relays[1].fifo,
            forwardStdin: !HostProcess.isTerminal(0), terminalInput: typing?.base,
            bindShare: mounts.shareDirectory, networkDevices: network.devices, guestIPv6: network.needsIPv6,
            sandboxed: hypervisor.hasSandbox, extraArguments: request.bundle.config.vm?.hypervisor?.parameters ?? [])
        Log.debug("vm: accelerator \(accelerator.rawValue), \(resources.vCPUs) vCPU, \(resources.memoryMiB) MiB")
        Log.debug("vm: \(commandLine.arguments.joined(separator: " "))")

        let cgroup: any CgroupManager
        let pid: Int32
        do throws(IsorunError) {
            // QEMU gets no resource limits of its own: the bundle's limits size the guest.
            cgroup = try WorkloadCgroup.manager(for: request, resources: nil)
            try WorkloadCgroup.create(cgroup, resources: nil, state: state)
            var plan = SpawnPlan(arguments: commandLine.arguments, environment: HostProcess.environment())
            if let directory = commandLine.workingDirectory { plan.workingDirectory = directory }
            plan.searchPath = HostProcess.variable("PATH") ?? ProcessSettings.defaultSearchPath
            plan.newSession = true
            // The guest's RAM is QEMU's memory: the host's NUMA nodes are the ones that count.
            plan.memoryPolicy = ProcessSettings.memoryPolicy(request.bundle.config.linux)
            // QEMU's `-netdev tap,fd=N`: the taps under their numbers.
            plan.keptDescriptors = network.devices.map(\.descriptor)
            // What QEMU opens in the state directory: the console log (made here, since it
            // may not create files beside the run's record), its FIFOs, and the directory
            // it makes its socket in.
            do { try Files.write(consoleLog, bytes: [], create: true, mode: 0o600) } catch { throw IsorunError("vm: console log", error) }
            let talk = [monitorDirectory, consoleLog, "\(control.base).in", "\(control.base).out"]
                + relays.map(\.fifo) + (typing.map { ["\($0.base).in", "\($0.base).out"] } ?? [])
            // Rootless, only root of a user namespace of its own may make those mounts.
            let ownUserNamespace = sharesFiles && HostProcess.isRootless
            if !HostProcess.isRootless && VMMJail.holds(hypervisor, searchPath: plan.searchPath ?? ProcessSettings.defaultSearchPath) {
                // The binds it shares go into its root (see VMMJail).
                let reads = boots + (hypervisor.buildDirectory.map { [$0] } ?? [])
                try VMMJail.plan(stateDirectory: state.directory, readOnly: reads, talk: talk, shares: mounts.hostBinds,
                                 accelerator: accelerator).apply(to: &plan)
            } else if sharesFiles {
                // QEMU's own mount namespace holds the binds it shares (see GuestMounts).
                plan.cloneFlags |= NamespaceFlags.mount | (ownUserNamespace ? NamespaceFlags.user : 0)
                plan.mounts = mounts.hostBinds
            }
            try Self.confine(&plan, sharesFiles: sharesFiles, ownUserNamespace: ownUserNamespace)
            if let identity {
                try identity.handOver(talk, in: state.directory)
                plan.user = (identity.uid, identity.gid, identity.groups)
            }
            pid = try WorkloadCgroup.spawn(plan, into: cgroup, for: request) { pid throws(IsorunError) in
                if ownUserNamespace { try NamespacePlan.mapCallerToRoot(pid: pid) }
                try state.recordProcess(pid)
            }
        } catch {
            network.undo()
            lent?.giveBack()
            throw error
        }
        network.closeDescriptors()
        Log.debug("vm: QEMU (pid \(pid)) started after \(elapsed())")
        let workload = VMWorkload(pid: pid, cgroup: cgroup, control: control, relays: relays, typing: typing, typed: typed,
                                  network: network, networkDevices: lent, accelerator: accelerator, consoleLog: commandLine.consoleLog,
                                  qmpSocket: commandLine.qmpSocket)
        let hooks = request.bundle.config.hooks
        /// What the guest needs to start the process, `start` last.
        func guestMessages() throws(IsorunError) -> [GuestMessage] {
            var messages = GuestProcess.messages(for: basePlan, bundle: request.bundle, privileges: privileges)
            if let startContainer = hooks?.startContainer, !startContainer.isEmpty {
                // In the container, as its process: the guest runs them before the process.
                messages += startContainer.map {
                    .startContainerHook(path: $0.path, arguments: $0.args ?? [], environment: $0.env ?? [], timeoutSeconds: $0.timeout ?? 0)
                }
                messages.append(.hookState(request.hookState(pid: pid, status: .created).json(pretty: false)))
            }
            if typed != nil { messages.append(.typedInput) }
            if let typing {
                let size = GuestTerminalSize.of(process, host: typing.terminal)
                messages.append(.terminal(rows: size.rows, columns: size.columns))
            }
            let readOnly = request.bundle.config.root?.readonly ?? false
            if root.diskImage != nil {
                messages.append(.rootDisk(device: QemuCommandLine.rootDiskDevice, filesystem: root.diskFilesystem,
                                          readOnly: readOnly))
            } else if readOnly {
                messages.append(.readOnlyRoot)
            }
            // The guest mounts proc, sys and dev itself; the bundle's tmpfs and bind mounts follow.
            return messages + network.messages + mounts.messages + [.start]
        }
        let hostHooks = [hooks?.prestart, hooks?.createRuntime, hooks?.createContainer].contains { !($0 ?? []).isEmpty }
        do throws(IsorunError) {
            // With nothing to do on the host between boot and start (`run` without setup
            // hooks), the process is queued now: the guest reads it as it opens its port,
            // a host round trip (~20 ms under TCG) sooner than after its `ready`.
            var sent = false
            if !hostHooks && request.holdUntilStart == nil {
                sent = try control.sendIfItFitsUnread(try guestMessages())
            }
            try workload.waitUntilGuestReady(timeoutSeconds: options.bootTimeoutSeconds)
            // The VM is the container's runtime environment: with the guest at its init, the
            // setup hooks run on the host, in the spec's order (QEMU is the container's process).
            let creating = request.hookState(pid: pid, status: .creating)
            try LifecycleHooks.run(hooks?.prestart ?? [], phase: "prestart", state: creating)
            try LifecycleHooks.run(hooks?.createRuntime ?? [], phase: "createRuntime", state: creating)
            try LifecycleHooks.run(hooks?.createContainer ?? [], phase: "createContainer", state: creating)
            workload.openExecSocket(stateDirectory: state.directory)
            if let holdUntilStart = request.holdUntilStart {
                try workload.waitForStart(gate: try holdUntilStart(state))
            }
            if !sent { try control.send(try guestMessages()) }
            workload.acceptExec()
        } catch {
            workload.cleanUp()
            throw error
        }
        return workload
    }
}

extension VMLauncher {
    /// QMP's socket, in the directory QEMU may write (see VMMIdentity).
    static func qmpSocket(stateDirectory: String) -> String { "\(stateDirectory)/vmm/qmp.sock" }

    /// The capabilities 9p's `passthrough` needs to serve the bundle's bind mounts as the
    /// host has them: files made with the guest's owners, and owners' rights over them.
    static let fileServerCapabilities = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
                                         "CAP_MKNOD"]

    /// QEMU needs none of root's powers, as Firecracker's jailer has it: the taps come as
    /// descriptors, the bind mounts are made before exec, and /dev/kvm opens for root or
    /// through its group. So every capability goes (all but the file server's when the VM
    /// shares host files), and no_new_privs keeps them gone; `-sandbox` adds QEMU's own
    /// seccomp filter where the binary has one, and VMMIdentity a uid of its own. A rootless
    /// QEMU outside a user namespace of its own has no capabilities to drop (nor the right
    /// to drop them).
    static func confine(_ plan: inout SpawnPlan, sharesFiles: Bool, ownUserNamespace: Bool) throws(IsorunError) {
        plan.noNewPrivileges = true
        guard !HostProcess.isRootless || ownUserNamespace else { return }
        plan.capabilities = try CapabilityPlan.keeping(sharesFiles ? fileServerCapabilities : [])
    }

    /// linux.netDevices in a VM: the devices go into the network namespace the VM joins,
    /// or for a new one (which would leave the guest loopback alone) into a namespace made
    /// for them, pinned beside the run's record by the loan. The guest then takes over the
    /// namespace's interfaces (GuestNetwork) as it does a CNI plugin's.
    static func lendNetworkDevices(of bundle: Bundle, state: RunState) throws(IsorunError) -> NetworkDeviceLoan? {
        guard let devices = bundle.config.linux?.netDevices, !devices.isEmpty else { return nil }
        let configFile = "\(bundle.directory)/config.json"
        if let path = bundle.config.linux?.namespace(.network)?.path {
            return try NetworkDeviceLoan.lend(devices, toNamespaceAt: path, state: state, configFile: configFile)
        }
        guard let made = PreparedNetworkNamespace() else {
            throw IsorunError("\(configFile): linux.netDevices: no process could be started to make a network namespace for them")
        }
        // The loan's pin holds the namespace from here on.
        defer { made.close() }
        let namespace: Int32
        do { namespace = try made.descriptor() } catch { throw IsorunError("\(configFile): linux.netDevices", error) }
        return try NetworkDeviceLoan.lend(devices, to: namespace, state: state, configFile: configFile)
    }
}

/// The process the guest runs, as control messages.
enum GuestProcess {
    static func messages(for plan: SpawnPlan, bundle: Bundle, privileges: WorkloadPrivileges) -> [GuestMessage] {
        let hostname = bundle.config.hostname
        var messages = plan.arguments.map(GuestMessage.argument) + plan.environment.map(GuestMessage.environment)
        messages.append(.workingDirectory(plan.workingDirectory ?? "/"))
        if let user = plan.user { messages.append(.user(uid: user.uid, gid: user.gid, groups: user.groups)) }
        if let mask = plan.umask { messages.append(.umask(UInt32(mask))) }
        if let hostname { messages.append(.hostname(hostname)) }
        if let domainname = bundle.config.domainname { messages.append(.domainname(domainname)) }
        messages += plan.resourceLimits.map { .resourceLimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) }
        if let scheduler = plan.scheduler {
            messages.append(.scheduler(policy: scheduler.policy, flags: scheduler.flags, nice: scheduler.nice,
                                       priority: scheduler.priority, runtime: scheduler.runtime, deadline: scheduler.deadline,
                                       period: scheduler.period))
        }
        if let priority = plan.ioPriority { messages.append(.ioPriority(priority)) }
        if let score = bundle.config.process?.oomScoreAdj { messages.append(.oomScoreAdjustment(Int32(score))) }
        // The guest is the workload's alone: its sysctls need no namespace.
        for (key, value) in (bundle.config.linux?.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            messages.append(.sysctl(key: key, value: value))
        }
        if bundle.config.hasNamespace(.time) {
            messages.append(.timeNamespace(offsets: TimeOffset.timensLines(bundle.config.linux?.timeOffsets) ?? ""))
        }
        if let pids = bundle.config.linux?.resources?.pids?.limit, pids > 0 {
            messages.append(.processLimit(pids))
        }
        let caps = privileges.capabilities
        messages.append(.capabilities(effective: caps.effective, permitted: caps.permitted, inheritable: caps.inheritable,
                                      bounding: caps.bounding, ambient: caps.ambient))
        if privileges.noNewPrivileges { messages.append(.noNewPrivileges) }
        messages.append(.seccompFilter(privileges.seccompFilter.instructions))
        if privileges.seccompFlags != 0 { messages.append(.seccompFlags(privileges.seccompFlags)) }
        return messages
    }
}

/// Says once per run, on a terminal, what a user would not assume (emulation instead
/// of KVM, a stock kernel instead of isorun's, a guest without the host's network);
/// scripts and tests see it only with --debug, so the workload's stderr stays its own.
extension VMLauncher {
    /// A notice for a person at the terminal; only --debug shows it anywhere else, where
    /// stderr is the workload's.
    func tell(_ reason: String) {
        if options.noticesOnTerminal && HostProcess.isTerminal(2) { Log.notice("\(reason)") } else { Log.debug("\(reason)") }
    }
}

/// Host facts QEMU's command line needs.
enum HostClock {
    /// The host TSC frequency in kHz. Under TCG the guest reads the host's TSC, and a
    /// microvm guest has no PIT/HPET to measure it against, so the kernel is told.
    static func tscKilohertz() -> Int? {
        guard let cpuinfo = try? Files.readString("/proc/cpuinfo"),
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("cpu MHz") }),
              let value = line.split(separator: ":").last,
              let mhz = Double(value.filter { $0 != " " && $0 != "\t" }) else { return nil }
        return Int((mhz * 1000).rounded())
    }
}
