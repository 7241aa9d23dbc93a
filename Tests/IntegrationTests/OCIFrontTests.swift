import Foundation
import Glibc
import Testing

/// `isorun-oci` (Sources/isorun-oci), the binary containerd runs: `start`, `delete` and
/// `kill` of a plain container done from the plan `create` wrote, everything else handed
/// to isorun.
/// A copy of it alone in a directory cannot hand anything over, so a command that works
/// through that copy was done by the fast path itself.
@Suite(.serialized)
struct OCIFrontTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-oci-\(UUID().uuidString)").path

    /// Beside the isorun under test, as `make build` and `make release` put it.
    static var front: String { URL(fileURLWithPath: IsorunRunner.binary).deletingLastPathComponent().path + "/isorun-oci" }

    static var canRun: Bool {
        guard IsorunRunner.canRun else { return false }
        guard FileManager.default.isExecutableFile(atPath: front) else {
            print("SKIP isorun-oci test: no isorun-oci at \(front); `make build` builds it (musl-gcc, from musl-tools)")
            return false
        }
        return true
    }

    /// A copy of the front with no isorun beside it; the caller removes its directory.
    func loneFront() throws -> String {
        let directory = root + "-lone"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.front, toPath: directory + "/isorun-oci")
        return directory + "/isorun-oci"
    }

    func run(_ program: String, _ arguments: [String]) throws -> IsorunRunner.Result {
        try IsorunRunner.runProgram(program, ["--root", root] + arguments)
    }

    /// `create` through `program`, the container's output going to `output`.
    func create(_ id: String, bundle: String, output: String, program: String = front) throws -> IsorunRunner.Result {
        try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" >\"$4\" 2>&1", program, root, bundle, id, output])
    }

    func status(_ id: String) throws -> String? {
        let result = try run(IsorunRunner.binary, ["state", id])
        let state = try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]
        return state?["status"] as? String
    }

    func waitForStatus(_ id: String, _ wanted: String) throws -> Bool {
        for _ in 0..<250 {
            if try status(id) == wanted { return true }
            usleep(20_000)
        }
        return false
    }

    /// A copy of hello.bundle whose process sleeps, and where its output goes; the caller
    /// hands both to `cleanUp`.
    func sleepingBundle(output name: String) throws -> (bundle: String, output: String) {
        (try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"]), "\(root)-\(name)")
    }

    /// Nothing of the container left: no cgroup directory, no state.
    func expectGone(_ id: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty, sourceLocation: sourceLocation)
        // The run's record and the files beside it (`<id>+exec.fifo` and the like).
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0 == id || $0.hasPrefix(id + "+") }
        #expect(left.isEmpty, "\(left)", sourceLocation: sourceLocation)
    }

    /// Whatever a failed expectation left: the containers (through isorun), then the files.
    func cleanUp(_ paths: String...) {
        for id in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
            _ = try? run(IsorunRunner.binary, ["delete", "--force", id])
        }
        for path in paths + [root, root + "-lone"] { try? FileManager.default.removeItem(atPath: path) }
    }

    /// As runc's: `start` returns once the process has exec'd (its command line is the
    /// workload's, not isorun's), and a process that cannot exec fails `start` by name;
    /// through the lone front (its own fast path) and through isorun.
    @Test(arguments: [true, false])
    func startReturnsAfterTheExecAndReportsAFailedOne(throughFront: Bool) throws {
        guard Self.canRun else { return }
        let starter = throughFront ? try loneFront() : IsorunRunner.binary
        let (bundle, output) = try sleepingBundle(output: "exec")
        let missing = try IsorunRunner.bundleCopy("hello", args: ["/no/such/program"])
        defer { cleanUp(bundle, output, missing) }
        let id = IsorunRunner.uniqueID("oci-x")
        try #require(try create(id, bundle: bundle, output: output).status == 0)
        let started = try run(starter, ["start", id])
        #expect(started.status == 0, "\(started.err)")
        let state = try JSONSerialization.jsonObject(with: try run(IsorunRunner.binary, ["state", id]).stdout) as? [String: Any]
        let pid = try #require(state?["pid"] as? Int)
        let command = try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)
        #expect(command == "sleep\u{0}300\u{0}", "start returned before the exec: \(command)")

        let broken = IsorunRunner.uniqueID("oci-nx")
        try #require(try create(broken, bundle: missing, output: output).status == 0)
        let failed = try run(starter, ["start", broken])
        #expect(failed.status == 125)
        #expect(failed.err.hasPrefix("isorun: start \(broken): exec /no/such/program: No such file or directory"), "\(failed.err)")
        #expect(try waitForStatus(broken, "stopped"))
        #expect(try run(IsorunRunner.binary, ["delete", broken]).status == 0)
        expectGone(broken)
    }

    @Test func startAndDeleteOfAPlainContainerAreDoneWithoutIsorun() throws {
        guard Self.canRun else { return }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "echo started as $$"])
        let output = root + "-out"
        defer { cleanUp(bundle, output) }
        let lone = try loneFront()
        let id = IsorunRunner.uniqueID("oci")
        let created = try create(id, bundle: bundle, output: output)
        try #require(created.status == 0, "\(created.err)")
        let plan = try String(contentsOfFile: "\(root)/\(id)+lifecycle-plan", encoding: .utf8)
        #expect(plan.hasPrefix("pid=") && plan.hasSuffix("end\n"), "\(plan)")
        #expect(try String(contentsOfFile: output, encoding: .utf8).isEmpty)

        let started = try run(lone, ["start", id])
        #expect(started.status == 0, "\(started.err)")
        #expect(try waitForStatus(id, "stopped"))
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "started as 1\n")
        // A second start is an error, which only isorun words: the lone copy cannot.
        #expect(try run(lone, ["start", id]).status == 125)
        #expect(try run(Self.front, ["start", id]).err.contains("not created"))

        let deleted = try run(lone, ["delete", id])
        #expect(deleted.status == 0, "\(deleted.err)")
        expectGone(id)
    }

    @Test func deleteKillsACreatedContainerAndWithForceARunningOne() throws {
        guard Self.canRun else { return }
        let (bundle, output) = try sleepingBundle(output: "sleep")
        defer { cleanUp(bundle, output) }
        let lone = try loneFront()
        let created = IsorunRunner.uniqueID("oci-c"), running = IsorunRunner.uniqueID("oci-r")
        for id in [created, running] { try #require(try create(id, bundle: bundle, output: output).status == 0) }
        let createdPid = try #require(Int32(try String(contentsOfFile: "\(root)/\(created)+lifecycle-plan", encoding: .utf8)
            .split(separator: "\n")[0].dropFirst(4).split(separator: " ")[0]))
        #expect(try run(lone, ["delete", created]).status == 0)
        #expect(kill(createdPid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(createdPid)/stat", encoding: .utf8))?.contains(") Z ") == true)
        expectGone(created)

        #expect(try run(lone, ["start", running]).status == 0)
        #expect(try waitForStatus(running, "running"))
        let refused = try run(Self.front, ["delete", running])
        #expect(refused.status == 125)
        #expect(refused.err.contains("running"), "\(refused.err)")
        // `update` goes to isorun, which may add a controller's directory (cgroup v1): the
        // plan it rewrites names that one too, so delete removes it.
        let updated = try run(Self.front, ["update", "--cpuset-cpus", "0", running])
        #expect(updated.status == 0, "\(updated.err)")
        #expect(try run(lone, ["delete", "--force", running]).status == 0)
        expectGone(running)
    }

    @Test func killSendsASignalGivenByNumber() throws {
        guard Self.canRun else { return }
        let (bundle, output) = try sleepingBundle(output: "kill")
        defer { cleanUp(bundle, output) }
        let lone = try loneFront()
        let id = IsorunRunner.uniqueID("oci-k")
        try #require(try create(id, bundle: bundle, output: output).status == 0)
        #expect(try run(lone, ["start", id]).status == 0)
        #expect(try waitForStatus(id, "running"))
        // By name it is isorun's to read: the lone copy cannot hand it over.
        #expect(try run(lone, ["kill", id, "KILL"]).status == 125)
        #expect(try status(id) == "running")
        #expect(try run(lone, ["kill", id, "9"]).status == 0)
        #expect(try waitForStatus(id, "stopped"))
        let late = try run(Self.front, ["kill", id, "9"])
        #expect(late.status == 125)
        #expect(late.err == "isorun: container not running\n")
        #expect(try run(lone, ["delete", id]).status == 0)
    }

    @Test func whatThePlanDoesNotCoverGoesToIsorun() throws {
        guard Self.canRun else { return }
        let log = root + "-hooks", output = root + "-hooked"
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"]) { config in
            config["hooks"] = Dictionary(uniqueKeysWithValues: ["poststart", "poststop"].map { ($0, [HookTests.logging($0, to: log)]) })
        }
        defer { cleanUp(bundle, log, output) }
        let hooked = IsorunRunner.uniqueID("oci-h")
        try #require(try create(hooked, bundle: bundle, output: output).status == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(root)/\(hooked)+lifecycle-plan"))
        #expect(try run(Self.front, ["start", hooked]).status == 0)
        #expect(try run(Self.front, ["--log", log + ".json", "--log-format", "json", "delete", "--force", hooked]).status == 0)
        #expect(try HookTests.entries(log).map(\.name) == ["poststart", "poststop"])

        // A paused container's delete thaws it first, which is isorun's.
        let plain = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"])
        defer { cleanUp(plain) }
        let paused = IsorunRunner.uniqueID("oci-p")
        try #require(try create(paused, bundle: plain, output: output).status == 0)
        #expect(try run(Self.front, ["start", paused]).status == 0)
        #expect(try run(Self.front, ["pause", paused]).status == 0)
        #expect(try status(paused) == "paused")
        #expect(try run(Self.front, ["delete", "--force", paused]).status == 0)
        expectGone(paused)

        // Other commands and flags pass through unchanged.
        #expect(try run(Self.front, ["state", "no-such-container"]).err == "isorun: container 'no-such-container' does not exist under \(root)\n")
        #expect(try IsorunRunner.runProgram(Self.front, ["--version"]).status == 0)
    }

    /// A copy of the front installed as `isorun` (the conformance scripts once got one) is
    /// a one-line error, not a program that execs itself forever.
    @Test func aFrontStandingInForIsorunIsAnError() throws {
        guard Self.canRun else { return }
        let front = try loneFront()
        let directory = URL(fileURLWithPath: front).deletingLastPathComponent().path
        defer { cleanUp(directory) }
        try FileManager.default.copyItem(atPath: front, toPath: directory + "/isorun")
        // Under timeout(1): were the loop back, this test would end (124) instead of hanging.
        let result = try IsorunRunner.runProgram("/usr/bin/timeout", ["10", front, "--version"])
        #expect(result.status == 125)
        #expect(result.err == "isorun: \(directory)/isorun is isorun-oci itself, not the isorun binary it hands commands to\n")
    }
}
