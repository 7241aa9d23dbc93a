import FoundationEssentials
import IsorunSpec
import IsorunSys

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
        let bundle = try Bundle.load(directory: options.bundle)
        let workspace = try TemporaryDirectory()
        defer { workspace.remove() }
        let peers = try self.peers(bundle: bundle, workspace: workspace.path)
        var samples: [String: [UInt64]] = [:]
        var skipped: [String: String] = [:]
        for peer in peers { if let reason = peer.unavailable { skipped[peer.name] = reason } }
        let progress = Progress()
        defer { progress.finish() }
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
        let series = peers.map { peer in
            Series(name: peer.name, command: peer.command, samplesNanoseconds: skipped[peer.name] == nil ? samples[peer.name] ?? [] : [],
                   skipped: skipped[peer.name])
        }
        return BenchReport(scenario: "startup", environment: environment, series: series)
    }

    func peers(bundle: Bundle, workspace: String) throws -> [Peer] {
        let isorun = options.isorun, path = bundle.directory, rootfs = bundle.rootfsPath
        var peers = [
            Peer(name: "/bin/true", command: ["/bin/true"], runs: options.runs),
            Peer(name: "isorun bare", command: [isorun, "--mode", "bare", path, "--", "/bin/true"], runs: options.runs),
            Peer(name: "isorun sandbox", command: [isorun, "--mode", "sandbox", path, "--", "/bin/true"], runs: options.runs),
            Peer(name: "isorun vm", command: [isorun, "--mode", "vm", path, "--", "/bin/true"], runs: options.vmRuns),
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

    static func onPath(_ program: String) -> Bool {
        (HostProcess.variable("PATH") ?? "/usr/bin:/bin").split(separator: ":").contains { Files.exists("\($0)/\(program)") }
    }
}

/// A private directory under /tmp, removed when the scenario ends.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = "/tmp/isorun-bench-\(HostProcess.id)-\(UInt32.random(in: 0...UInt32.max))"
        try Files.makeDirectory(path, mode: 0o700)
    }

    func remove() { try? Files.removeTree(path) }
}
