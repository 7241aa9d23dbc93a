import Glibc
import IsorunSpec
import IsorunSys

/// The state document of runtime.md: what `isorun state` prints and what every hook
/// reads on its stdin.
public struct ContainerState: Sendable {
    public var ociVersion = "1.3.0"
    public var id: String
    public var status: String
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]?
    /// runc's extra fields; hooks get none of them (runtime.md has none).
    public var created: String?
    public var rootfs: String?
    public var owner: String?

    public init(id: String, status: String, pid: Int32?, bundle: String, annotations: [String: String]?, created: String?) {
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
        self.created = created
    }

    /// Pretty for a person (`isorun state`), compact for a hook's stdin. Written without
    /// `JSONEncoder`, whose first use cost `state` ~0.7 ms, in its keys' sorted order.
    public func json(pretty: Bool = true) -> String {
        var writer = JSONWriter(pretty: pretty)
        write(to: &writer)
        return writer.text
    }

    /// The states of several containers, as one compact array (`list --format json`).
    public static func json(_ states: [ContainerState]) -> String {
        var writer = JSONWriter()
        writer.array { writer in for state in states { state.write(to: &writer) } }
        return writer.text
    }

    package func write(to writer: inout JSONWriter) {
        writer.object { writer in
            if let annotations { writer.key("annotations"); writer.stringMap(annotations) }
            writer.key("bundle"); writer.string(bundle)
            if let created { writer.key("created"); writer.string(created) }
            writer.key("id"); writer.string(id)
            writer.key("ociVersion"); writer.string(ociVersion)
            if let owner { writer.key("owner"); writer.string(owner) }
            if let pid { writer.key("pid"); writer.integer(pid) }
            if let rootfs { writer.key("rootfs"); writer.string(rootfs) }
            writer.key("status"); writer.string(status)
        }
    }
}

/// The OCI hooks of one container (config.md, "POSIX-platform Hooks") and where each
/// kind runs: prestart and createRuntime by isorun on the host while the child waits
/// before pivot_root; createContainer and startContainer by the child itself, in the
/// container's namespaces (see the shim); poststart after `start`, poststop after `delete`.
public struct LifecycleHooks: Sendable {
    public let hooks: Hooks

    public init?(_ hooks: Hooks?) {
        guard let hooks else { return nil }
        self.hooks = hooks
    }

    /// The hooks that run on the host before pivot_root, in the spec's order.
    var runtimeNamespaceHooks: [Hook] { (hooks.prestart ?? []) + (hooks.createRuntime ?? []) }

    /// Puts the child's part of the hooks in its plan.
    func apply(to plan: inout SpawnPlan) {
        plan.hookBarrier = !runtimeNamespaceHooks.isEmpty
        plan.createContainerHooks = (hooks.createContainer ?? []).map(Self.spawnHook)
        plan.startContainerHooks = (hooks.startContainer ?? []).map(Self.spawnHook)
    }

    private static func spawnHook(_ hook: Hook) -> SpawnPlan.Hook {
        SpawnPlan.Hook(path: hook.path, arguments: hook.args, environment: hook.env, timeout: hook.timeout)
    }

    /// Runs `hooks` in order on the host, each with `state` on stdin; throws on the first
    /// that fails (the spec's rule for prestart, createRuntime, createContainer and, since
    /// runtime-spec 1.3, poststart).
    /// `state` is built only when there are hooks: a state copies the bundle's annotations,
    /// and the first copy of that dictionary type costs a runtime type lookup (~0.15 ms).
    public static func run(_ hooks: [Hook]?, phase: String, state: @autoclosure () -> ContainerState) throws(IsorunError) {
        guard let hooks, !hooks.isEmpty else { return }
        let document = Array(state().json(pretty: false).utf8)
        for hook in hooks { try run(hook, phase: phase, document: document) }
    }

    /// Runs `hooks` on the host and logs failures as warnings: a poststop failure must
    /// not stop the lifecycle. (`state` as in `run`.)
    public static func runWarningOnFailure(_ hooks: [Hook]?, phase: String, state: @autoclosure () -> ContainerState) {
        guard let hooks, !hooks.isEmpty else { return }
        let document = Array(state().json(pretty: false).utf8)
        for hook in hooks {
            do { try run(hook, phase: phase, document: document) } catch {
                Log.warning("\(error)")
            }
        }
    }

    private static func run(_ hook: Hook, phase: String, document: [UInt8]) throws(IsorunError) {
        let what = "\(phase) hook \(hook.path)"
        var plan = SpawnPlan(arguments: hook.args ?? [hook.path], environment: hook.env ?? [])
        plan.executable = hook.path
        let input: Int32
        do { input = try Files.memoryFile(named: "hook-state", contents: document) } catch { throw IsorunError(what, error) }
        defer { StreamCopy.close(input) }
        plan.stdinDescriptor = input
        let child: PendingChild
        do {
            child = try Spawner.start(plan)
            try child.release()
        } catch let error as SystemError {
            throw IsorunError(what, error)
        } catch {
            throw IsorunError("\(what): \(error)")
        }
        let deadline = hook.timeout.map { MonotonicClock.nanoseconds() + UInt64($0) * 1_000_000_000 }
        var termination: Termination?
        while termination == nil {
            do { termination = try Processes.reapIfExited(child.pid) } catch { throw IsorunError(what, error) }
            guard termination == nil else { break }
            if let deadline, MonotonicClock.nanoseconds() > deadline {
                Processes.signal(child.pid, SIGKILL)
                _ = try? Processes.wait(child.pid)
                throw IsorunError("\(what): timed out after \(hook.timeout ?? 0) s")
            }
            usleep(1_000)
        }
        switch termination {
        case .exited(let code)? where code != 0: throw IsorunError("\(what): exited with status \(code)")
        case .signaled(let signal)?: throw IsorunError("\(what): killed by signal \(signal)")
        default: break
        }
    }
}
