import FoundationEssentials
import Glibc
import IsorunSpec
import IsorunSys

/// `isorun bench density`: how many idle instances fit, and what each costs the host.
///
/// For each runtime, instances of one idle workload are started one after another;
/// each counts as started when its first line of output arrives. With all of them up,
/// the host's used memory (MemTotal - MemAvailable) is compared with before, and the
/// proportional set size of every instance's process tree (the runtime's own process,
/// a VMM, the workload) is summed. Then all are stopped with SIGTERM.
public struct DensityScenario {
    public struct Options: Sendable {
        public var bundle: String
        public var instances: Int
        public var vmInstances: Int
        public var isorun: String
        public init(bundle: String, instances: Int, vmInstances: Int, isorun: String) {
            self.bundle = bundle
            self.instances = instances
            self.vmInstances = vmInstances
            self.isorun = isorun
        }
    }

    /// The idle workload: says it is up, then waits; exits 0 on SIGTERM in every runtime
    /// (a shell that is PID 1 of a namespace would otherwise ignore it).
    static let workload = ["sh", "-c", "trap 'exit 0' TERM; echo up; sleep 600 & wait"]

    struct Runtime {
        var name: String
        var instances: Int
        var command: (Int) -> [String]
        var unavailable: String?
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(environment: Environment) throws -> BenchReport {
        let bundle = try Bundle.load(directory: options.bundle)
        let workspace = try TemporaryDirectory()
        defer { workspace.remove() }
        let progress = Progress()
        defer { progress.finish() }
        var series: [Series] = []
        var memory: [MemoryRow] = []
        for runtime in try runtimes(bundle: bundle, workspace: workspace.path) {
            if let reason = runtime.unavailable {
                series.append(Series(name: runtime.name, command: [], samplesNanoseconds: [], skipped: reason))
                continue
            }
            let (startTimes, row, failure) = measure(runtime, progress: progress)
            series.append(Series(name: runtime.name, command: runtime.command(0), samplesNanoseconds: startTimes, skipped: failure))
            if let row { memory.append(row) }
        }
        var report = BenchReport(scenario: "density", environment: environment, series: series)
        report.memory = memory
        return report
    }

    /// Starts the instances, samples memory, stops them; never leaves one running.
    func measure(_ runtime: Runtime, progress: Progress) -> ([UInt64], MemoryRow?, String?) {
        var started: [(pid: pid_t, output: Int32)] = []
        // What each instance says on stderr, kept in memory for a stop that goes wrong.
        var stderrLogs: [Int32] = []
        defer {
            Self.stop(started)
            stderrLogs.forEach(StreamCopy.close)
        }
        let before = HostMemory.usedKiB() ?? 0
        var startTimes: [UInt64] = []
        for index in 0..<runtime.instances {
            progress.show("density: \(runtime.name) \(index + 1)/\(runtime.instances)")
            let began = MonotonicClock.nanoseconds()
            let instance: (pid: pid_t, output: Int32)
            do {
                stderrLogs.append(try Files.memoryFile(named: "density-stderr-\(index)", contents: []))
                instance = try Self.start(runtime.command(index), stderr: stderrLogs[index])
            } catch {
                return (startTimes, nil, "instance \(index + 1) did not start: \(error)")
            }
            started.append(instance)
            let line = StreamCopy.readLine(instance.output, deadline: began + 60_000_000_000)
            guard line == "up\n" else {
                return (startTimes, nil, "instance \(index + 1) did not come up (printed \(line.map { "\"\($0)\"" } ?? "nothing"))")
            }
            startTimes.append(MonotonicClock.nanoseconds() - began)
        }
        // Let lazily touched memory settle before sampling.
        usleep(1_000_000)
        let after = HostMemory.usedKiB() ?? before
        let proportional = started.map { Self.treeProportionalKiB($0.pid) }.reduce(0, +)
        let stopBegan = MonotonicClock.nanoseconds()
        let outcome = Self.stop(started, stderrLogs: stderrLogs)
        let stopped = MonotonicClock.nanoseconds() - stopBegan
        started = []
        let count = runtime.instances
        return (startTimes, MemoryRow(name: runtime.name, instances: count,
                                      hostKiBPerInstance: max(after - before, 0) / count,
                                      proportionalKiBPerInstance: proportional / count,
                                      stopMillisecondsPerInstance: Double(stopped) / 1e6 / Double(count),
                                      killedAfterTimeout: outcome.killed.isEmpty ? nil : outcome.killed,
                                      otherEndings: outcome.otherEndings.isEmpty ? nil : outcome.otherEndings), nil)
    }

    /// Starts one instance in its own session with stdout (and, if asked, stderr) on a
    /// pipe, whose read end is returned; stderr may go to a log of its own instead.
    static func start(_ command: [String], stderrToStdout: Bool = false, stderr: Int32? = nil) throws -> (pid: pid_t, output: Int32) {
        let (read, write) = try StreamCopy.makePipe()
        defer { StreamCopy.close(write) }
        var plan = SpawnPlan(arguments: command, environment: HostProcess.environment())
        plan.searchPath = HostProcess.variable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        plan.nullStdio = true
        plan.stdoutDescriptor = write
        plan.stderrToStdout = stderrToStdout
        plan.stderrDescriptor = stderr
        plan.newSession = true
        do {
            let child = try Spawner.start(plan)
            try child.release()
            return (child.pid, read)
        } catch {
            StreamCopy.close(read)
            throw error
        }
    }

    /// How `stop` found the instances: which had to be SIGKILLed, and which ended some
    /// other way than exit status 0 (an isorun that crashed on the way out would leave
    /// its state for the next run to sweep; this says so where it happened).
    struct StopOutcome {
        /// Indices of the instances still running 10 s after SIGTERM.
        var killed: [Int] = []
        /// "index: how it ended (its last line on stderr)" for each other instance that did
        /// not exit with status 0.
        var otherEndings: [String] = []
    }

    /// SIGTERM to every instance, then SIGKILL to any still there after 10 s; reaps all.
    /// Each instance leads its own session, and the signals go to its whole process
    /// group, so that a runtime's helpers go too even when the runtime's own cleanup
    /// misses them (seen once under load: bwrap's inner process outlived the outer one).
    /// isorun cleans up after itself on SIGTERM, and a SIGKILLed one is swept by the next run.
    /// The outcome is reported, so that a slow or unclean stop is seen rather than guessed
    /// from what it left; `stderrLogs` (by index, when kept) add each one's last words.
    @discardableResult
    static func stop(_ instances: [(pid: pid_t, output: Int32)], stderrLogs: [Int32] = []) -> StopOutcome {
        // Only children not reaped yet are signalled, and each is reaped last: a reaped pid
        // (and its process group id) may already belong to an unrelated process.
        let ours = instances.map { Processes.peek($0.pid) != .notOurs }
        for (instance, isOurs) in zip(instances, ours) where isOurs { Processes.signal(-instance.pid, SIGTERM) }
        let deadline = MonotonicClock.nanoseconds() + 10_000_000_000
        var outcome = StopOutcome()
        for (index, instance) in instances.enumerated() {
            defer { StreamCopy.close(instance.output) }
            guard ours[index] else { continue }
            while Processes.peek(instance.pid) == .running, MonotonicClock.nanoseconds() < deadline {
                usleep(200)  // fine enough to time a 2 ms stop
            }
            let timedOut = Processes.peek(instance.pid) == .running
            if timedOut { outcome.killed.append(index) }
            // The instance (if still there) and whatever its group still holds.
            Processes.signal(-instance.pid, SIGKILL)
            guard let ending = try? Processes.wait(instance.pid), !timedOut, ending != .exited(0) else { continue }
            let how = if case .signaled(let signal) = ending { "signal \(signal)" } else { "exit status \(ending.shellStatus)" }
            let said = index < stderrLogs.count ? Files.lastLine(of: stderrLogs[index]).map { " (\($0))" } ?? "" : ""
            outcome.otherEndings.append("\(index): \(how)\(said)")
        }
        return outcome
    }

    /// PSS of a process and all its descendants.
    static func treeProportionalKiB(_ pid: pid_t) -> Int {
        (HostMemory.proportionalKiB(of: pid) ?? 0) + HostMemory.children(of: pid).map(treeProportionalKiB).reduce(0, +)
    }

    /// The runtimes, each starting instances named `<idPrefix>-<mode>-<this pid>-<index>`:
    /// benches that borrow them (startup's stop times) name theirs apart, so that one
    /// bench's check for leftovers never counts another's live instances.
    func runtimes(bundle: Bundle, workspace: String, idPrefix: String = "density") throws -> [Runtime] {
        let isorun = options.isorun, path = bundle.directory, rootfs = bundle.rootfsPath
        let tag = HostProcess.id
        func mode(_ name: String, _ count: Int) -> Runtime {
            Runtime(name: "isorun \(name)", instances: count) { index in
                [isorun, "--mode", name, "--id", "\(idPrefix)-\(name)-\(tag)-\(index)", path, "--"] + Self.workload
            }
        }
        var runtimes = [mode("bare", options.instances), mode("sandbox", options.instances), mode("vm", options.vmInstances)]
        runtimes.append(Runtime(name: "bwrap", instances: options.instances, command: { _ in
            ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev"] + Self.workload
        }, unavailable: StartupScenario.onPath("bwrap") ? nil : "bwrap is not installed"))
        if StartupScenario.onPath("runc") {
            let runcBundle = try StartupScenario.runcBundle(from: bundle, arguments: Self.workload, in: workspace)
            runtimes.append(Runtime(name: "runc", instances: options.instances) { index in
                ["runc", "--root", "\(workspace)/runc-state", "run", "--bundle", runcBundle, "\(idPrefix)-\(tag)-\(index)"]
            })
        } else {
            runtimes.append(Runtime(name: "runc", instances: 0, command: { _ in [] }, unavailable: "runc is not installed"))
        }
        return runtimes
    }
}

/// One runtime's memory and stop cost in `density`.
public struct MemoryRow: Codable, Sendable, Equatable {
    public var name: String
    public var instances: Int
    /// Growth of the host's used memory, divided by the instances.
    public var hostKiBPerInstance: Int
    /// Summed PSS of each instance's process tree, divided by the instances.
    public var proportionalKiBPerInstance: Int
    /// Time from SIGTERM to the last instance's exit, divided by the instances.
    public var stopMillisecondsPerInstance: Double
    /// Instances (by index) still running 10 s after SIGTERM, which were SIGKILLed; nil: none.
    public var killedAfterTimeout: [Int]?
    /// "index: how it ended" for instances that ended other than with status 0 after
    /// SIGTERM (a runtime that dies of the signal instead of passing it on; a crash); nil: none.
    public var otherEndings: [String]?
}
