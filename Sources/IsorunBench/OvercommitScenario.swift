import FoundationEssentials
import Glibc
import IsorunCgroups
import IsorunSpec
import IsorunSys

/// `isorun bench overcommit`: the seed's overprovisioning example scaled to this host.
///
/// WebServer1, WebServer2, DBServer and AppServer get CPUs and memory in the seed's
/// proportions (vCPU 4:4:6:4, memory 8:8:12:8; 18 vCPU and 36 GB on an 8-core,
/// 32 GB host), so that together they are promised more than they have: here
/// 2.25 CPUs per core, and 1.125× a memory budget. The budget is a parent cgroup
/// (the "host" of the experiment), never the real machine's memory, so that the
/// over-commitment hurts only the four. Phases: all idle; DBServer fills 90 % of its
/// memory and spins; then all four do. Per phase and instance: alive or killed, and
/// the CPU progress rate it got.
public struct OvercommitScenario {
    public struct Options: Sendable {
        public var bundle: String
        public var budgetMiB: Int
        public var phaseSeconds: Double
        public var isorun: String
        public var modes: [String]
        public init(bundle: String, budgetMiB: Int, phaseSeconds: Double, isorun: String,
                    modes: [String] = ["bare", "sandbox", "vm"]) {
            self.bundle = bundle
            self.budgetMiB = budgetMiB
            self.phaseSeconds = phaseSeconds
            self.isorun = isorun
            self.modes = modes
        }
    }

    struct Instance {
        var name: String
        var cpuShare: Int      // the seed's vCPU proportion
        var memoryShare: Int   // the seed's memory proportion
    }

    static let instances = [
        Instance(name: "WebServer1", cpuShare: 4, memoryShare: 8),
        Instance(name: "WebServer2", cpuShare: 4, memoryShare: 8),
        Instance(name: "DBServer", cpuShare: 6, memoryShare: 12),
        Instance(name: "AppServer", cpuShare: 4, memoryShare: 8),
    ]

    /// Idles until SIGUSR1, then fills 90 % of its memory (tmpfs pages are charged to
    /// it, in a VM to the guest) and spins, printing a dot per batch.
    static func workload(fillMiB: Int, fillPath: String) -> [String] {
        ["sh", "-c", "p=0; trap 'p=1' USR1; echo up; while [ $p = 0 ]; do sleep 0.1; done; "
            + "dd if=/dev/zero of=\(fillPath) bs=1M count=\(fillMiB) 2>/dev/null; "
            + "while :; do i=0; while [ $i -lt 200 ]; do i=$((i+1)); done; echo -n .; done"]
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(environment: Environment) throws -> OvercommitReport {
        let bundle = try Bundle.load(directory: options.bundle)
        let workspace = try TemporaryDirectory()
        defer { workspace.remove() }
        let progress = Progress()
        defer { progress.finish() }
        let cores = HostProcess.onlineCPUs
        // The seed promises 18 vCPU on 8 cores and 36 GB on 32 GB: keep both ratios.
        let memoryUnitMiB = Double(options.budgetMiB) * 36 / 32 / 36
        let cpuUnit = Double(cores) * 18 / 8 / 18
        var results: [OvercommitResult] = []
        for mode in options.modes {
            let tag = "overcommit-\(HostProcess.id)-\(mode)"
            let layout = try CgroupLayout.detect()
            // The experiment's "host": a parent cgroup with the memory budget. It names cpu too
            // (v1 picks its hierarchies from that) so that the cpu directory the instances'
            // quotas nest in is made and removed here; only the memory limit is applied.
            let budget = MemoryResources(limit: Int64(options.budgetMiB) << 20)
            let host = Cgroups.manager(layout: layout, relativePath: "isorun/\(tag)",
                                       resources: Resources(memory: budget, cpu: CPUResources(shares: 1024)))
            try host.create()
            try host.apply(Resources(memory: budget))
            defer { try? host.destroy() }
            var running: [(Instance, WatchedProcess)] = []
            defer {
                for (_, process) in running { process.stop() }
                for name in (try? Files.list("/dev/shm")) ?? [] where name.hasPrefix(tag) { try? Files.remove("/dev/shm/\(name)") }
            }
            for instance in Self.instances {
                progress.show("overcommit: \(mode), starting \(instance.name)")
                let memoryMiB = Int(Double(instance.memoryShare) * memoryUnitMiB)
                let directory = try Self.bundle(from: bundle, instance: instance, memoryMiB: memoryMiB,
                                                cpus: Double(instance.cpuShare) * cpuUnit, cgroupParent: tag, in: workspace.path)
                // Bare mode has only the host's /dev/shm (files removed below); the others a
                // private /tmp tmpfs as large as their memory.
                let fillPath = mode == "bare" ? "/dev/shm/\(tag)-\(instance.name)" : "/tmp/fill"
                let command = [options.isorun, "--mode", mode, "--id", "\(tag)-\(instance.name)", directory, "--"]
                    + Self.workload(fillMiB: memoryMiB * 9 / 10, fillPath: fillPath)
                let process = try WatchedProcess(command)
                running.append((instance, process))
                guard process.waitForOutput(seconds: 60) else {
                    throw BenchError("\(instance.name) did not start in \(mode) mode")
                }
            }
            for phase in ["idle", "DBServer pushing", "all pushing"] {
                progress.show("overcommit: \(mode), \(phase)")
                if phase == "DBServer pushing" { running.first { $0.0.name == "DBServer" }?.1.deliver(SIGUSR1) }
                if phase == "all pushing" { for (instance, process) in running where instance.name != "DBServer" { process.deliver(SIGUSR1) } }
                let rates = WatchedProcess.rates(of: running.map(\.1), over: options.phaseSeconds)
                for ((instance, process), rate) in zip(running, rates) {
                    let alive = process.isRunning
                    let peak = alive ? Self.memoryPeakMiB(layout: layout, path: "isorun/\(tag)/\(instance.name)") : nil
                    results.append(OvercommitResult(mode: mode, phase: phase, instance: instance.name,
                                                    alive: alive, dotsPerSecond: rate, peakMiB: peak))
                }
            }
            for (_, process) in running { process.stop() }
            running = []
        }
        let plan = Self.instances.map { instance in
            OvercommitPlan(instance: instance.name, cpus: Double(instance.cpuShare) * cpuUnit,
                           memoryMiB: Int(Double(instance.memoryShare) * memoryUnitMiB))
        }
        return OvercommitReport(environment: environment, budgetMiB: options.budgetMiB, cores: cores, plan: plan, results: results)
    }

    /// The most memory an instance's cgroup has held so far (in VM mode that includes QEMU
    /// and the guest RAM it touched).
    static func memoryPeakMiB(layout: CgroupLayout, path: String) -> Int? {
        let cgroup = Cgroups.manager(layout: layout, relativePath: path,
                                     resources: Resources(memory: MemoryResources(limit: 1)))
        return cgroup.limits().memoryPeakBytes.map { Int($0 >> 20) }
    }

    /// An instance's bundle: the same rootfs, its CPU and memory limit, its cgroup under the experiment's host.
    static func bundle(from bundle: Bundle, instance: Instance, memoryMiB: Int, cpus: Double, cgroupParent: String,
                       in workspace: String) throws -> String {
        var config = bundle.config
        config.root?.path = bundle.rootfsPath
        config.hostname = instance.name
        config.linux?.cgroupsPath = "\(cgroupParent)/\(instance.name)"
        // /tmp becomes a tmpfs that can hold the whole fill (the guest honours it too).
        config.mounts = (config.mounts ?? []).filter { $0.destination != "/tmp" } + [
            Mount(destination: "/tmp", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=\(memoryMiB)m"], type: "tmpfs"),
        ]
        config.linux?.resources = Resources(memory: MemoryResources(limit: Int64(memoryMiB) << 20),
                                            cpu: CPUResources(quota: Int64(cpus * 100_000), period: 100_000),
                                            pids: PidsResources(limit: 256))
        let directory = "\(workspace)/\(cgroupParent)-\(instance.name)"
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/config.json", String(decoding: try JSONEncoder().encode(config), as: UTF8.self), create: true)
        return directory
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

public struct OvercommitPlan: Codable, Sendable, Equatable {
    public var instance: String
    public var cpus: Double
    public var memoryMiB: Int
}

public struct OvercommitResult: Codable, Sendable, Equatable {
    public var mode: String
    public var phase: String
    public var instance: String
    public var alive: Bool
    public var dotsPerSecond: Double
    /// Peak memory of the instance's cgroup up to the end of the phase; nil once killed.
    public var peakMiB: Int?
}

public struct OvercommitReport: ScenarioReport, Codable, Sendable, Equatable {
    public static let scenario = "overcommit"
    public var charts: [String: String] { ["overcommit.svg": svg] }

    public var environment: Environment
    public var budgetMiB: Int
    public var cores: Int
    public var plan: [OvercommitPlan]
    public var results: [OvercommitResult]

    public func markdown() -> String {
        let totalCPUs = plan.reduce(0) { $0 + $1.cpus }, totalMiB = plan.reduce(0) { $0 + $1.memoryMiB }
        var lines = [
            "# isorun bench overcommit", "",
            "Promised: \(format(totalCPUs)) CPUs on \(cores) cores, \(totalMiB) MiB in a \(budgetMiB) MiB budget "
                + "(the experiment's parent cgroup). Each instance fills 90 % of its memory and spins once told to push; "
                + "the rate is its progress (dots/s) over the phase. Host: Linux \(environment.kernel), VM accelerator "
                + "\(environment.accelerator).", "",
            "| instance | CPUs | memory (MiB) |", "|---|---|---|",
        ]
        for entry in plan { lines.append("| \(entry.instance) | \(format(entry.cpus, decimals: 2)) | \(entry.memoryMiB) |") }
        let modes = results.reduce(into: [String]()) { if !$0.contains($1.mode) { $0.append($1.mode) } }
        let phases = results.reduce(into: [String]()) { if !$0.contains($1.phase) { $0.append($1.phase) } }
        for mode in modes {
            lines += ["", "## \(mode)", "", "| phase | " + plan.map(\.instance).joined(separator: " | ") + " |",
                      "|---|" + plan.map { _ in "---|" }.joined()]
            for phase in phases {
                let cells = plan.map { entry -> String in
                    guard let result = results.first(where: { $0.mode == mode && $0.phase == phase && $0.instance == entry.instance })
                    else { return "—" }
                    guard result.alive else { return "**killed**" }
                    return "\(format(result.dotsPerSecond, decimals: 0))/s" + (result.peakMiB.map { ", \($0) MiB" } ?? "")
                }
                lines.append("| \(phase) | " + cells.joined(separator: " | ") + " |")
            }
        }
        lines += ["", "![CPU progress with all four pushing](overcommit.svg)", ""]
        return lines.joined(separator: "\n")
    }

    /// The last phase as bars, one per mode and instance: what each got when all pushed.
    public var svg: String {
        let phase = results.last?.phase ?? ""
        let bars = results.filter { $0.phase == phase }.map { result in
            BarChart.Bar(label: "\(result.mode) · \(result.instance)" + (result.alive ? "" : " (killed)"),
                         value: result.alive ? result.dotsPerSecond : 0)
        }
        return BarChart(title: "Overcommit, \(phase): CPU progress per instance", unit: "dots/s", bars: bars,
                        whiskerNote: false).svg
    }
}
