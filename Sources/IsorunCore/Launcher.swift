import Glibc
import IsorunSpec
import IsorunSys

/// The way a bundle is run. Each mode is one `Launcher`; adding a mode adds a type, not an `if`.
public enum Mode: String, Sendable, CaseIterable {
    case bare, sandbox, vm
}

/// What to run: the bundle and the run's identity.
public struct RunRequest: Sendable {
    public let bundle: Bundle
    public let id: String
    /// Replaces `process.args` (the CLI's arguments after `--`).
    public let argumentsOverride: [String]?
    /// `isorun create`: a FIFO descriptor the workload waits on before exec, after which
    /// it outlives isorun (no parent-death signal); nil for a supervised run.
    public var startGateDescriptor: Int32?
    /// `create --console-socket`: the pseudo-terminal replica the process gets as its
    /// controlling terminal and stdio (`process.terminal`), and its /dev/pts path.
    public var terminal: (descriptor: Int32, path: String)?
    /// `--systemd-cgroup`: `cgroupsPath` is systemd's `slice:prefix:name`.
    public var systemdCgroupPath = false
    /// `--preserve-fds`, `--no-pivot`, `--no-new-keyring`.
    public var setup = ProcessSetup()
    /// `create` in VM mode: called once the guest is ready to run the process; records the
    /// container and returns the start gate, which the launcher waits on before the
    /// process starts (a VM boots at `create`, so `start` is fast).
    public var holdUntilStart: (@Sendable (RunState) throws(IsorunError) -> Int32)?
    /// `create` in VM mode: called once the process runs and its poststart hooks have
    /// succeeded, which is when `start` may return (see HeldStartGate).
    public var whenStarted: (@Sendable () -> Void)?
    /// `create` in a sandbox: called with the container process's pid once it has been
    /// released to set itself up, while it does (the parent records the container then,
    /// instead of after). The launch fails, and the process is killed, when it throws.
    public var whileSettingUp: (@Sendable (pid_t) throws(IsorunError) -> Void)?

    public init(bundle: Bundle, id: String, argumentsOverride: [String]?) {
        self.bundle = bundle
        self.id = id
        self.argumentsOverride = argumentsOverride
    }

    /// Applies the bundle's hooks and what `isorun create` asks of the workload's plan.
    public func applyLifecycle(to plan: inout SpawnPlan) {
        hooks?.apply(to: &plan)
        plan.terminalDescriptor = terminal?.descriptor
        plan.preservedDescriptors = setup.preservedDescriptors
        plan.noPivotRoot = setup.noPivotRoot
        guard let gate = startGateDescriptor else { return }
        plan.startGateDescriptor = gate
        plan.parentDeathSignal = 0
    }

    public var hooks: LifecycleHooks? { LifecycleHooks(bundle.config.hooks) }

    /// The state document hooks read while the container is being set up.
    public func hookState(pid: pid_t?, status: ContainerStatus) -> ContainerState {
        ContainerState(id: id, status: status.rawValue, pid: pid, bundle: bundle.directory,
                       annotations: bundle.config.annotations, created: nil)
    }

    /// The process to run, with the override applied.
    public var process: IsorunSpec.Process {
        get throws(IsorunError) {
            guard var process = bundle.config.process else {
                throw IsorunError("\(bundle.directory)/config.json: process: no process to run")
            }
            if let override = argumentsOverride, !override.isEmpty { process.args = override }
            guard let args = process.args, !args.isEmpty else {
                throw IsorunError("\(bundle.directory)/config.json: process.args: no command to run")
            }
            return process
        }
    }
}

/// Starts a workload in one mode. The supervisor owns everything after that.
public protocol Launcher {
    var mode: Mode { get }
    /// True when the launcher keeps files of its own (FIFOs, sockets) in the run's state,
    /// which then is a directory rather than the record alone.
    var needsStateDirectory: Bool { get }
    /// Starts the workload. Resources it creates are recorded in `state` before
    /// they exist, so a run killed at any point can be cleaned up by the next one.
    func launch(_ request: RunRequest, state: RunState) throws(IsorunError) -> any Workload
}

extension Launcher {
    public var needsStateDirectory: Bool { false }
}

/// A started workload: one process isorun waits for and a way to tear everything down.
public protocol Workload: AnyObject {
    /// The process the supervisor owns and reaps (the workload itself, or its VMM).
    var pid: pid_t { get }
    /// True when the workload is PID 1 of its own PID namespace: the kernel then drops
    /// signals it does not handle, and the supervisor emulates their default action.
    var isNamespaceInit: Bool { get }
    /// Sends a signal to the workload.
    func deliver(signal: Int32)
    /// Maps the owned process's end to the workload's (a VMM reports the guest's status).
    func workloadTermination(from termination: Termination) throws(IsorunError) -> Termination
    /// Descriptors the supervisor watches besides the process: output the workload
    /// produces through an intermediary (a VMM) that isorun copies to its own stdio.
    var relayedDescriptors: [Int32] { get }
    /// Copies what is waiting on one of `relayedDescriptors`.
    func relay(from descriptor: Int32)
    /// Returns once the user's process has exec'd, or throws why it could not; the
    /// poststart hooks run after it, and a container's `start` returns after them. A
    /// launcher that execs the process itself has done so when `launch` returns.
    func waitUntilProcessRuns() throws(IsorunError)
    /// Kills whatever the workload left and removes what the launcher created. Idempotent.
    func cleanUp()
}

extension Workload {
    public func deliver(signal: Int32) { Processes.signal(pid, signal) }
    public func workloadTermination(from termination: Termination) throws(IsorunError) -> Termination { termination }
    public var relayedDescriptors: [Int32] { [] }
    public func relay(from descriptor: Int32) {}
    public func waitUntilProcessRuns() throws(IsorunError) {}
}
