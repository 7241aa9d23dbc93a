import Glibc
import FoundationEssentials
import IsorunCore
import IsorunSpec
import IsorunSys
import IsorunVM

/// `isorun bench startup`: create-to-exit time of one short workload (`/bin/true` in
/// the bundle) in each mode, with the host binary, bwrap and runc as peers measured in
/// the same run, interleaved so that drifting machine load hits every series alike.
public struct StartupScenario {
    public struct Options: Sendable {
        public var bundle: String
        public var runs: Int
        /// VM boots take ~100× longer than a process start: they get fewer runs.
        public var vmRuns: Int
        public var isorun: String
        public init(bundle: String, runs: Int, vmRuns: Int, isorun: String) {
            self.bundle = bundle
            self.runs = runs
            self.vmRuns = vmRuns
            self.isorun = isorun
        }
    }

    struct Peer {
        var name: String
        var command: [String]
        var runs: Int
        /// Why it cannot run here, or nil.
        var unavailable: String?
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(environment: Environment) throws -> BenchReport {
        let workspace = try TemporaryDirectory()
        defer { workspace.remove() }
        var timed = options
        timed.isorun = try Self.privateCopy(of: options.isorun, in: workspace.path)
        return try StartupScenario(options: timed).report(environment: environment, workspace: workspace)
    }

    /// isorun, and the isorun-oci and isorun-init beside it, copied into `workspace`
    /// under their own names (isorun-oci and VM mode find their siblings there, and
    /// isorun still knows its command line): the copy of isorun is what the scenario
    /// times. isorun itself cannot be primed (see `primePageCache`) while this process
    /// runs from its pages; a copy nothing has mapped can, whatever the page cache did
    /// to the build since `make release`. Here that was up to 0.3-0.5 ms of every start.
    static func privateCopy(of isorun: String, in workspace: String) throws -> String {
        let directory = "\(workspace)/bin"
        try Files.makeDirectory(directory, mode: 0o755)
        for name in ["isorun", "isorun-oci", "isorun-init"] {
            let original = Files.sibling(name, of: isorun)
            guard name == "isorun" || Files.exists(original) else { continue }
            let copy = try OutputFile(creating: "\(directory)/\(name)", mode: 0o755)
            try copy.append(contentsOf: original)
            try copy.close()
        }
        return "\(directory)/isorun"
    }

    func report(environment: Environment, workspace: TemporaryDirectory) throws -> BenchReport {
        let bundle = try Bundle.load(directory: options.bundle)
        let progress = Progress()
        defer { progress.finish() }
        primePageCache(bundle: bundle, progress: progress)
        var series = measure(try peers(bundle: bundle, workspace: workspace.path), progress: progress)
        series += try stopTimes(bundle: bundle, workspace: workspace.path, progress: progress)
        series += provisioning(bundle: bundle, workspace: workspace.path, progress: progress)
        series += try lifecycle(bundle: bundle, workspace: workspace.path, progress: progress)
        series += try execTimes(bundle: bundle, workspace: workspace.path, progress: progress)
        var report = BenchReport(scenario: "startup", environment: environment, series: series)
        report.targets = SpeedTargets.check(series)
        report.method = "isorun, isorun-oci and isorun-init are timed as private copies in the run's workspace. Before "
            + "timing, each timed program (isorun, isorun-oci, runc, bwrap, `/bin/true` and the bundle's "
            + "`true`) is read back into the page cache in 2 MiB folios, as `make release` does for isorun; then one "
            + "untimed run of each, and the timed runs round by round."
        report.groupNotes = [
            Self.stopGroup: "An idle instance (a shell that exits on SIGTERM) is started and waited for; timed from "
                + "SIGTERM to the runtime's process being reaped, with everything it started gone and cleaned up.",
            Self.provisionGroup: "Bundle to first exit when nothing is cached: for a VM, isorun builds the guest's "
                + "initramfs (or erofs image) from the rootfs and caches it by content; later runs reuse it. "
                + "Bare and sandbox modes use the rootfs directory in place and have nothing to provision.",
            Self.lifecycleGroup: "What containerd does per container: `create`, `start` and `delete --force` of a container "
                + "whose process is /bin/true, the three commands timed one by one and added up (the cycle youki's "
                + "published table measures), isorun and runc interleaved on the same bundle. isorun-oci is the binary "
                + "containerd runs: it does `start` and `delete` itself and hands `create` to isorun.",
            Self.execGroup: "What an exec probe costs (Kubernetes runs one per container every few seconds): "
                + "`exec ID /bin/true` into a running container whose process sleeps, waited for, isorun and runc "
                + "interleaved. isorun-oci hands `exec` to isorun, so isorun stands for both.",
        ]
        return report
    }

    static let stopGroup = "stop", provisionGroup = "provision", lifecycleGroup = "lifecycle", execGroup = "exec"

    /// Every program this scenario times gets its page cache in 2 MiB folios, as
    /// Benchmarks/startup/run.sh does before hyperfine (see `PageCache`): isorun, isorun-oci,
    /// runc, bwrap and both `true`s. One that cannot be read is timed as its cache is. Pages
    /// a process has mapped stay as they were, which is why isorun is timed as a copy.
    func primePageCache(bundle: Bundle, progress: Progress) {
        let programs = [options.isorun, Files.sibling("isorun-oci", of: options.isorun), "/bin/true",
                        "\(bundle.rootfsPath)/bin/true"] + ["runc", "bwrap"].compactMap(Self.pathOf)
        for program in programs where Files.exists(program) {
            progress.show("page cache: \(program)")
            do { try PageCache.reloadInHugeFolios(program) } catch { Log.debug("page cache of \(program) left as it was: \(error)") }
        }
    }

    /// `exec ID /bin/true` into one running container per runtime, round by round.
    func execTimes(bundle: Bundle, workspace: String, progress: Progress) throws -> [Series] {
        let container = try Self.runcBundle(from: bundle, arguments: ["sleep", "3600"], in: workspace)
        let id = "bench-exec-\(HostProcess.id)"
        var runtimes = [("isorun", [options.isorun, "--root", "\(workspace)/isorun-exec-root"])]
        if Self.onPath("runc") { runtimes.append(("runc", ["runc", "--root", "\(workspace)/runc-exec-root"])) }
        var samples: [String: [UInt64]] = [:]
        var failures: [String: String] = [:]
        for (name, runtime) in runtimes {
            do {
                _ = try CommandTimer.time(runtime + ["create", "--bundle", container, id])
                _ = try CommandTimer.time(runtime + ["start", id])
            } catch {
                failures[name] = "\(error)"
            }
        }
        // Deleted whatever happened, created or not.
        defer { for (_, runtime) in runtimes { _ = try? CommandTimer.time(runtime + ["delete", "--force", id]) } }
        for round in 0..<options.runs {
            for (name, runtime) in runtimes where failures[name] == nil {
                progress.show("exec: \(name) \(round + 1)/\(options.runs)")
                do { samples[name, default: []].append(try CommandTimer.time(runtime + ["exec", id, "/bin/true"])) } catch {
                    failures[name] = "\(error)"
                }
            }
        }
        var series = runtimes.map { name, runtime in
            Series(name: "\(name) exec", command: runtime + ["exec", "ID", "/bin/true"],
                   samplesNanoseconds: failures[name] == nil ? samples[name] ?? [] : [], skipped: failures[name],
                   group: Self.execGroup)
        }
        if !Self.onPath("runc") {
            series.append(Series(name: "runc exec", command: [], samplesNanoseconds: [], skipped: "runc is not installed",
                                 group: Self.execGroup))
        }
        return series
    }

    /// create + start + delete, isorun beside runc, round by round.
    func lifecycle(bundle: Bundle, workspace: String, progress: Progress) throws -> [Series] {
        let container = try Self.runcBundle(from: bundle, arguments: ["/bin/true"], in: workspace)
        func cycle(_ runtime: [String]) -> (String) -> [[String]] {
            { id in [runtime + ["create", "--bundle", container, id], runtime + ["start", id], runtime + ["delete", "--force", id]] }
        }
        var runtimes = [("isorun", cycle([options.isorun, "--root", "\(workspace)/isorun-root"]))]
        // The binary containerd is configured with (Sources/isorun-oci), when it was built.
        let front = Files.sibling("isorun-oci", of: options.isorun)
        if access(front, X_OK) == 0 {
            runtimes.insert(("isorun-oci", cycle([front, "--root", "\(workspace)/isorun-oci-root"])), at: 0)
        }
        if Self.onPath("runc") { runtimes.append(("runc", cycle(["runc", "--root", "\(workspace)/runc-root"]))) }
        var samples: [String: [UInt64]] = [:]
        var failures: [String: String] = [:]
        for round in 0..<options.runs {
            for (name, commands) in runtimes where failures[name] == nil {
                progress.show("lifecycle: \(name) \(round + 1)/\(options.runs)")
                do {
                    var total: UInt64 = 0
                    for command in commands("bench-\(HostProcess.id)-\(round)") { total += try CommandTimer.time(command) }
                    samples[name, default: []].append(total)
                } catch {
                    failures[name] = "\(error)"
                }
            }
        }
        var series = runtimes.map { name, commands in
            Series(name: "\(name) create+start+delete", command: Array(commands("ID").flatMap { $0 + [";"] }.dropLast()),
                   samplesNanoseconds: failures[name] == nil ? samples[name] ?? [] : [], skipped: failures[name],
                   group: Self.lifecycleGroup)
        }
        if !Self.onPath("runc") {
            series.append(Series(name: "runc create+start+delete", command: [], samplesNanoseconds: [],
                                 skipped: "runc is not installed", group: Self.lifecycleGroup))
        }
        return series
    }

    /// The main series: each peer's create-to-exit time, interleaved round by round.
    func measure(_ peers: [Peer], progress: Progress) -> [Series] {
        var samples: [String: [UInt64]] = [:]
        var skipped: [String: String] = [:]
        for peer in peers { if let reason = peer.unavailable { skipped[peer.name] = reason } }
        // Warm-up: one untimed run each (page cache, image caches), which also checks it works.
        for peer in peers where skipped[peer.name] == nil {
            progress.show("warming up \(peer.name)")
            do { _ = try CommandTimer.time(peer.command) } catch { skipped[peer.name] = "\(error)" }
        }
        let rounds = peers.map(\.runs).max() ?? 0
        for round in 0..<rounds {
            for peer in peers where skipped[peer.name] == nil && round < peer.runs {
                progress.show("startup: \(peer.name) \(round + 1)/\(peer.runs)")
                do { samples[peer.name, default: []].append(try CommandTimer.time(peer.command)) } catch {
                    skipped[peer.name] = "\(error)"
                }
            }
        }
        return peers.map { peer in
            Series(name: peer.name, command: peer.command, samplesNanoseconds: skipped[peer.name] == nil ? samples[peer.name] ?? [] : [],
                   skipped: skipped[peer.name])
        }
    }

    /// SIGTERM-to-gone for an idle instance of each runtime (density's idle workload).
    func stopTimes(bundle: Bundle, workspace: String, progress: Progress) throws -> [Series] {
        let density = DensityScenario(options: .init(bundle: options.bundle, instances: options.runs,
                                                     vmInstances: options.vmRuns, isorun: options.isorun))
        return try density.runtimes(bundle: bundle, workspace: workspace, idPrefix: "stop").map { runtime in
            if let reason = runtime.unavailable {
                return Series(name: runtime.name, command: [], samplesNanoseconds: [], skipped: reason, group: Self.stopGroup)
            }
            var samples: [UInt64] = []
            for index in 0..<runtime.instances {
                progress.show("stop: \(runtime.name) \(index + 1)/\(runtime.instances)")
                guard let instance = try? DensityScenario.start(runtime.command(index)) else {
                    return Series(name: runtime.name, command: runtime.command(0), samplesNanoseconds: [],
                                  skipped: "did not start", group: Self.stopGroup)
                }
                let line = StreamCopy.readLine(instance.output, deadline: MonotonicClock.nanoseconds() + 60_000_000_000)
                let began = MonotonicClock.nanoseconds()
                DensityScenario.stop([instance])
                guard line == "up\n" else {
                    return Series(name: runtime.name, command: runtime.command(0), samplesNanoseconds: [],
                                  skipped: "did not come up", group: Self.stopGroup)
                }
                samples.append(MonotonicClock.nanoseconds() - began)
            }
            return Series(name: runtime.name, command: runtime.command(0), samplesNanoseconds: samples, group: Self.stopGroup)
        }
    }

    /// A VM's first run from an empty image cache (only the kernel and QEMU carried over) beside
    /// a run from the warm one, alternating.
    func provisioning(bundle: Bundle, workspace: String, progress: Progress) -> [Series] {
        let command = [options.isorun, "--mode", "vm", bundle.directory, "--", "/bin/true"]
        let cold = "isorun vm, empty image cache", warm = "isorun vm, cached image"
        var samples: [String: [UInt64]] = [:]
        var failure: String?
        for index in 0..<options.vmRuns where failure == nil {
            progress.show("provision: isorun vm \(index + 1)/\(options.vmRuns)")
            let cache = "\(workspace)/cache-\(index)"
            defer { try? Files.removeTree(cache) }
            do {
                try Files.makeDirectories(cache)
                // The kernel and QEMU carry over: an empty cache without them would boot the
                // system's QEMU, another program than the warm runs'.
                for component in ["kernel", "qemu"] {
                    try Files.symlink(target: "\(CacheLocation.holding(component))/\(component)", at: "\(cache)/\(component)")
                }
                samples[cold, default: []].append(try CommandTimer.time(command, extraEnvironment: ["ISORUN_CACHE=\(cache)"]))
                samples[warm, default: []].append(try CommandTimer.time(command))
            } catch {
                failure = "\(error)"
            }
        }
        return [cold, warm].map { name in
            Series(name: name, command: command, samplesNanoseconds: failure == nil ? samples[name] ?? [] : [], skipped: failure,
                   group: Self.provisionGroup)
        }
    }

    func peers(bundle: Bundle, workspace: String) throws -> [Peer] {
        let isorun = options.isorun, path = bundle.directory, rootfs = bundle.rootfsPath
        var peers = [
            Peer(name: "/bin/true", command: ["/bin/true"], runs: options.runs),
            Peer(name: "isorun bare", command: [isorun, "--mode", "bare", path, "--", "/bin/true"], runs: options.runs),
            Peer(name: "isorun sandbox", command: [isorun, "--mode", "sandbox", path, "--", "/bin/true"], runs: options.runs),
            Peer(name: "isorun vm", command: [isorun, "--mode", "vm", path, "--", "/bin/true"], runs: options.vmRuns),
            plainQemu(bundle: bundle, workspace: workspace),
            Peer(name: "bwrap", command: ["bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc",
                                          "--dev", "/dev", "/bin/true"], runs: options.runs,
                 unavailable: Self.onPath("bwrap") ? nil : "bwrap is not installed"),
        ]
        if Self.onPath("runc") {
            let runcBundle = try Self.runcBundle(from: bundle, arguments: ["/bin/true"], in: workspace)
            peers.append(Peer(name: "runc", command: ["runc", "--root", "\(workspace)/runc-state", "run", "--bundle", runcBundle,
                                                      "isorun-bench-\(HostProcess.id)"], runs: options.runs))
        } else {
            peers.append(Peer(name: "runc", command: ["runc"], runs: 0, unavailable: "runc is not installed"))
        }
        return peers
    }

    /// QEMU booting isorun's kernel to a busybox that reboots at once: the floor under "isorun vm".
    func plainQemu(bundle: Bundle, workspace: String) -> Peer {
        let name = "qemu, same kernel, no isorun"
        do {
            let boot = try PlainQemuBoot(bundle: bundle, busybox: try Self.busybox(in: bundle), workspace: workspace)
            return Peer(name: name, command: boot.arguments, runs: options.vmRuns)
        } catch {
            return Peer(name: name, command: [], runs: 0, unavailable: "\(error)")
        }
    }

    /// A static busybox: the bundle's own, else the host's (busybox-static).
    static func busybox(in bundle: Bundle) throws -> String {
        for candidate in ["\(bundle.rootfsPath)/bin/busybox", "/bin/busybox"] where Files.exists(candidate) { return candidate }
        throw BenchError("no static busybox in \(bundle.rootfsPath)/bin or /bin (apt install busybox-static)")
    }

    /// A bundle for runc with the very same rootfs and config, process.args replaced.
    static func runcBundle(from bundle: Bundle, arguments: [String], in workspace: String) throws -> String {
        var config = bundle.config
        config.process?.args = arguments
        config.process?.terminal = false
        config.root?.path = bundle.rootfsPath
        let directory = "\(workspace)/runc-bundle-\(UInt32.random(in: 0...UInt32.max))"
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/config.json", String(decoding: try JSONEncoder().encode(config), as: UTF8.self), create: true)
        return directory
    }

    static func onPath(_ program: String) -> Bool { pathOf(program) != nil }

    /// Where `program` is on PATH, or nil.
    static func pathOf(_ program: String) -> String? { HostProcess.executableOnPath(program) }
}

/// A private directory under /tmp, removed when the scenario ends (or by a later bench run,
/// when this one is killed first: `AbandonedWorkspaces`).
struct TemporaryDirectory {
    let path: String

    /// A wider `mode` lets a workload running as another uid reach a directory inside.
    init(mode: mode_t = 0o700) throws {
        if let isorun = try? FileTree.linkTarget("/proc/self/exe") { AbandonedWorkspaces.sweep(isorun: isorun) }
        path = "/tmp/\(AbandonedWorkspaces.prefix)\(HostProcess.id)-\(UInt32.random(in: 0...UInt32.max))"
        try Files.makeDirectory(path, mode: mode)
    }

    func remove() { try? Files.removeTree(path) }
}
