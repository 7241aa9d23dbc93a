import FoundationEssentials
import IsorunSys

/// One scenario's measured series: what ran, how often, and how long it took.
public struct Series: Codable, Sendable, Equatable {
    public var name: String
    public var command: [String]
    /// Raw samples in nanoseconds, kept so a reader can recompute anything.
    public var samplesNanoseconds: [UInt64]
    public var summary: SampleSummary?
    /// Why this series has no samples (a peer that is not installed, a failure).
    public var skipped: String?
    /// A second measurement in the same report (`startup`: "stop", "provision"), with a
    /// table and chart of its own; nil for the scenario's main one.
    public var group: String?

    public init(name: String, command: [String], samplesNanoseconds: [UInt64], skipped: String? = nil, group: String? = nil) {
        self.group = group
        self.name = name
        self.command = command
        self.samplesNanoseconds = samplesNanoseconds
        self.summary = Statistics.summarize(nanoseconds: samplesNanoseconds)
        self.skipped = skipped
    }
}

/// The machine a report was measured on.
public struct Environment: Codable, Sendable, Equatable {
    public var kernel: String
    public var cpus: Int
    public var cgroups: String
    public var accelerator: String
    public var peers: [String: String]

    public init(kernel: String, cpus: Int, cgroups: String, accelerator: String, peers: [String: String]) {
        self.kernel = kernel
        self.cpus = cpus
        self.cgroups = cgroups
        self.accelerator = accelerator
        self.peers = peers
    }
}

/// What `isorun bench` writes: `--json` gets this whole value, `--report` renders it.
public struct BenchReport: Codable, Sendable, Equatable {
    public var scenario: String
    public var environment: Environment
    public var series: [Series]
    /// `density` only: memory and stop cost per instance.
    public var memory: [MemoryRow]?
    /// What each extra group of series measures, printed above its table.
    public var groupNotes: [String: String]?
    /// How the scenario prepared its runs, printed under the host line.
    public var method: String?
    /// `startup` only: its speed targets, judged round by round (see `SpeedTargets`).
    public var targets: [TargetCheck]?

    public init(scenario: String, environment: Environment, series: [Series]) {
        self.scenario = scenario
        self.environment = environment
        self.series = series
    }

    public func json() throws -> String { try prettyJSON(self) }

    /// A Markdown table per group; `reference` names the series the ratios are taken
    /// against (in a group without it, the group's first series).
    public func markdown(reference: String?) -> String {
        var lines = [
            "# isorun bench \(scenario)", "",
            "Host: Linux \(environment.kernel), \(environment.cpus) CPUs, cgroups \(environment.cgroups), "
                + "VM accelerator \(environment.accelerator).", "",
        ]
        if let method { lines += [method, ""] }
        lines += Self.table(series.filter { $0.group == nil }, reference: reference)
        lines += ["", "![\(scenario)](\(scenario).svg)"]
        if let targets, !targets.isEmpty { lines += [""] + SpeedTargets.markdown(targets) }
        for group in groups {
            let members = series.filter { $0.group == group }
            let groupReference = members.contains { $0.name == reference } ? reference : members.first?.name
            lines += ["", "## \(group)", ""]
            if let note = groupNotes?[group] { lines += [note, ""] }
            lines += Self.table(members, reference: groupReference)
            lines += ["", "![\(scenario) \(group)](\(scenario)-\(group).svg)"]
        }
        if let memory, !memory.isEmpty {
            lines += ["", "Per instance, with all instances idle (series above: time until each instance was up):", "",
                      "| runtime | instances | host memory (MiB) | PSS of its processes (MiB) | stop (ms) |",
                      "|---|---|---|---|---|"]
            for row in memory {
                lines.append("| \(row.name) | \(row.instances) | \(format(Double(row.hostKiBPerInstance) / 1024)) | "
                             + "\(format(Double(row.proportionalKiBPerInstance) / 1024)) | "
                             + "\(BarChart.number(row.stopMillisecondsPerInstance)) |")
            }
            let unclean = memory.compactMap { row -> String? in
                let endings = (row.killedAfterTimeout ?? []).map { "\($0): SIGKILLed after 10 s" } + (row.otherEndings ?? [])
                return endings.isEmpty ? nil : "- \(row.name): \(endings.joined(separator: "; "))"
            }
            if !unclean.isEmpty { lines += ["", "Instances that did not exit 0 on SIGTERM (by index):", ""] + unclean }
            lines += ["", "![\(scenario) memory](\(scenario)-memory.svg)"]
        }
        lines.append("")
        return lines.joined(separator: "\n")
    }

    static func table(_ series: [Series], reference: String?) -> [String] {
        var lines = [
            "| series | runs | median (ms) | mean ± σ (ms) | p90 (ms) | p99 (ms) | min … max (ms) | vs \(reference ?? "—") |",
            "|---|---|---|---|---|---|---|---|",
        ]
        let referenceMedian = series.first { $0.name == reference }?.summary?.p50
        for entry in series {
            guard let s = entry.summary else {
                lines.append("| \(entry.name) | — | skipped: \(entry.skipped ?? "no samples") | | | | | |")
                continue
            }
            var ratio = "—"
            if let referenceMedian, referenceMedian > 0, entry.name != reference {
                ratio = s.p50 >= referenceMedian ? "\(format(s.p50 / referenceMedian, decimals: 2))× slower"
                    : "\(format(referenceMedian / s.p50, decimals: 2))× faster"
            } else if entry.name == reference {
                ratio = "reference"
            }
            lines.append("| \(entry.name) | \(s.count) | \(BarChart.number(s.p50)) | \(BarChart.number(s.mean)) ± "
                         + "\(BarChart.number(s.standardDeviation)) | \(BarChart.number(s.p90)) | \(BarChart.number(s.p99)) | "
                         + "\(BarChart.number(s.min)) … \(BarChart.number(s.max)) | \(ratio) |")
        }
        return lines
    }

    /// The extra groups, in the order their first series appears.
    var groups: [String] {
        series.reduce(into: []) { if let group = $1.group, !$0.contains(group) { $0.append(group) } }
    }

    /// The chart for `--report`: medians with min–p90 whiskers, log scale when the
    /// series span more than 20×.
    public var chart: BarChart { chart(group: nil) }

    func chart(group: String?) -> BarChart {
        let bars = series.filter { $0.group == group }.compactMap { entry in
            entry.summary.map { BarChart.Bar(label: entry.name, value: $0.p50, low: $0.min, high: $0.p90) }
        }
        let values = bars.map(\.value)
        let spread = (values.max() ?? 1) / Swift.max(values.min() ?? 1, 1e-9)
        let title = group.map { "isorun bench \(scenario), \($0) (ms)" } ?? "isorun bench \(scenario): time to exit (ms)"
        return BarChart(title: title, unit: "ms", bars: bars, logarithmic: spread > 20)
    }

    /// `density`: PSS per instance, one bar per runtime.
    public var memoryChart: BarChart? {
        guard let memory, !memory.isEmpty else { return nil }
        let bars = memory.map { BarChart.Bar(label: $0.name, value: Double($0.proportionalKiBPerInstance) / 1024) }
        let values = bars.map(\.value)
        let spread = (values.max() ?? 1) / Swift.max(values.min() ?? 1, 1e-9)
        return BarChart(title: "isorun bench \(scenario): memory per idle instance (PSS, MiB)", unit: "MiB", bars: bars,
                        logarithmic: spread > 20, whiskerNote: false)
    }

    /// Writes `<directory>/<scenario>.md`, `.svg` and `.json`.
    public func write(to directory: String, reference: String?) throws {
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/\(scenario).md", markdown(reference: reference), create: true)
        try Files.write("\(directory)/\(scenario).svg", chart.svg, create: true)
        for group in groups { try Files.write("\(directory)/\(scenario)-\(group).svg", chart(group: group).svg, create: true) }
        if let memoryChart { try Files.write("\(directory)/\(scenario)-memory.svg", memoryChart.svg, create: true) }
        try Files.write("\(directory)/\(scenario).json", json(), create: true)
    }
}

/// What the matrix-style reports (blast, deps, overcommit) share: `<scenario>.md`,
/// `<scenario>.json` and their SVG charts, written side by side.
public protocol ScenarioReport: Encodable {
    static var scenario: String { get }
    func markdown() -> String
    /// File name to SVG text.
    var charts: [String: String] { get }
}

extension ScenarioReport {
    public var charts: [String: String] { [:] }

    public func json() throws -> String { try prettyJSON(self) }

    public func write(to directory: String) throws {
        try Files.makeDirectories(directory)
        try Files.write("\(directory)/\(Self.scenario).md", markdown(), create: true)
        try Files.write("\(directory)/\(Self.scenario).json", json(), create: true)
        for (name, svg) in charts { try Files.write("\(directory)/\(name)", svg, create: true) }
    }
}

/// Reports' JSON: indented, keys sorted, so that two runs diff cleanly.
func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
