import FoundationEssentials
import Glibc
import IsorunSpec
import IsorunSys

/// `isorun bench blast`: what one misbehaving workload does to its neighbour.
///
/// A victim that counts in a loop, writes a heartbeat file and prints a dot per batch
/// runs alone for a baseline window, then beside an attacker for the same length of
/// time; both in the same mode. Degradation is the drop in the victim's dot rate (the
/// Isolation Benchmark Suite's measure); survival is whether it is still printing at the end.
///
/// Bare mode must not harm the real host, so there both run as a uid no account uses
/// (`bareUID`; `kill -9 -1` then reaches only them, which is exactly the neighbour the
/// claim is about, and the run refuses if any other process has that uid), inside a
/// private mount namespace where the host's mounts are read-only and a small scratch
/// tmpfs stands for the shared disk (`bareContainment`), and the attacker sits in a
/// safety-net cgroup (2048 pids, 2 GiB) generous enough to hurt a neighbour but not the
/// machine; reboot and kernel crash are not run at all.
public struct BlastScenario {
    public struct Options: Sendable {
        public var bundle: String
        public var windowSeconds: Double
        public var isorun: String
        public var modes: [String]
        public init(bundle: String, windowSeconds: Double, isorun: String, modes: [String] = ["bare", "sandbox", "vm"]) {
            self.bundle = bundle
            self.windowSeconds = windowSeconds
            self.isorun = isorun
            self.modes = modes
        }
    }

    /// One way to misbehave; `command` gets the directory standing for "the disk":
    /// in bare mode a scratch tmpfs shared with the victim, elsewhere the instance's own /tmp.
    struct Fault: Sendable {
        var name: String
        var command: @Sendable (String) -> [String]
        /// Why bare mode does not run it, when it would harm the real host.
        var notInBare: String?
    }

    /// Counts in a loop and prints a dot per batch, as long as it can write its
    /// heartbeat and its state file is still there (a service that needs its disk).
    /// Each heartbeat is a new small file, kept: it needs a page of the disk it has not
    /// had before, so a full disk stops it at once. (Appending to one file went on within
    /// the page the file already had, up to a quick window's worth of heartbeats; renaming
    /// a new file over the last freed a page for the next heartbeat every time.) About
    /// 600 heartbeats a second here, 2.5 MB/s: a 64 MiB disk lasts the longest window.
    static func victim(dataDirectory: String) -> [String] {
        ["sh", "-c", "mkdir -p \"$0/victim\" && echo ok > \"$0/victim/state\" || exit 1; n=0; while :; do i=0; "
            + "while [ $i -lt 1000 ]; do i=$((i+1)); done; [ -e \"$0/victim/state\" ] && echo $i 2>/dev/null > \"$0/victim/beat.$n\" "
            + "&& n=$((n+1)) && echo -n .; done", dataDirectory]
    }

    static let faults = [
        Fault(name: "fork bomb", command: { _ in ["sh", "-c", "while :; do sleep 60 & done"] }),
        Fault(name: "memory hog", command: { _ in ["awk", "BEGIN { s = \"0123456789abcdef\"; while (1) s = s s }"] }),
        Fault(name: "CPU hog", command: { _ in ["sh", "-c", "for i in 1 2 3 4; do (while :; do :; done) & done; wait"] }),
        Fault(name: "disk filler", command: { ["sh", "-c", "dd if=/dev/zero of=\"$0/fill\" bs=1M 2>/dev/null; sleep 60", $0] }),
        // The data directory first: a whole-tree walk would take longer than a quick window to get there.
        Fault(name: "rm -rf /", command: { ["sh", "-c", "rm -rf \"$0\"/* /* 2>/dev/null; sleep 60", $0] }),
        Fault(name: "kill -9 -1", command: { _ in ["sh", "-c", "kill -9 -1; sleep 60"] }),
        Fault(name: "reboot -f", command: { _ in ["sh", "-c", "reboot -f; sleep 60"] },
              notInBare: "not run: as root it would reboot the real host"),
        Fault(name: "kernel crash (sysrq c)", command: { _ in ["sh", "-c", "echo c > /proc/sysrq-trigger; sleep 60"] },
              notInBare: "not run: it would crash the real host"),
    ]

    /// Bare mode's disposable view of the host, made by `unshare -m` around the victim
    /// (the attacker joins it with nsenter): every mount read-only except isorun's
    /// runtime root (made a mount of its own first) and the cgroup files, which isorun
    /// itself writes and the unused uid cannot,
    /// and a 64 MiB scratch tmpfs, shared by both, standing for the host's disk. It
    /// disappears with the last process in it.
    static let bareContainment = """
        scratch=$1; shift
        mkdir -p /run/isorun && mount --bind /run/isorun /run/isorun || exit 125
        awk '{ print $2 }' /proc/self/mounts | while read -r m; do
          case $m in /run/isorun|/sys/fs/cgroup|/sys/fs/cgroup/*) continue ;; esac
          mount -o remount,bind,ro "$m" 2>/dev/null
        done
        if touch /.isorun-blast-probe 2>/dev/null; then rm -f /.isorun-blast-probe; echo "/ is still writable" >&2; exit 125; fi
        mount -t tmpfs -o size=64m,mode=1777 isorun-scratch "$scratch" || exit 125
        exec "$@"
        """

    /// The uid bare mode's victim and attacker share: no account, no other process.
    static let bareUID: UInt32 = 1_999_999_999

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    /// Processes already running as `bareUID` (then `kill -9 -1` could reach them).
    static func strangersWithBareUID() -> [String] {
        ((try? Files.list("/proc")) ?? []).filter { Int($0) != nil }.filter { pid in
            guard let status = try? Files.readString("/proc/\(pid)/status") else { return false }
            return status.split(separator: "\n").contains { $0.hasPrefix("Uid:") && $0.contains("\(bareUID)") }
        }
    }

    public func run(environment: Environment) throws -> BlastReport {
        let bundle = try Bundle.load(directory: options.bundle)
        // Bare mode's unused uid must see its scratch directory in here (the rest is root's, read-only to it).
        let workspace = try TemporaryDirectory(mode: 0o755)
        defer { workspace.remove() }
        let progress = Progress()
        defer { progress.finish() }
        var cells: [BlastCell] = []
        for mode in options.modes {
            let victimBundle = try Self.bundle(from: bundle, mode: mode, attacker: false, in: workspace.path)
            let attackerBundle = try Self.bundle(from: bundle, mode: mode, attacker: true, in: workspace.path)
            for fault in Self.faults {
                progress.show("blast: \(mode), \(fault.name)")
                if mode == "bare", let reason = fault.notInBare {
                    cells.append(BlastCell(mode: mode, fault: fault.name, survived: nil, degradationPercent: nil, note: reason))
                    continue
                }
                if mode == "bare", !Self.strangersWithBareUID().isEmpty {
                    cells.append(BlastCell(mode: mode, fault: fault.name, survived: nil, degradationPercent: nil,
                                           note: "not run: other processes use uid \(Self.bareUID)"))
                    continue
                }
                cells.append(measure(mode: mode, fault: fault, victimBundle: victimBundle, attackerBundle: attackerBundle,
                                     workspace: workspace.path))
            }
        }
        return BlastReport(environment: environment, windowSeconds: options.windowSeconds, cells: cells)
    }

    func measure(mode: String, fault: Fault, victimBundle: String, attackerBundle: String, workspace: String) -> BlastCell {
        let tag = "\(HostProcess.id)-\(UInt32.random(in: 0...UInt32.max))"
        let scratch = "\(workspace)/scratch-\(tag)"
        let dataDirectory = mode == "bare" ? scratch : "/tmp"
        var victimCommand = [options.isorun, "--mode", mode, "--id", "blast-victim-\(tag)", victimBundle, "--"]
            + Self.victim(dataDirectory: dataDirectory)
        if mode == "bare" {
            guard (try? Files.makeDirectory(scratch)) != nil else {
                return BlastCell(mode: mode, fault: fault.name, survived: nil, degradationPercent: nil, note: "no scratch directory")
            }
            victimCommand = ["unshare", "-m", "--propagation", "private", "sh", "-c", Self.bareContainment, "sh", scratch] + victimCommand
        }
        defer { try? Files.removeDirectory(scratch) }
        guard let victim = try? WatchedProcess(victimCommand) else {
            return BlastCell(mode: mode, fault: fault.name, survived: nil, degradationPercent: nil, note: "victim did not start")
        }
        defer { victim.stop() }
        // Wait for the first dot (a VM must boot first), then measure the baseline.
        guard victim.waitForOutput(seconds: 60) else {
            return BlastCell(mode: mode, fault: fault.name, survived: nil, degradationPercent: nil, note: "victim never ran")
        }
        let baseline = victim.rate(over: options.windowSeconds)
        var attackerCommand = [options.isorun, "--mode", mode, "--id", "blast-attacker-\(tag)", attackerBundle, "--"]
            + fault.command(dataDirectory)
        // In bare mode the attacker joins the victim's disposable view of the host.
        if mode == "bare" { attackerCommand = ["nsenter", "-t", "\(victim.pid)", "-m", "--"] + attackerCommand }
        let attacker = try? WatchedProcess(attackerCommand)
        defer { attacker?.stop() }
        // The attack window starts when the attacker runs (its VM, too, must boot first).
        if mode == "vm" { usleep(UInt32(1_000_000)) }
        let underAttack = victim.rate(over: options.windowSeconds)
        let lastSecond = victim.rate(over: min(1, options.windowSeconds))
        let alive = victim.isRunning
        let survived = alive && lastSecond > 0
        let degradation = baseline > 0 ? max(0, (1 - underAttack / baseline) * 100) : nil
        let note = baseline > 0 ? (alive && !survived ? BlastCell.stalled : nil) : "victim made no progress before the attack"
        return BlastCell(mode: mode, fault: fault.name, survived: survived, degradationPercent: survived ? degradation : 100, note: note)
    }

    /// The victim's or attacker's bundle for one mode: the same rootfs and config, with
    /// bare mode's containment (an unused uid, a safety-net cgroup) or, in the others, a
    /// read-only root and a 64 MiB /tmp of its own.
    static func bundle(from bundle: Bundle, mode: String, attacker: Bool, in workspace: String) throws -> String {
        var config = bundle.config
        config.root?.path = bundle.rootfsPath
        if mode == "bare" {
            config.process?.user = User(uid: bareUID, gid: bareUID)
            if attacker {
                config.linux?.resources = Resources(memory: MemoryResources(limit: 2 << 30), pids: PidsResources(limit: 2048))
            }
        } else {
            // `rm -rf /` must not reach the bundle's rootfs on the host; /tmp is each instance's own "disk".
            config.root?.readonly = true
            config.mounts = (config.mounts ?? []).filter { $0.destination != "/tmp" } + [
                Mount(destination: "/tmp", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777", "size=64m"], type: "tmpfs"),
            ]
        }
        let directory = "\(workspace)/\(mode)-\(attacker ? "attacker" : "victim")"
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/config.json", String(decoding: try JSONEncoder().encode(config), as: UTF8.self), create: true)
        return directory
    }
}

/// A child whose stdout isorun counts, for rates of progress.
final class WatchedProcess {
    let pid: pid_t
    private let output: Int32
    private(set) var bytes = 0

    init(_ command: [String], stderrToStdout: Bool = false) throws {
        (pid, output) = try DensityScenario.start(command, stderrToStdout: stderrToStdout)
    }

    /// Looks without reaping: `stop` reaps, and signals the pid first, which must still be ours.
    var isRunning: Bool { Processes.peek(pid) == .running }

    func waitForOutput(seconds: Double) -> Bool {
        let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        while bytes == 0 && MonotonicClock.nanoseconds() < deadline && isRunning {
            _ = try? Polling.waitReadable([output], timeoutMilliseconds: 100)
            bytes += Polling.drain(output).count
        }
        return bytes > 0
    }

    /// Signals the process if it is still ours (an ended one keeps its pid until `stop`).
    func deliver(_ signal: Int32) {
        if Processes.peek(pid) != .notOurs { Processes.signal(pid, signal) }
    }

    /// Bytes of output per second of each process over the same `seconds`.
    static func rates(of processes: [WatchedProcess], over seconds: Double) -> [Double] {
        for process in processes { _ = Polling.drain(process.output) }
        let deadline = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
        var counts = [Int](repeating: 0, count: processes.count)
        while let remaining = MonotonicClock.millisecondsLeft(until: deadline) {
            _ = try? Polling.waitReadable(processes.map(\.output), timeoutMilliseconds: remaining)
            for (index, process) in processes.enumerated() { counts[index] += Polling.drain(process.output).count }
        }
        return counts.map { Double($0) / seconds }
    }

    /// Bytes of output per second over the next `seconds`.
    func rate(over seconds: Double) -> Double {
        Self.rates(of: [self], over: seconds)[0]
    }

    /// Waits for the process to end (SIGTERM after the timeout); returns its status and
    /// the last line it printed.
    func finish(timeoutSeconds: Double) -> (Int32, String) {
        var text: [UInt8] = []
        let deadline = MonotonicClock.nanoseconds() + UInt64(timeoutSeconds * 1e9)
        while true {
            _ = try? Polling.waitReadable([output], timeoutMilliseconds: 200)
            let (chunk, atEnd) = Polling.drainReportingEnd(output)
            text += chunk
            if atEnd || MonotonicClock.nanoseconds() > deadline { break }
        }
        if MonotonicClock.nanoseconds() > deadline { Processes.signal(pid, SIGTERM) }
        let status = (try? Processes.wait(pid))?.shellStatus ?? -1
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n")
        return (status, lines.last.map(String.init) ?? "")
    }

    /// SIGTERM, 10 s, SIGKILL; reaps.
    func stop() {
        DensityScenario.stop([(pid, output)])
    }
}

/// One fault in one mode.
public struct BlastCell: Codable, Sendable, Equatable {
    public var mode: String
    public var fault: String
    /// nil when the fault was not run.
    public var survived: Bool?
    /// How much slower the victim got (100 when it died).
    public var degradationPercent: Double?
    public var note: String?

    /// The note of a victim that still runs but has stopped making progress.
    static let stalled = "stalled: alive, no progress"
}

/// The survival/degradation matrix.
public struct BlastReport: ScenarioReport, Codable, Sendable, Equatable {
    public static let scenario = "blast"
    public var charts: [String: String] { ["blast.svg": svg] }

    public var environment: Environment
    public var windowSeconds: Double
    public var cells: [BlastCell]

    var modes: [String] { cells.reduce(into: []) { if !$0.contains($1.mode) { $0.append($1.mode) } } }
    var faults: [String] { cells.reduce(into: []) { if !$0.contains($1.fault) { $0.append($1.fault) } } }

    func cell(_ mode: String, _ fault: String) -> BlastCell? { cells.first { $0.mode == mode && $0.fault == fault } }

    static func text(_ cell: BlastCell?) -> String {
        guard let cell else { return "—" }
        guard let survived = cell.survived else { return cell.note ?? "not run" }
        if !survived { return cell.note == BlastCell.stalled ? "stalled" : "killed" }
        return "survived, −\(format(cell.degradationPercent ?? 0, decimals: 0))%"
    }

    public func markdown() -> String {
        var lines = [
            "# isorun bench blast", "",
            "Victim: a counting loop that writes a heartbeat file, beside one attacker in the same mode; degradation "
                + "is the victim's lost progress rate over \(format(windowSeconds)) s (vs. alone); \"stalled\" means it still "
                + "runs but made no progress in the last second (it cannot write its heartbeat). Bare mode is contained: "
                + "both run as an unused uid in a private mount namespace where every host mount is read-only and a 64 MiB "
                + "scratch tmpfs stands for the disk they share; the attacker is in a 2048-pid / 2 GiB safety-net cgroup. "
                + "Sandbox and VM instances each get a read-only root and a 64 MiB /tmp of their own. "
                + "Host: Linux \(environment.kernel), \(environment.cpus) CPUs, VM accelerator \(environment.accelerator).", "",
            "| fault | " + modes.joined(separator: " | ") + " |",
            "|---|" + modes.map { _ in "---|" }.joined(),
        ]
        for fault in faults {
            lines.append("| \(fault) | " + modes.map { Self.text(cell($0, fault)) }.joined(separator: " | ") + " |")
        }
        lines += ["", "![blast](blast.svg)", ""]
        return lines.joined(separator: "\n")
    }

    /// A heat-map: green survived unharmed, through amber, to red killed; grey not run.
    public var svg: String {
        let cellWidth = 150.0, cellHeight = 34.0, left = 190.0, top = 64.0
        let width = left + cellWidth * Double(modes.count) + 20, height = top + cellHeight * Double(faults.count) + 30
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="12" y="24" font-size="16" font-weight="bold">isorun bench blast: does the neighbour survive?</text>

        """
        for (column, mode) in modes.enumerated() {
            out += "<text x=\"\(format(left + cellWidth * (Double(column) + 0.5)))\" y=\"52\" text-anchor=\"middle\" font-weight=\"bold\">\(mode)</text>\n"
        }
        for (row, fault) in faults.enumerated() {
            let y = top + cellHeight * Double(row)
            out += "<text x=\"\(format(left - 8))\" y=\"\(format(y + 22))\" text-anchor=\"end\">\(fault)</text>\n"
            for (column, mode) in modes.enumerated() {
                let x = left + cellWidth * Double(column)
                let entry = cell(mode, fault)
                out += "<rect x=\"\(format(x + 2))\" y=\"\(format(y + 2))\" width=\"\(format(cellWidth - 4))\" height=\"\(format(cellHeight - 4))\" fill=\"\(Self.color(entry))\"/>\n"
                let label = entry?.survived == nil ? "not run" : Self.text(entry)
                out += "<text x=\"\(format(x + cellWidth / 2))\" y=\"\(format(y + 22))\" text-anchor=\"middle\">\(label)</text>\n"
            }
        }
        out += "</svg>\n"
        return out
    }

    static func color(_ cell: BlastCell?) -> String {
        guard let cell, let survived = cell.survived else { return "#dddddd" }
        guard survived else { return "#e15759" }
        let loss = cell.degradationPercent ?? 0
        if loss < 10 { return "#8cd17d" }
        if loss < 50 { return "#f1ce63" }
        return "#f28e2b"
    }
}
