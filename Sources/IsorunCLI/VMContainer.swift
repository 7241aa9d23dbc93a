import ArgumentParser
import Glibc
import IsorunCore
import IsorunSpec
import IsorunSys
import IsorunVM

/// `create` in VM mode. A VM needs an owner for as long as it runs (QEMU, the output
/// relays, the guest's exit status), but `create` must return. So `create` starts a
/// monitor (this binary's hidden `vm-monitor` command, in its own session) that boots the
/// guest to its init, records the container with itself as the container's process, says
/// "ok" over a FIFO and waits for `start`; then it runs the guest's process and exits
/// with its status, which is what containerd's shim reaps, as with runc's init.
enum VMContainer {
    /// Starts the monitor and waits until the container is created or failed.
    ///
    /// With `process.terminal`, the pseudo-terminal's master goes to `consoleSocket` and the
    /// monitor gets the replica as its controlling terminal and stdio: it carries the
    /// guest terminal's two directions (see TerminalInput).
    static func create(store: ContainerStore, bundle: Bundle, id: String, consoleSocket: String?,
                       debug: Bool) throws(IsorunError) -> ContainerRecord {
        guard RuntimeRoot.isValidID(id) else { throw IsorunError("invalid container id '\(id)'") }
        do { try Files.makeDirectories(store.root.path, mode: 0o711) } catch { throw IsorunError("runtime root", error) }
        let readyPath = "\(store.root.path)/.\(id).ready"
        let ready: Int32
        do { ready = try StreamCopy.makeFifoReadWrite(readyPath) } catch { throw IsorunError("create \(id)", error) }
        defer {
            StreamCopy.close(ready)
            try? Files.remove(readyPath)
        }
        let executable: String
        do { executable = try FileTree.linkTarget("/proc/self/exe") } catch { throw IsorunError("create \(id)", error) }
        var arguments = [executable, "--root", store.root.path]
        if debug { arguments.append("--debug") }
        if LeadingGlobals.current.systemdCgroup { arguments.append("--systemd-cgroup") }
        arguments += ["vm-monitor", "--bundle", bundle.directory, "--ready", readyPath, id]
        let terminal = try PseudoTerminal.forProcess(bundle.config.process, source: "\(bundle.directory)/config.json",
                                                     consoleSocket: consoleSocket, relayed: true)
        var plan = SpawnPlan(arguments: arguments, environment: HostProcess.environment())
        plan.parentDeathSignal = 0
        plan.newSession = true
        plan.terminalDescriptor = terminal?.replica
        let monitor: pid_t
        defer { withExtendedLifetime(terminal) {} }
        do {
            let child = try Spawner.start(plan)
            try child.release()
            monitor = child.pid
        } catch let error as SystemError {
            throw IsorunError("create \(id): start the VM monitor", error)
        } catch {
            throw IsorunError("create \(id): start the VM monitor: \(error)")
        }
        // The monitor answers within its boot timeout; its own failure ends it.
        var answer: [UInt8] = []
        while !answer.contains(UInt8(ascii: "\n")) {
            _ = try? Polling.waitReadable([ready], timeoutMilliseconds: 20)
            answer += Polling.drain(ready)
            if !answer.contains(UInt8(ascii: "\n")), let ended = try? Processes.reapIfExited(monitor) {
                answer += Polling.drain(ready)
                if answer.isEmpty { throw IsorunError("create \(id): the VM monitor ended (status \(ended.shellStatus)) without an answer") }
                break
            }
        }
        let line = String(decoding: answer.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        guard line == "ok" else {
            _ = try? Processes.wait(monitor)
            throw IsorunError(line.hasPrefix("error: ") ? String(line.dropFirst(7)) : "create \(id): VM monitor said '\(line)'")
        }
        return try store.load(id)
    }
}

extension VMContainer {
    /// `update` of a VM container. The memory limit resizes what the guest may use (see
    /// GuestMemoryBalloon); CPU and block I/O limits go to QEMU's cgroup, as for any host
    /// process. What a running guest cannot take from the host's cgroup (its process limit,
    /// device rules, huge pages, swap below the limit...) is a 125 naming the field, before
    /// anything changes.
    static func update(_ record: ContainerRecord, resources: Resources, store: ContainerStore) throws(IsorunError) {
        let status = store.status(of: record)
        guard status == .running || status == .created else {
            throw IsorunError("container '\(record.id)' is \(status.rawValue): only a running or created VM can be updated")
        }
        let memory = resources.memory
        let refused: [(String, Bool)] = [
            ("pids", resources.pids != nil), ("devices", !(resources.devices ?? []).isEmpty),
            ("unified", !(resources.unified ?? [:]).isEmpty), ("hugepageLimits", !(resources.hugepageLimits ?? []).isEmpty),
            ("network", resources.network != nil), ("rdma", !(resources.rdma ?? [:]).isEmpty),
            ("memory.reservation", memory?.reservation != nil), ("memory.swappiness", memory?.swappiness != nil),
            ("memory.disableOOMKiller", memory?.disableOOMKiller != nil), ("memory.useHierarchy", memory?.useHierarchy != nil),
            // The guest has no swap: memory plus swap at or above the limit asks nothing more
            // (nor 0 or -1: none set).
            ("memory.swap", (memory?.swap).map { $0 > 0 && $0 < (memory?.limit ?? Int64.max) } ?? false),
        ]
        if let (field, _) = refused.first(where: { $0.1 }) {
            throw IsorunError("linux.resources.\(field): a VM's guest keeps it from boot (no host cgroup reaches inside); isorun can update its memory limit, CPU and block I/O")
        }
        var hostPart = resources
        hostPart.memory = nil
        if hostPart != Resources() { try store.update(record, resources: hostPart) }
        if let limit = memory?.limit {
            try GuestMemoryBalloon.setLimit(limit, stateDirectory: store.directory(of: record.id), field: "linux.resources.memory.limit")
        }
    }
}

/// The hidden command `create` starts for a VM container (see `VMContainer`).
struct VMMonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vm-monitor", abstract: "Own one VM container (started by create).",
                                                    shouldDisplay: false)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Bundle directory.") var bundle: String
    @Option(help: "FIFO to answer `create` on: ok, or error: MESSAGE.") var ready: String
    @Argument(help: "Container id.") var id: String

    func run() throws {
        let store = global.containers()
        let answer: Answer
        do { answer = Answer(descriptor: try StreamCopy.openFifoForWriting(ready)) } catch { throw IsorunError("vm-monitor", error) }
        let termination: Termination
        let heldGate = HeldStartGate()
        do throws(IsorunError) {
            let loaded: Bundle
            do { loaded = try Bundle.load(directory: bundle) } catch { throw IsorunError(error) }
            var request = RunRequest(bundle: loaded, id: id, argumentsOverride: nil)
            request.systemdCgroupPath = LeadingGlobals.current.systemdCgroup
            let id = id
            request.holdUntilStart = { state throws(IsorunError) in
                let gate = try store.makeGate(for: id, inDirectory: true)
                // Held from before `create` returns: `start` waits until it is let go.
                do throws(SystemError) { try heldGate.hold(gate) } catch {
                    StreamCopy.close(gate)
                    throw IsorunError("create start gate", error)
                }
                // Setup hooks have run by now (VMLauncher); poststart and poststop follow
                // from the Supervisor, after start and at the VM's end.
                var record = ContainerRecord(id: id, bundle: loaded.directory, mode: Mode.vm.rawValue, pid: HostProcess.id,
                                             pidStartTime: Processes.startTime(of: HostProcess.id) ?? 0,
                                             created: ContainerRecord.now(), annotations: loaded.config.annotations,
                                             cgroupDirectories: state.cgroupDirectories, hooks: nil)
                record.rootfs = loaded.rootfsPath
                try store.save(record)
                answer.say("ok")
                return gate
            }
            request.whenStarted = { heldGate.release(reporting: nil) }
            // The monitor's stderr is the container's (its console, with a terminal).
            var options = VMOptions()
            options.noticesOnTerminal = false
            termination = try Supervisor(root: store.root).run(request, with: RunOptions.launcher(for: .vm, vm: options),
                                                              keepingState: true)
        } catch {
            answer.say("error: \(error.message)")
            heldGate.release(reporting: error.message)
            throw error
        }
        throw ExitCode(termination.shellStatus)
    }
}

/// The monitor's one answer to `create`; after it the FIFO is closed (`create` has gone,
/// and a later write would raise SIGPIPE).
private final class Answer: @unchecked Sendable {
    private var descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    func say(_ line: String) {
        guard descriptor >= 0 else { return }
        try? StreamCopy.writeAll(descriptor, Array((line + "\n").utf8))
        StreamCopy.close(descriptor)
        descriptor = -1
    }
}
