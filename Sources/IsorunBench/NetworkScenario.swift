import FoundationEssentials
import Glibc
import IsorunSpec
import IsorunSys

/// `isorun bench network`: what reaching a server on the host costs from each mode.
///
/// A network namespace is set up as a CNI bridge plugin leaves one (with `ip`): a veth pair,
/// `eth0` inside with 10.220.0.2/24 and a default route, the other end on the host with
/// 10.220.0.1, where python3's http.server serves a file of `mebibytes` and a tiny one. The
/// workload (busybox `nc`, one HTTP/1.0 request per connection) fetches the large file
/// `rounds` times, then the tiny one `requests` times: throughput, and what one short
/// connection costs. Bare mode talks to the host's own stack (the address is the host's);
/// the sandbox joins the namespace; the VM takes it over (a tap, tc redirects, virtio-net).
/// Phases are timed from the host when the workload's marker lines arrive.
public struct NetworkScenario {
    public struct Options: Sendable {
        public var bundle: String
        public var isorun: String
        public var mebibytes: Int
        public var rounds: Int
        public var requests: Int
        public var runs: Int
        public var modes: [String]
        public init(bundle: String, isorun: String, mebibytes: Int, rounds: Int, requests: Int, runs: Int,
                    modes: [String] = ["bare", "sandbox", "vm"]) {
            self.bundle = bundle
            self.isorun = isorun
            self.mebibytes = mebibytes
            self.rounds = rounds
            self.requests = requests
            self.runs = runs
            self.modes = modes
        }
    }

    let options: Options

    public init(options: Options) {
        self.options = options
    }

    static let hostAddress = "10.220.0.1"
    static let phases = ["fetch", "requests"]

    /// $1 address, $2 port, $3 rounds, $4 requests, $5 the large file's size. A short
    /// answer fails the run: a transfer that broke off must not pass for a fast one.
    static let script = """
        set -e
        echo fetch; r=0
        while [ $r -lt "$3" ]; do
            n=$(printf 'GET /large HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 30 "$1" "$2" | busybox wc -c)
            [ "$n" -gt "$5" ] || { echo "short answer: $n bytes"; exit 3; }
            r=$((r + 1))
        done
        echo requests; i=0
        while [ $i -lt "$4" ]; do printf 'GET /small HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 30 "$1" "$2" >/dev/null; i=$((i + 1)); done
        echo done
        """

    public func run(environment: Environment) throws -> NetworkReport {
        let hello = try Bundle.load(directory: options.bundle)
        let progress = Progress()
        defer { progress.finish() }
        let scratch = try TemporaryDirectory(mode: 0o755)
        defer { scratch.remove() }
        let served = "\(scratch.path)/www"
        try Files.makeDirectories(served)
        try Files.write("\(served)/large", bytes: [UInt8](repeating: 0, count: options.mebibytes << 20), create: true)
        try Files.write("\(served)/small", "small\n", create: true)
        let network = try BenchNetwork()
        defer { network.remove() }
        let server = try ProbeHTTPServer(address: Self.hostAddress, directory: served)
        defer { server.stop() }
        let bundle = try Self.bundle(from: hello, namespace: network.path, in: scratch.path)
        var rows: [NetworkRow] = []
        for mode in options.modes {
            var samples: [[UInt64]] = []
            var failure: String?
            for run in 1...options.runs {
                progress.show("network: \(mode), run \(run) of \(options.runs)")
                switch measure(command(mode: mode, bundle: bundle, port: server.port)) {
                case .success(let durations): samples.append(durations)
                case .failure(let problem): failure = problem.reason
                }
                if failure != nil { break }
            }
            rows.append(NetworkRow(mode: mode, mebibytes: options.mebibytes * options.rounds, requests: options.requests,
                                   phaseNanoseconds: failure == nil ? MarkedPhases.medians(samples, phases: 0..<Self.phases.count) : [],
                                   failure: failure))
        }
        return NetworkReport(environment: environment, rows: rows)
    }

    /// The hello bundle in the benchmark's namespace, its rootfs read-only.
    static func bundle(from hello: Bundle, namespace: String, in workspace: String) throws -> String {
        var config = hello.config
        config.root?.path = hello.rootfsPath
        config.root?.readonly = true
        var namespaces = (config.linux?.namespaces ?? []).filter { $0.type != .network }
        namespaces.append(Namespace(type: .network, path: namespace))
        config.linux?.namespaces = namespaces
        let directory = "\(workspace)/bundle"
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/config.json", String(decoding: try JSONEncoder().encode(config), as: UTF8.self), create: true)
        return directory
    }

    func command(mode: String, bundle: String, port: Int) -> [String] {
        let arguments = ["-c", Self.script, "sh", Self.hostAddress, String(port), String(options.rounds),
                         String(options.requests), String(options.mebibytes << 20)]
        // Bare mode has no rootfs: the host's busybox.
        return [options.isorun, "--mode", mode, bundle, "--"] + (mode == "bare" ? ["busybox", "sh"] : ["sh"]) + arguments
    }

    /// Durations of the two phases, or why the run failed.
    func measure(_ command: [String]) -> Result<[UInt64], RunFailure> {
        MarkedPhases.measure(command, markers: Self.phases + ["done"])
    }
}

/// The namespace the benchmark's containers and VMs join, made with `ip` as a CNI bridge
/// plugin would leave it, and removed again.
struct BenchNetwork {
    let name = "isorun-bench-\(HostProcess.id)"
    let hostEnd = "irbench\(HostProcess.id % 100_000)"
    var path: String { "/run/netns/\(name)" }

    init() throws {
        let peer = "\(hostEnd)c"
        for arguments in [
            ["netns", "add", name],
            ["link", "add", hostEnd, "type", "veth", "peer", "name", peer],
            ["link", "set", peer, "netns", name],
            ["-n", name, "link", "set", peer, "name", "eth0"],
            ["addr", "add", "\(NetworkScenario.hostAddress)/24", "dev", hostEnd],
            ["link", "set", hostEnd, "up"],
            ["-n", name, "addr", "add", "10.220.0.2/24", "dev", "eth0"],
            ["-n", name, "link", "set", "eth0", "up"],
            ["-n", name, "link", "set", "lo", "up"],
            ["-n", name, "route", "add", "default", "via", NetworkScenario.hostAddress],
        ] {
            do { try Self.ip(arguments) } catch {
                remove()
                throw error
            }
        }
    }

    func remove() {
        try? Self.ip(["link", "del", hostEnd])
        try? Self.ip(["netns", "del", name])
    }

    static func ip(_ arguments: [String]) throws {
        let started = try DensityScenario.start(["ip"] + arguments, stderrToStdout: true)
        defer { StreamCopy.close(started.output) }
        var output: [UInt8] = []
        while true {
            _ = try? Polling.waitReadable([started.output], timeoutMilliseconds: 10_000)
            let (bytes, atEnd) = Polling.drainReportingEnd(started.output)
            output += bytes
            if atEnd { break }
        }
        let status = try Processes.wait(started.pid).shellStatus
        guard status == 0 else {
            throw RunFailure("ip \(arguments.joined(separator: " ")): exit \(status): \(String(decoding: output, as: UTF8.self))")
        }
    }
}

/// python3's http.server on `address`, serving `directory`; ready once the kernel lists
/// its socket as listening.
struct ProbeHTTPServer {
    let pid: pid_t
    let output: Int32
    let port = Int.random(in: 20_000..<40_000)

    init(address: String, directory: String) throws {
        (pid, output) = try DensityScenario.start(["python3", "-m", "http.server", "--bind", address, "--directory", directory,
                                                   String(port)], stderrToStdout: true)
        // /proc/net/tcp names a local address as the kernel stores it, byte by byte reversed.
        let octets = address.split(separator: ".").compactMap { UInt8($0) }
        let hex = { (value: Int, width: Int) in
            let digits = String(value, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let local = octets.reversed().map { hex(Int($0), 2) }.joined() + ":" + hex(port, 4)
        for _ in 0..<200 {
            let table = (try? Files.readString("/proc/net/tcp")) ?? ""
            if table.split(separator: "\n").contains(where: { $0.contains(" \(local) ") && $0.contains(" 0A ") }) { return }
            usleep(25_000)
        }
        stop()
        throw RunFailure("python3's http.server did not listen on \(address):\(port)")
    }

    func stop() {
        Processes.signal(pid, SIGKILL)
        _ = try? Processes.wait(pid)
        StreamCopy.close(output)
    }
}

/// One mode: median phase times (fetch, requests).
public struct NetworkRow: Codable, Sendable, Equatable {
    public var mode: String
    /// Fetched in all.
    public var mebibytes: Int
    public var requests: Int
    /// Empty when the runs failed.
    public var phaseNanoseconds: [UInt64]
    public var failure: String?

    var mebibytesPerSecond: Double? {
        guard phaseNanoseconds.count == 2, phaseNanoseconds[0] > 0 else { return nil }
        return Double(mebibytes) / (Double(phaseNanoseconds[0]) / 1e9)
    }

    var millisecondsPerRequest: Double? {
        guard phaseNanoseconds.count == 2, requests > 0 else { return nil }
        return Double(phaseNanoseconds[1]) / 1e6 / Double(requests)
    }
}

public struct NetworkReport: ScenarioReport, Codable, Sendable, Equatable {
    public static let scenario = "network"

    public var environment: Environment
    public var rows: [NetworkRow]

    public func markdown() -> String {
        let first = rows.first
        var lines = [
            "# isorun bench network", "",
            "A server on the host end of a veth pair (python3's http.server on \(NetworkScenario.hostAddress)), reached "
                + "from each mode: bare through the host's own stack, the sandbox from the namespace at the other end "
                + "(as a CNI bridge plugin leaves one), the VM from the same namespace taken over (a tap, tc redirects, "
                + "virtio-net). \(first?.mebibytes ?? 0) MiB fetched in all, then \(first?.requests ?? 0) requests for "
                + "a 6-byte file, one connection each (busybox `nc`, HTTP/1.0). Medians, timed from the host. "
                + "VM accelerator: \(environment.accelerator).", "",
            "| mode | fetch (MiB/s) | one short request (ms) |",
            "|---|---|---|",
        ]
        for row in rows {
            guard row.failure == nil else {
                lines.append("| \(row.mode) | **failed:** \(row.failure ?? "") | |")
                continue
            }
            lines.append("| \(row.mode) | \(row.mebibytesPerSecond.map { format($0, decimals: 0) } ?? "–") | "
                         + "\(row.millisecondsPerRequest.map { format($0, decimals: 2) } ?? "–") |")
        }
        lines += ["", "The request time includes the workload's shell starting `nc` for each (TCG emulates that in the VM too).",
                  "", "![network throughput](network.svg)", "", "![one short request](network-requests.svg)", ""]
        return lines.joined(separator: "\n")
    }

    public var charts: [String: String] {
        [
            "network.svg": BarChart(title: "isorun bench network: fetching from a server on the host (MiB/s)", unit: "MiB/s",
                                    bars: rows.compactMap { row in row.mebibytesPerSecond.map { BarChart.Bar(label: row.mode, value: $0) } },
                                    logarithmic: true, whiskerNote: false).svg,
            "network-requests.svg": BarChart(title: "isorun bench network: one short request, connection included (ms)",
                                             unit: "ms", bars: rows.compactMap { row in
                                                 row.millisecondsPerRequest.map { BarChart.Bar(label: row.mode, value: $0) }
                                             }, logarithmic: true, whiskerNote: false).svg,
        ]
    }
}
