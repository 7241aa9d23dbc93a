import Foundation
import Testing

/// `linux.timeOffsets` in a new time namespace, and `linux.personality`: what the workload
/// reads from its clocks and from uname(2), against the host's.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct ClockAndPersonalityTests {
    static let week = 604_800.0

    /// Seconds since boot as /proc/uptime says (CLOCK_BOOTTIME, which a time namespace offsets).
    static func uptime(_ text: String) -> Double? { text.split(separator: " ").first.flatMap { Double($0) } }

    static func hostUptime() throws -> Double {
        try #require(uptime(try String(contentsOfFile: "/proc/uptime", encoding: .utf8)))
    }

    /// hello with a time namespace a week ahead in boot time and three days in monotonic time,
    /// and with `userNamespace` a user namespace whose root is host uid 100000.
    static func timeBundle(args: [String], userNamespace: Bool = false) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: args) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["namespaces"] = (linux["namespaces"] as? [[String: Any]] ?? []) + [["type": "time"]]
                + (userNamespace ? [["type": "user"]] : [])
            linux["timeOffsets"] = ["boottime": ["secs": 604_800], "monotonic": ["secs": 259_200, "nanosecs": 5]]
            if userNamespace {
                linux["uidMappings"] = [["containerID": 0, "hostID": 100_000, "size": 65536]]
                linux["gidMappings"] = [["containerID": 0, "hostID": 100_000, "size": 65536]]
            }
            config["linux"] = linux
        }
    }

    /// In a user namespace too, where the offsets must be written before the switch to its root.
    @Test(arguments: [false, true])
    func aTimeNamespaceShiftsTheWorkloadsClocksByTheConfiguredOffsets(userNamespace: Bool) throws {
        let bundle = try Self.timeBundle(args: ["sh", "-c", "cat /proc/uptime; cat /proc/self/timens_offsets; readlink /proc/self/ns/time"],
                                         userNamespace: userNamespace)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let before = try Self.hostUptime()
        let result = try IsorunRunner.run(["run", bundle])
        let after = try Self.hostUptime()
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        try #require(lines.count == 4, "\(result.out)")
        let uptime = try #require(Self.uptime(lines[0]), "\(result.out)")
        #expect(uptime >= before + Self.week && uptime <= after + Self.week + 1, "host \(before)…\(after), workload \(uptime)")
        #expect(lines[1] == "monotonic 259200 5" && lines[2] == "boottime 604800 0", "\(result.out)")
        #expect(lines[3] != (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/time")))
    }

    /// `exec` joins the container's time namespace with the others, before `start` (when
    /// the container's process has not entered it yet) and after.
    @Test func anExecdProcessSeesTheContainersClocks() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-time-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try Self.timeBundle(args: ["sleep", "30"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("time")
        try #require(try IsorunRunner.create(bundle: bundle, root: root, id: id) == 0)
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        for phase in ["created", "running"] {
            if phase == "running" { try #require(try IsorunRunner.run(["--root", root, "start", id]).status == 0) }
            let host = try Self.hostUptime()
            let exec = try IsorunRunner.run(["--root", root, "exec", id, "cat", "/proc/uptime"])
            #expect(exec.status == 0, "\(phase): \(exec.err)")
            let uptime = try #require(Self.uptime(exec.out), "\(phase): \(exec.out)")
            #expect(uptime >= host + Self.week && uptime <= host + Self.week + 5, "\(phase): host \(host), exec'd process \(uptime)")
        }
    }

    /// A process attribute like its limits: bare mode sets it too.
    @Test(arguments: ["sandbox", "bare"]) func linux32MakesUnameReportA32BitMachine(mode: String) throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["uname", "-m"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["personality"] = ["domain": "LINUX32"]
            config["linux"] = linux
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", mode, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "i686\n")
        let host = try IsorunRunner.runProgram("/bin/uname", ["-m"])
        #expect(host.out == "x86_64\n", "the host itself is 64-bit")
    }
}

extension VMModeTests {
    /// The guest's clocks start at its own boot; a time namespace shifts what the process
    /// reads by the same offsets as in the sandbox.
    @Test func aTimeNamespaceShiftsTheGuestsClocksToo() throws {
        let bundle = try ClockAndPersonalityTests.timeBundle(args: ["sh", "-c", "cat /proc/uptime; cat /proc/self/timens_offsets"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "vm", "--id", IsorunRunner.uniqueID("vmtime"), bundle])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        try #require(lines.count == 3, "\(result.out)")
        let uptime = try #require(ClockAndPersonalityTests.uptime(lines[0]), "\(result.out)")
        // A week ahead of a guest that booted moments ago.
        #expect(uptime >= ClockAndPersonalityTests.week && uptime < ClockAndPersonalityTests.week + 60, "\(uptime)")
        #expect(lines[1] == "monotonic 259200 5" && lines[2] == "boottime 604800 0", "\(result.out)")
    }
}
