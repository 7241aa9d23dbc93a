import FoundationEssentials
import Glibc
import IsorunSpec
import IsorunSys

/// `isorun bench volume`: what a host directory costs to use from each mode. The same
/// busybox script writes a file of `mebibytes` `rounds` times over, reads it as often and
/// creates `files` small files, once in a directory of the host bind-mounted at /data (bare mode: the directory
/// itself) and once in the mode's own /tmp (the host's in bare mode, the bundle's tmpfs in
/// the sandbox and the VM), which separates the cost of reaching the host from the cost
/// of the mode's CPU (TCG emulates every instruction of the VM's shell loop).
///
/// Phases are timed from the host, when the workload's marker lines arrive; writes end
/// in the host's page cache, as a container's do (no fsync).
public struct VolumeScenario {
    public struct Options: Sendable {
        public var bundle: String
        public var isorun: String
        /// The file's size: the bundle's /tmp must hold it.
        public var mebibytes: Int
        /// How often it is written and read: phases long enough to time from the host.
        public var rounds: Int
        public var files: Int
        public var runs: Int
        public var modes: [String]
        public init(bundle: String, isorun: String, mebibytes: Int, rounds: Int, files: Int, runs: Int,
                    modes: [String] = ["bare", "sandbox", "vm"]) {
            self.bundle = bundle
            self.isorun = isorun
            self.mebibytes = mebibytes
            self.rounds = rounds
            self.files = files
            self.runs = runs
            self.modes = modes
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Markers the script prints before each phase, in order.
    static let phases = ["write", "read", "files", "clean"]

    static let script = """
        set -e
        for place in "$1" "$2"; do
            d="$place/isorun-volume.$$"
            busybox mkdir -p "$d"
            echo write; r=0; while [ $r -lt "$4" ]; do busybox dd if=/dev/zero of="$d/big" bs=1M count="$3" 2>/dev/null; r=$((r + 1)); done
            echo read; r=0; while [ $r -lt "$4" ]; do busybox dd if="$d/big" of=/dev/null bs=1M 2>/dev/null; r=$((r + 1)); done
            echo files; i=0; while [ $i -lt "$5" ]; do echo x > "$d/f$i"; i=$((i + 1)); done
            echo clean; busybox rm -rf "$d"
        done
        echo done
        """

    public func run(environment: Environment) throws -> VolumeReport {
        let hello = try Bundle.load(directory: options.bundle)
        let progress = Progress()
        defer { progress.finish() }
        let scratch = try TemporaryDirectory(mode: 0o755)
        defer { scratch.remove() }
        let workspace = scratch.path
        let volume = "\(workspace)/volume"
        try Files.makeDirectories(volume)
        // The rootfs's user must reach the volume whatever its uid.
        chmod(volume, 0o1777)
        let bundle = try Self.bundle(from: hello, volume: volume, in: workspace)
        var rows: [VolumeRow] = []
        for mode in options.modes {
            var samples: [[UInt64]] = []
            var failure: String?
            for run in 1...options.runs {
                progress.show("volume: \(mode), run \(run) of \(options.runs)")
                switch measure(command(mode: mode, bundle: bundle, hostTemporary: workspace, volume: volume)) {
                case .success(let durations): samples.append(durations)
                case .failure(let problem): failure = problem.reason
                }
                if failure != nil { break }
            }
            for (index, place) in ["volume", "own /tmp"].enumerated() {
                rows.append(VolumeRow(mode: mode, place: place, mebibytes: options.mebibytes * options.rounds, files: options.files,
                                      phaseNanoseconds: failure == nil ? Self.medians(samples, place: index) : [],
                                      failure: failure))
            }
        }
        return VolumeReport(environment: environment, rows: rows)
    }

    /// The bundle with the volume at /data and its rootfs read-only.
    static func bundle(from hello: Bundle, volume: String, in workspace: String) throws -> String {
        var config = hello.config
        config.root?.path = hello.rootfsPath
        config.root?.readonly = true
        config.mounts = (config.mounts ?? []) + [Mount(destination: "/data", source: volume, options: ["rbind", "rw"], type: "bind")]
        let directory = "\(workspace)/bundle"
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/config.json", String(decoding: try JSONEncoder().encode(config), as: UTF8.self), create: true)
        return directory
    }

    func command(mode: String, bundle: String, hostTemporary: String, volume: String) -> [String] {
        let sizes = [String(options.mebibytes), String(options.rounds), String(options.files)]
        if mode == "bare" {
            // Bare mode has no rootfs and no mounts: the host's busybox, the host's paths.
            return [options.isorun, "--mode", "bare", bundle, "--", "busybox", "sh", "-c", Self.script, "sh", volume,
                    hostTemporary] + sizes
        }
        return [options.isorun, "--mode", mode, bundle, "--", "sh", "-c", Self.script, "sh", "/data", "/tmp"] + sizes
    }

    /// Durations of the eight phases (four per place), or why the run failed.
    func measure(_ command: [String]) -> Result<[UInt64], RunFailure> {
        MarkedPhases.measure(command, markers: Array(repeating: Self.phases, count: 2).flatMap { $0 } + ["done"])
    }

    /// Per phase of one place (0: volume, 1: own /tmp), the median over the runs.
    static func medians(_ samples: [[UInt64]], place: Int) -> [UInt64] {
        MarkedPhases.medians(samples, phases: place * phases.count ..< (place + 1) * phases.count)
    }
}

/// One mode and place: median phase times (write, read, files, clean).
public struct VolumeRow: Codable, Sendable, Equatable {
    public var mode: String
    public var place: String
    /// Written, then read, in all.
    public var mebibytes: Int
    public var files: Int
    /// Empty when the runs failed.
    public var phaseNanoseconds: [UInt64]
    public var failure: String?

    var writeMiBPerSecond: Double? { rate(Double(mebibytes), phase: 0) }
    var readMiBPerSecond: Double? { rate(Double(mebibytes), phase: 1) }
    var filesPerSecond: Double? { rate(Double(files), phase: 2) }

    private func rate(_ amount: Double, phase: Int) -> Double? {
        guard phaseNanoseconds.count > phase, phaseNanoseconds[phase] > 0 else { return nil }
        return amount / (Double(phaseNanoseconds[phase]) / 1e9)
    }
}

public struct VolumeReport: ScenarioReport, Codable, Sendable, Equatable {
    public static let scenario = "volume"

    public var environment: Environment
    public var rows: [VolumeRow]

    public func markdown() -> String {
        let first = rows.first
        var lines = [
            "# isorun bench volume", "",
            "A host directory bind-mounted at /data (bare mode: the directory itself; VM mode: shared over "
                + "virtio-9p), against each mode's own /tmp (the host's in bare mode, a tmpfs in the others). "
                + "Per place: write \(first?.mebibytes ?? 0) MiB (a file rewritten with dd, 1 MiB blocks, into the host's "
                + "page cache), read as much back, create \(first?.files ?? 0) small files from a shell loop. "
                + "Medians, timed from the host. "
                + "VM accelerator: \(environment.accelerator).", "",
            "| mode | place | write (MiB/s) | read (MiB/s) | small files (/s) |",
            "|---|---|---|---|---|",
        ]
        for row in rows {
            guard row.failure == nil else {
                lines.append("| \(row.mode) | \(row.place) | **failed:** \(row.failure ?? "") | | |")
                continue
            }
            lines.append("| \(row.mode) | \(row.place) | \(Self.cell(row.writeMiBPerSecond)) | "
                         + "\(Self.cell(row.readMiBPerSecond)) | \(Self.cell(row.filesPerSecond)) |")
        }
        lines += ["", "–: the phase ended before the host saw it begin (too short to time; more `--rounds` or `--files`).",
                  "", "![volume throughput](volume.svg)", "", "![small files](volume-files.svg)", ""]
        return lines.joined(separator: "\n")
    }

    static func cell(_ value: Double?) -> String { value.map { format($0, decimals: 0) } ?? "–" }

    public var charts: [String: String] {
        func bars(_ value: (VolumeRow) -> Double?, suffix: String = "") -> [BarChart.Bar] {
            rows.filter { $0.place == "volume" }.compactMap { row in value(row).map { BarChart.Bar(label: row.mode + suffix, value: $0) } }
        }
        let throughput = bars({ $0.writeMiBPerSecond }, suffix: " · write") + bars({ $0.readMiBPerSecond }, suffix: " · read")
        return [
            "volume.svg": BarChart(title: "isorun bench volume: a host directory's throughput (MiB/s)", unit: "MiB/s",
                                   bars: throughput, logarithmic: true, whiskerNote: false).svg,
            "volume-files.svg": BarChart(title: "isorun bench volume: small files created in a host directory (/s)",
                                         unit: "files/s", bars: bars { $0.filesPerSecond }, whiskerNote: false).svg,
        ]
    }
}
