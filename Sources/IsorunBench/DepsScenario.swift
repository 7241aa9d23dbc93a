import FoundationEssentials
import Glibc
import IsorunSpec
import IsorunSys

/// `isorun bench deps`: two applications that each expect their own Go toolchain at
/// /usr/local/go (Bundles/go-old.bundle: Go 1.21; go-new.bundle: Go 1.26 and a
/// language feature 1.21 lacks).
///
/// Bare mode has one /usr/local/go for everything. The real host's is never touched:
/// bare runs happen in a private mount namespace (`unshare --mount`) where a tmpfs
/// covers /usr/local (and holds Go's caches) and the *old* toolchain is bind-mounted
/// at /usr/local/go, as on a machine that installed Go 1.21 first. Sandbox and VM
/// runs start both applications at once, each with its own rootfs.
public struct DepsScenario {
    public struct Options: Sendable {
        public var oldBundle: String
        public var newBundle: String
        public var isorun: String
        public var modes: [String]
        public init(oldBundle: String, newBundle: String, isorun: String, modes: [String] = ["bare", "sandbox", "vm"]) {
            self.oldBundle = oldBundle
            self.newBundle = newBundle
            self.isorun = isorun
            self.modes = modes
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    public func run(environment: Environment) throws -> DepsReport {
        let apps = [("old app (Go 1.21)", try Bundle.load(directory: options.oldBundle)),
                    ("new app (Go 1.26)", try Bundle.load(directory: options.newBundle))]
        let progress = Progress()
        defer { progress.finish() }
        var rows: [DepsRow] = []
        for mode in options.modes {
            progress.show("deps: \(mode)")
            let started = MonotonicClock.nanoseconds()
            let processes: [(String, Bundle, WatchedProcess?)] = apps.map { name, bundle in
                (name, bundle, try? WatchedProcess(command(mode: mode, bundle: bundle, oldToolchain: apps[0].1), stderrToStdout: true))
            }
            for (name, bundle, process) in processes {
                guard let process else {
                    rows.append(DepsRow(mode: mode, app: name, works: false, output: "could not start", seconds: 0,
                                        diskBytes: 0))
                    continue
                }
                let (status, output) = process.finish(timeoutSeconds: 600)
                let seconds = Double(MonotonicClock.nanoseconds() - started) / 1e9
                // Bare mode keeps one toolchain, the old one, whichever app asked.
                rows.append(DepsRow(mode: mode, app: name, works: status == 0, output: output, seconds: seconds,
                                    diskBytes: diskBytes(mode: mode, bundle: mode == "bare" ? apps[0].1 : bundle)))
            }
        }
        return DepsReport(environment: environment, rows: rows)
    }

    func command(mode: String, bundle: Bundle, oldToolchain: Bundle) -> [String] {
        guard mode == "bare" else { return [options.isorun, "--mode", mode, bundle.directory] }
        // The same build as in the bundle, run from where the app lives on this host.
        let app = "\(bundle.rootfsPath)/app"
        // Go's caches and temporary files go to a tmpfs under /usr/local, which exists only
        // in this namespace; /tmp stays the host's, where isorun itself may live.
        let build = "export GOCACHE=/usr/local/.scratch/cache GOPATH=/usr/local/.scratch/path GOTMPDIR=/usr/local/.scratch; "
            + "mkdir -p $GOCACHE && cd \(app) && exec go run ."
        let setup = "mount -t tmpfs tmpfs /usr/local && mkdir /usr/local/go /usr/local/.scratch "
            + "&& mount --bind \"$1\" /usr/local/go && shift && exec \"$@\""
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", setup, "sh",
                "\(oldToolchain.rootfsPath)/usr/local/go", options.isorun, "--mode", "bare", bundle.directory, "--",
                "sh", "-c", build]
    }

    /// What the mode keeps on disk for this app: the toolchain shared at /usr/local/go
    /// in bare mode; the whole rootfs otherwise (and its cached erofs image in VM mode).
    func diskBytes(mode: String, bundle: Bundle) -> Int {
        let rootfs = (try? FileTree.walk(bundle.rootfsPath)) ?? []
        let total = rootfs.reduce(0) { $0 + ($1.kind == .regular ? $1.size : 0) }
        switch mode {
        case "bare": return rootfs.filter { $0.relativePath.hasPrefix("usr/local/go/") && $0.kind == .regular }
            .reduce(0) { $0 + $1.size }
        case "vm": return total * 2
        default: return total
        }
    }
}

/// One application in one mode.
public struct DepsRow: Codable, Sendable, Equatable {
    public var mode: String
    public var app: String
    public var works: Bool
    /// The last line the application (or its build) printed.
    public var output: String
    public var seconds: Double
    public var diskBytes: Int
}

public struct DepsReport: ScenarioReport, Codable, Sendable, Equatable {
    public static let scenario = "deps"

    public var environment: Environment
    public var rows: [DepsRow]

    public func markdown() -> String {
        var lines = [
            "# isorun bench deps", "",
            "Two applications that each want their own Go at /usr/local/go. Bare mode: the host has Go 1.21 "
                + "there (simulated in a private mount namespace; the real /usr/local/go is untouched). "
                + "Sandbox and VM: both at once, each in its own rootfs. Time: until both finished, per mode; "
                + "disk: the toolchain (bare) or the rootfs (sandbox; ×2 in VM mode with its erofs image).", "",
            "| mode | application | works | output | time (s) | disk (MiB) |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows {
            let output = row.output.map { $0 == "|" ? "/" : String($0) }.joined()
            lines.append("| \(row.mode) | \(row.app) | \(row.works ? "yes" : "**no**") | \(output) | "
                         + "\(format(row.seconds)) | \(format(Double(row.diskBytes) / 1_048_576, decimals: 0)) |")
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }
}
