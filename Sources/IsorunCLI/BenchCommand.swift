import ArgumentParser
import IsorunBench
import IsorunCore
import IsorunSys

/// `isorun bench SCENARIO`: measures what each mode buys and costs, with peers in
/// the same run. Prints a Markdown table; `--json` and `--report` keep everything.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the modes against each other and against bwrap, runc and QEMU.",
        subcommands: [BenchStartupCommand.self, BenchBlastCommand.self, BenchDepsCommand.self, BenchDensityCommand.self,
                      BenchOvercommitCommand.self, BenchVolumeCommand.self, BenchNetworkCommand.self,
                      BenchAllCommand.self, BenchTargetsCommand.self]
    )
}

/// Options every scenario takes.
struct BenchOptions: ParsableArguments {
    @Flag(name: .long, help: "Few runs: a check that everything works, not a measurement.")
    var quick = false

    @Option(name: .long, help: "Timed runs per process-based series (VM series get a tenth, at least 3).")
    var runs: Int?

    @Option(name: .long, help: "Write raw samples and the environment as JSON to this file.")
    var json: String?

    @Option(name: .long, help: "Write Markdown, SVG and JSON reports into this directory.")
    var report: String?

    @Option(name: .long, help: "The bundle to run.")
    var bundle: String = "Bundles/hello.bundle"

    func validate() throws {
        if let runs, runs < 1 { throw ValidationError("--runs must be at least 1, got \(runs)") }
    }

    var processRuns: Int { runs ?? (quick ? 5 : 30) }
    var vmRuns: Int { quick ? 2 : max(3, processRuns / 10) }

    /// This isorun binary, which the scenarios start.
    static func isorunPath() throws(IsorunError) -> String {
        guard let path = try? FileTree.linkTarget("/proc/self/exe") else { throw IsorunError("cannot find the isorun binary") }
        return path
    }

    /// Writes a matrix-style report (blast, deps, overcommit) where the user asked and prints its Markdown.
    func publish(_ report: some ScenarioReport) throws {
        if let json { try Files.write(json, try report.json(), create: true) }
        if let directory = self.report { try report.write(to: directory) }
        print(report.markdown())
    }

    /// Writes the outputs the user asked for and prints the table.
    func publish(_ report: BenchReport, reference: String) throws(IsorunError) {
        do {
            if let json { try Files.write(json, try report.json(), create: true) }
            if let directory = self.report { try report.write(to: directory, reference: reference) }
        } catch {
            throw IsorunError("bench report: \(error)")
        }
        print(report.markdown(reference: reference))
    }
}

struct BenchStartupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup",
        abstract: "Create-to-exit time of /bin/true in each mode, beside /bin/true itself, bwrap and runc."
    )

    @OptionGroup var options: BenchOptions

    func run() throws {
        try Self.measure(options)
    }

    static func measure(_ options: BenchOptions) throws(IsorunError) {
        let scenario = StartupScenario(options: .init(bundle: options.bundle, runs: options.processRuns,
                                                      vmRuns: options.vmRuns, isorun: try BenchOptions.isorunPath()))
        let report: BenchReport
        do {
            report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
        } catch let error as IsorunError {
            throw error
        } catch {
            throw IsorunError("bench startup: \(error)")
        }
        try options.publish(report, reference: "isorun sandbox")
    }
}

struct BenchTargetsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "targets",
        abstract: "Judge the start-up targets over the rounds of several `bench startup` reports together."
    )

    @Option(name: .long, help: "Also write the verdicts as JSON to this file.")
    var json: String?

    @Argument(help: "Report directories written by `bench startup --report`, or their startup.json.")
    var reports: [String] = []

    func run() throws {
        guard !reports.isEmpty else { throw IsorunError("bench targets: name at least one startup report") }
        // In name order (the results directories' names are their times), so that the
        // seeded resampling gives the same interval whatever order they were named in.
        var loaded: [BenchReport] = []
        for path in reports.sorted() { loaded.append(try PooledTargets.load(path)) }
        let checks = PooledTargets.check(loaded)
        if let json {
            do { try Files.write(json, try PooledTargets.json(checks), create: true) } catch { throw IsorunError("bench targets: \(json): \(error)") }
        }
        print(PooledTargets.markdown(checks, reports: loaded.count))
    }
}

struct BenchDensityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "density",
        abstract: "Start idle instances in each mode, beside bwrap and runc; report memory and time per instance."
    )

    @OptionGroup var options: BenchOptions

    @Option(name: .long, help: "Instances per runtime (VMs: half as many, at least 2).")
    var instances: Int?

    func validate() throws {
        if let instances, instances < 1 { throw ValidationError("--instances must be at least 1, got \(instances)") }
    }

    func run() throws {
        try Self.measure(options, instances: instances)
    }

    static func measure(_ options: BenchOptions, instances: Int?) throws(IsorunError) {
        let count = instances ?? (options.quick ? 3 : 8)
        let scenario = DensityScenario(options: .init(bundle: options.bundle, instances: count,
                                                      vmInstances: max(2, count / 2), isorun: try BenchOptions.isorunPath()))
        let report: BenchReport
        do {
            report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
        } catch {
            throw IsorunError("bench density: \(error)")
        }
        try options.publish(report, reference: "isorun sandbox")
    }
}

struct BenchBlastCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blast",
        abstract: "A victim beside an attacker (fork bomb, memory, CPU, disk, rm -rf /, kill -9 -1, reboot, kernel crash) in each mode."
    )

    @OptionGroup var options: BenchOptions

    @Option(name: .long, help: "Seconds of each measurement window (default 3, --quick 1).")
    var window: Double?

    func run() throws {
        try Self.measure(options, window: window)
    }

    static func measure(_ options: BenchOptions, window: Double?) throws(IsorunError) {
        let scenario = BlastScenario(options: .init(bundle: options.bundle, windowSeconds: window ?? (options.quick ? 1 : 3),
                                                    isorun: try BenchOptions.isorunPath()))
        do {
            let report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
            try options.publish(report)
        } catch {
            throw IsorunError("bench blast: \(error)")
        }
    }
}

struct BenchDepsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deps",
        abstract: "Two apps that each need their own Go at /usr/local/go: which run in which mode."
    )

    @OptionGroup var options: BenchOptions

    @Option(name: .long, help: "The bundle of the app built for the older Go.")
    var oldApp: String = "Bundles/go-old.bundle"

    @Option(name: .long, help: "The bundle of the app that needs the newer Go.")
    var newApp: String = "Bundles/go-new.bundle"

    func run() throws {
        try Self.measure(options, oldApp: oldApp, newApp: newApp)
    }

    static func measure(_ options: BenchOptions, oldApp: String = "Bundles/go-old.bundle",
                        newApp: String = "Bundles/go-new.bundle") throws(IsorunError) {
        let scenario = DepsScenario(options: .init(oldBundle: oldApp, newBundle: newApp, isorun: try BenchOptions.isorunPath()))
        do {
            let report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
            try options.publish(report)
        } catch {
            throw IsorunError("bench deps: \(error)")
        }
    }
}

struct BenchOvercommitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overcommit",
        abstract: "WebServer1/2, DBServer, AppServer promised more CPU and memory than there is; who degrades or dies."
    )

    @OptionGroup var options: BenchOptions

    @Option(name: .long, help: "The memory the four share (the experiment's parent cgroup), MiB.")
    var budget: Int = 1024

    func validate() throws {
        if budget < 256 { throw ValidationError("--budget must be at least 256 MiB, got \(budget)") }
    }

    func run() throws {
        try Self.measure(options, budgetMiB: budget)
    }

    static func measure(_ options: BenchOptions, budgetMiB: Int = 1024) throws(IsorunError) {
        let scenario = OvercommitScenario(options: .init(bundle: options.bundle, budgetMiB: budgetMiB,
                                                         phaseSeconds: options.quick ? 2 : 5, isorun: try BenchOptions.isorunPath()))
        do {
            let report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
            try options.publish(report)
        } catch {
            throw IsorunError("bench overcommit: \(error)")
        }
    }
}

struct BenchAllCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "Every scenario: startup, blast, deps, density, overcommit, volume and network."
    )

    @OptionGroup var options: BenchOptions

    func run() throws {
        try BenchStartupCommand.measure(options)
        try BenchBlastCommand.measure(options, window: nil)
        try BenchDepsCommand.measure(options)
        try BenchDensityCommand.measure(options, instances: nil)
        try BenchOvercommitCommand.measure(options)
        try BenchVolumeCommand.measure(options, mebibytes: nil, rounds: nil, files: nil)
        try BenchNetworkCommand.measure(options, mebibytes: nil, rounds: nil, requests: nil)
    }
}

struct BenchNetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "A server on the host reached from each mode over a veth pair (the VM through its taken-over eth0): throughput and short requests."
    )

    @OptionGroup var options: BenchOptions

    @Option(name: .long, help: "Size of the file fetched, MiB (default 64, --quick 4).")
    var mebibytes: Int?

    @Option(name: .long, help: "How often it is fetched (default 3, --quick 1).")
    var rounds: Int?

    @Option(name: .long, help: "Short requests, one connection each (default 100, --quick 10).")
    var requests: Int?

    func validate() throws {
        if let mebibytes, mebibytes < 1 { throw ValidationError("--mebibytes must be at least 1, got \(mebibytes)") }
        if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
        if let requests, requests < 1 { throw ValidationError("--requests must be at least 1, got \(requests)") }
    }

    func run() throws {
        try Self.measure(options, mebibytes: mebibytes, rounds: rounds, requests: requests)
    }

    static func measure(_ options: BenchOptions, mebibytes: Int?, rounds: Int?, requests: Int?) throws(IsorunError) {
        let scenario = NetworkScenario(options: .init(
            bundle: options.bundle, isorun: try BenchOptions.isorunPath(), mebibytes: mebibytes ?? (options.quick ? 4 : 64),
            rounds: rounds ?? (options.quick ? 1 : 3), requests: requests ?? (options.quick ? 10 : 100),
            runs: options.runs ?? (options.quick ? 1 : 3)))
        do {
            let report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
            try options.publish(report)
        } catch {
            throw IsorunError("bench network: \(error)")
        }
    }
}

struct BenchVolumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "volume",
        abstract: "A host directory bind-mounted into each mode (9p in the VM): write, read and small-file rates."
    )

    @OptionGroup var options: BenchOptions

    @Option(name: .long, help: "Size of the file written and read back, MiB (default 32, --quick 8; the bundle's /tmp must hold it).")
    var mebibytes: Int?

    @Option(name: .long, help: "How often the file is written and read (default 8, --quick 4).")
    var rounds: Int?

    @Option(name: .long, help: "Small files created per place (default 2000, --quick 200).")
    var files: Int?

    func validate() throws {
        if let mebibytes, mebibytes < 1 { throw ValidationError("--mebibytes must be at least 1, got \(mebibytes)") }
        if let files, files < 1 { throw ValidationError("--files must be at least 1, got \(files)") }
        if let rounds, rounds < 1 { throw ValidationError("--rounds must be at least 1, got \(rounds)") }
    }

    func run() throws {
        try Self.measure(options, mebibytes: mebibytes, rounds: rounds, files: files)
    }

    static func measure(_ options: BenchOptions, mebibytes: Int?, rounds: Int?, files: Int?) throws(IsorunError) {
        let scenario = VolumeScenario(options: .init(
            bundle: options.bundle, isorun: try BenchOptions.isorunPath(), mebibytes: mebibytes ?? (options.quick ? 8 : 32),
            rounds: rounds ?? (options.quick ? 4 : 8), files: files ?? (options.quick ? 200 : 2000), runs: options.runs ?? (options.quick ? 1 : 3)))
        do {
            let report = try scenario.run(environment: Environment.current(workspace: "/tmp"))
            try options.publish(report)
        } catch {
            throw IsorunError("bench volume: \(error)")
        }
    }
}
