import Glibc
import IsorunCgroups
import IsorunCore
import IsorunGuestProtocol
import IsorunSys

/// A running VM: QEMU is the process the supervisor waits for; the workload's
/// status arrives from isorun-init over the control port.
final class VMWorkload: Workload {
    let pid: pid_t
    let cgroup: any CgroupManager
    let control: ControlChannel
    let relays: [OutputRelay]
    /// Keystrokes for the process's terminal (`process.terminal`), or nil.
    let typing: TerminalInput?
    /// Lines typed at isorun's terminal for a process without one, or nil.
    let typed: TypedInput?
    /// The interfaces taken over from the bundle's network namespace, given back at the end.
    let network: GuestNetwork?
    /// Host devices lent to that namespace (linux.netDevices), which go back after the VM.
    let networkDevices: NetworkDeviceLoan?
    let accelerator: Accelerator
    let consoleLog: String
    let qmpSocket: String
    private var cleaned = false
    /// Set once the guest runs its process: `isorun exec` connects there.
    private var exec: VMExecService?
    /// The exec socket made before `start` returns, so that an `exec` right after it
    /// finds the socket; its connections wait in the backlog until `acceptExec`.
    private var pendingExec: VMExecService?

    init(pid: pid_t, cgroup: any CgroupManager, control: ControlChannel, relays: [OutputRelay], typing: TerminalInput? = nil,
         typed: TypedInput? = nil, network: GuestNetwork? = nil, networkDevices: NetworkDeviceLoan? = nil,
         accelerator: Accelerator, consoleLog: String, qmpSocket: String) {
        self.pid = pid
        self.cgroup = cgroup
        self.control = control
        self.relays = relays
        self.typing = typing
        self.typed = typed
        self.network = network
        self.networkDevices = networkDevices
        self.accelerator = accelerator
        self.consoleLog = consoleLog
        self.qmpSocket = qmpSocket
    }

    /// `create` in VM mode: the guest is up and waits for its process; this waits for
    /// `start` (a byte on the gate) while copying what the guest prints, and fails if QEMU
    /// ends first.
    func waitForStart(gate: Int32) throws(IsorunError) {
        let pidFD: Int32
        do { pidFD = try Processes.openPidFD(pid) } catch { throw IsorunError("supervise QEMU", error) }
        defer { close(pidFD) }
        while true {
            let ready: [Int32]
            do { ready = try Polling.waitReadable([gate, pidFD] + relayedDescriptors) } catch { throw IsorunError("wait for start", error) }
            for descriptor in relayedDescriptors where ready.contains(descriptor) { relay(from: descriptor) }
            if ready.contains(pidFD) { throw failure("QEMU exited before the container was started") }
            if ready.contains(gate), !Polling.drain(gate).isEmpty { return }
        }
    }

    /// The workload is PID 2 of the guest; isorun-init delivers signals to it, and
    /// their default actions apply there.
    var isNamespaceInit: Bool { false }

    var relayedDescriptors: [Int32] {
        relays.filter(\.isOpen).map(\.descriptor) + (exec.map { $0.descriptors + [control.readableDescriptor] } ?? [])
            + (typing?.descriptor.map { [$0] } ?? []) + (typed?.descriptor.map { [$0] } ?? [])
    }

    func relay(from descriptor: Int32) {
        if let typing, descriptor == typing.descriptor {
            typing.pump()
            return
        }
        if let typed, descriptor == typed.descriptor {
            typed.pump(to: control)
            return
        }
        if let exec {
            if descriptor == control.readableDescriptor {
                control.takeExecMessages().forEach(exec.deliver)
                return
            }
            if exec.descriptors.contains(descriptor) {
                exec.serve(descriptor, control: control)
                return
            }
        }
        relays.first { $0.descriptor == descriptor }?.pump()
    }

    /// Listens on the exec socket before the container is started: `start` returns as
    /// soon as the supervisor has its byte, and a client's `exec` right after it must not
    /// find the socket missing (CI saw ENOENT).
    func openExecSocket(stateDirectory: String) {
        do { pendingExec = try VMExecService(stateDirectory: stateDirectory) } catch {
            Log.warning("exec into this VM is not available: \(error)")
        }
    }

    /// The guest runs its process: from now on `isorun exec` may add others.
    func acceptExec() {
        exec = pendingExec
        pendingExec = nil
    }

    func deliver(signal: Int32) {
        // A resized console: the guest's terminal takes the new size, and its kernel tells
        // the process (SIGWINCH) as a terminal does.
        if signal == SIGWINCH, let size = typing?.terminal?.windowSize {
            do { try control.send([.terminal(rows: size.rows, columns: size.columns)]) } catch {
                Log.warning("could not pass the terminal's new size to the guest: \(error)")
            }
            return
        }
        do { try control.send([.signal(signal)]) } catch {
            Log.warning("could not forward signal \(signal) to the guest: \(error)")
        }
    }

    /// Waits for isorun-init's `ready`; a guest that does not get there in time, or a
    /// QEMU that exits first, is an error that quotes the end of the console.
    func waitUntilGuestReady(timeoutSeconds: Double) throws(IsorunError) {
        let started = MonotonicClock.nanoseconds()
        switch try waitForGuest(.ready, deadline: started + UInt64(timeoutSeconds * 1e9)) {
        case .arrived:
            let elapsed = Double(MonotonicClock.nanoseconds() - started) / 1e6
            Log.debug("vm: guest init ready after \(Int(elapsed)) ms (\(accelerator.rawValue))")
        case .qemuExited(let status):
            throw failure("QEMU exited (status \(status)) before the guest reached isorun-init")
        case .timedOut:
            throw failure("the guest did not reach isorun-init within \(Self.seconds(timeoutSeconds)) s "
                          + "(accelerator \(accelerator.rawValue))")
        }
    }

    /// isorun-init says when it has exec'd the process, or why it could not.
    func waitUntilProcessRuns() throws(IsorunError) {
        // No deadline: startContainer hooks have their own timeouts, and QEMU's end is watched.
        if case .qemuExited(let status) = try waitForGuest(.started, deadline: .max) {
            throw failure("QEMU exited (status \(status)) before the container's process started")
        }
    }

    private enum GuestWait {
        case arrived
        case qemuExited(status: String)
        case timedOut
    }

    /// Relays what the guest prints until `wanted` arrives; isorun-init's `error` is thrown.
    private func waitForGuest(_ wanted: GuestMessage, deadline: UInt64) throws(IsorunError) -> GuestWait {
        let pidFD: Int32
        do { pidFD = try Processes.openPidFD(pid) } catch { throw IsorunError("supervise QEMU", error) }
        defer { close(pidFD) }
        while true {
            switch try control.next(watching: pidFD, relaying: relayedDescriptors, deadline: deadline) {
            case .message(wanted):
                return .arrived
            case .message(let message) where message.execID != nil:
                exec?.deliver(message)
            case .message(.error(let text)):
                throw IsorunError("guest init: \(text)")
            case .message:
                continue
            case .relayReady(let descriptor):
                relay(from: descriptor)
            case .watchedDescriptorReady:
                if case .error(let text)? = control.receiveAvailable().first(where: { if case .error = $0 { true } else { false } }) {
                    throw IsorunError("guest init: \(text)")
                }
                return .qemuExited(status: (try? Processes.reapIfExited(pid)).flatMap { $0 }.map { "\($0.shellStatus)" } ?? "?")
            case .timedOut:
                return .timedOut
            }
        }
    }

    /// QEMU has exited: the workload's status is the guest's last `exit` message.
    func workloadTermination(from termination: Termination) throws(IsorunError) -> Termination {
        relays.forEach { $0.drainToEnd() }
        for message in control.receiveAvailable().reversed() {
            switch message {
            case .exit(let status):
                return status > 128 && status < 128 + 65 ? .signaled(status - 128) : .exited(status)
            case .error(let text):
                throw IsorunError("guest init: \(text)")
            default:
                continue
            }
        }
        let console = ConsoleLog(path: consoleLog)
        if let panic = console.panicLine {
            throw failure("the guest kernel panicked: \(panic)")
        }
        throw failure("QEMU ended (status \(termination.shellStatus)) without a result from the guest")
    }

    /// Logs the console's last lines (kernel messages) and returns the one-line error.
    private func failure(_ message: String) -> IsorunError {
        for line in ConsoleLog(path: consoleLog).lastLines(12) { Log.error("console: \(line)") }
        return IsorunError("vm: \(message)")
    }

    func cleanUp() {
        guard !cleaned else { return }
        cleaned = true
        exec = nil
        typing?.restore()
        // Once the supervisor has reaped QEMU its pid may name another process: only an
        // unreaped child of ours is stopped.
        if Processes.peek(pid) != .notOurs { VMMShutdown.stop(pid, qmpSocket: qmpSocket) }
        network?.undo()
        networkDevices?.giveBack()
        do { try cgroup.killAllAndDestroy(afterKilling: Processes.reapAnyExited) } catch { Log.warning("\(error)") }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value))" : "\(value)"
    }
}

/// The guest's serial console as QEMU wrote it.
struct ConsoleLog {
    let path: String

    func lastLines(_ count: Int) -> [String] {
        let text = (try? Files.readString(path)) ?? ""
        return text.split(whereSeparator: \.isNewline).suffix(count).map(String.init)
    }

    /// The kernel's panic line, if the guest panicked.
    var panicLine: String? {
        let text = (try? Files.readString(path)) ?? ""
        return text.split(whereSeparator: \.isNewline).first { $0.contains("Kernel panic") }.map(String.init)
    }
}
