import Foundation
import Testing

/// OCI hooks (config.md): each kind runs at its point of the lifecycle, in order, with
/// the container's state on stdin; a failing setup hook fails the run and leaves nothing.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct HookTests {
    /// A host-side hook that appends "NAME <state JSON>" to `log`.
    static func logging(_ name: String, to log: String) -> [String: Any] {
        ["path": "/bin/sh", "args": ["sh", "-c", "read -r state; echo \"\(name) $state\" >> \(log)"]]
    }

    /// Each line of `log` as (hook name, state document).
    static func entries(_ log: String) throws -> [(name: String, state: [String: Any])] {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            let state = try #require(try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any])
            return (String(parts[0]), state)
        }
    }

    @Test(arguments: ["bare", "sandbox"])
    func everyHookRunsInOrderWithTheContainersState(mode: String) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-hooks-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "echo workload ran"]) { config in
            var hooks: [String: Any] = [:]
            for name in ["prestart", "createRuntime", "createContainer", "poststart", "poststop"] {
                hooks[name] = [Self.logging(name, to: log)]
            }
            // In the container's namespaces after pivot_root: the host's log is out of reach,
            // so it reports on stderr, which the container shares.
            hooks["startContainer"] = [["path": "/bin/sh", "args": ["sh", "-c", "read -r state; echo \"startContainer $state\" >&2"]]]
            config["hooks"] = hooks
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("hooks")
        let result = try IsorunRunner.run(["run", "--mode", mode, "--id", id, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "workload ran\n")

        let entries = try Self.entries(log)
        #expect(entries.map(\.name) == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"])
        #expect(entries.map { $0.state["status"] as? String } == ["creating", "creating", "creating", "running", "stopped"])
        for entry in entries {
            #expect(entry.state["id"] as? String == id)
            #expect(entry.state["bundle"] as? String == bundle)
            #expect(entry.state["ociVersion"] as? String == "1.3.0")
        }
        let pids = Set(entries.dropLast().compactMap { $0.state["pid"] as? Int })
        #expect(pids.count == 1, "one container process from creation to start: \(pids)")
        let started = try #require(result.err.split(separator: "\n").first { $0.hasPrefix("startContainer ") })
        #expect(started.contains("\"status\":\"created\""), "\(started)")
    }

    @Test func aFailingCreateRuntimeHookFailsTheRunAndLeavesNothing() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-hooks-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "echo must not run"]) { config in
            config["hooks"] = ["createRuntime": [["path": "/bin/false"]], "createContainer": [Self.logging("createContainer", to: log)]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("hookfail")
        let result = try IsorunRunner.run(["run", "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.err == "isorun: createRuntime hook /bin/false: exited with status 1\n")
        #expect(result.out.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: log), "no hook after the failed one")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    /// runtime-spec 1.3: a failed poststart hook is an error that stops the container; the
    /// lifecycle goes on at its destruction, so the poststop hooks still run.
    @Test(arguments: ["bare", "sandbox"])
    func aFailingPoststartHookStopsTheContainer(mode: String) throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-hooks-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "60"]) { config in
            config["hooks"] = ["poststart": [["path": "/bin/false"], Self.logging("poststart", to: log)],
                               "poststop": [Self.logging("poststop", to: log)]]
            config["linux"] = (config["linux"] as? [String: Any] ?? [:]).merging(["resources": ["pids": ["limit": 64]]]) { $1 }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("postfail")
        let started = Date()
        let result = try IsorunRunner.run(["run", "--mode", mode, "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.err == "isorun: poststart hook /bin/false: exited with status 1; the container was stopped\n")
        #expect(Date().timeIntervalSince(started) < 30, "the workload was killed, not waited for")
        #expect(try Self.entries(log).map(\.name) == ["poststop"], "no poststart hook after the failed one")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    @Test func aHookPastItsTimeoutIsKilledAndFailsTheRun() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["hooks"] = ["createContainer": [["path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1]]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("hooktime")
        let started = Date()
        let result = try IsorunRunner.run(["run", "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.err.contains("createContainer hook /bin/sleep: timed out"), "\(result.err)")
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }
}

extension HookTests {
    /// A state bigger than a pipe holds (annotations are the caller's to fill) must not
    /// block the setup on a hook that never reads its stdin: its timeout still applies.
    @Test func aLargeStateDoesNotBlockAHookThatIgnoresStdin() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["annotations"] = ["big": String(repeating: "x", count: 200_000)]
            config["hooks"] = ["createContainer": [["path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1]]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let started = Date()
        let result = try IsorunRunner.run(["run", "--id", IsorunRunner.uniqueID("bigstate"), bundle])
        #expect(result.status == 125)
        #expect(result.err.contains("createContainer hook /bin/sleep: timed out"), "\(result.err)")
        #expect(Date().timeIntervalSince(started) < 10)
    }
}
