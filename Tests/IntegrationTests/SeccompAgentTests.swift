import Foundation
import Glibc
import Testing

/// `SCMP_ACT_NOTIFY` with `linux.seccomp.listenerPath`: the container's notified system
/// calls go to an agent on the host (Tests/Helpers/seccomp_agent.py), a real listener
/// passed over a real socket.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct SeccompAgentTests {
    static let script = "mkdir /tmp/agent-made && echo made; [ -d /tmp/agent-made ] && echo present || echo absent"

    /// A bundle whose filter hands mkdir to the agent at `listener`.
    func bundle(listener: String, extra: [String: Any] = [:]) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", Self.script]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            var seccomp: [String: Any] = [
                "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": listener, "listenerMetadata": "isorun-test",
                "syscalls": [["names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"]],
            ]
            seccomp.merge(extra) { $1 }
            linux["seccomp"] = seccomp
            config["linux"] = linux
        }
    }

    /// The agent answers the container's mkdir (success, nothing made) and was told who
    /// asked: the listener's name, the pid, the metadata and the container's state.
    @Test(arguments: [false, true])
    func notifiedCallsReachTheAgentWithTheContainersState(noNewPrivileges: Bool) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-agent-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let (socketPath, stateFile) = (scratch + "/agent.sock", scratch + "/state.json")
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        agent.arguments = ["\(IsorunRunner.repository)/Tests/Helpers/seccomp_agent.py", socketPath, stateFile]
        let ready = Pipe()
        agent.standardOutput = ready
        try agent.run()
        defer { if agent.isRunning { agent.terminate() } }
        #expect(String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("ready"))

        let bundle = try self.bundle(listener: socketPath)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        // With no_new_privs the filter is loaded last; without, before the credential change.
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: bundle + "/config.json"))) as? [String: Any])
        var process = config["process"] as? [String: Any] ?? [:]
        process["noNewPrivileges"] = noNewPrivileges
        config["process"] = process
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))

        let id = IsorunRunner.uniqueID("agent")
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", id, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "made\nabsent\n", "the agent said yes without making it")
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        #expect((try? String(contentsOfFile: stateFile + ".answered", encoding: .utf8)) == "1")

        let state = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile))) as? [String: Any])
        #expect(state["fds"] as? [String] == ["seccompFd"])
        #expect(state["metadata"] as? String == "isorun-test")
        #expect((state["pid"] as? Int ?? 0) > 0)
        let container = try #require(state["state"] as? [String: Any])
        #expect(container["id"] as? String == id)
        #expect(container["status"] as? String == "creating")
        #expect(container["bundle"] as? String == bundle)
        #expect(container["pid"] as? Int == state["pid"] as? Int)
    }

    /// An agent that is not there is the run's failure, before the process runs.
    @Test func anAbsentAgentFailsTheRunAndLeavesNothing() throws {
        let bundle = try self.bundle(listener: "/run/isorun-no-such-agent.sock")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("noagent")
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.err.contains("linux.seccomp.listenerPath: connect /run/isorun-no-such-agent.sock"), "\(result.err)")
        #expect(result.err.filter { $0 == "\n" }.count == 1, "\(result.err)")
        #expect(result.out.isEmpty)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/run/isorun/\(id)"))
    }

    /// (what the profile changes, as JSON; the one-line error it gets)
    @Test(arguments: [
        (#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default"),
        (#"{"listenerPath": ""}"#, "linux.seccomp.listenerPath: SCMP_ACT_NOTIFY needs the agent's socket here"),
        (#"{"syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]}"#,
         "linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY cannot take sendmsg"),
        (#"{"flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}"#, "linux.seccomp.flags[0]: unknown flag"),
    ])
    func profilesThatCannotWorkAreRefused(change: String, message: String) throws {
        let extra = try #require(try JSONSerialization.jsonObject(with: Data(change.utf8)) as? [String: Any])
        let bundle = try self.bundle(listener: "/run/unused.sock", extra: extra)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", bundle])
        #expect(result.status == 125)
        #expect(result.err.contains(message), "\(result.err)")
    }

    /// The guest has its own kernel: its filter cannot reach an agent on the host.
    @Test func aVMRefusesAnAgent() throws {
        let bundle = try self.bundle(listener: "/run/unused.sock")
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "vm", bundle])
        #expect(result.status == 125)
        #expect(result.err.contains("SCMP_ACT_NOTIFY needs an agent on the host"), "\(result.err)")
    }

    /// `flags` reach seccomp(2), the host's and the guest's: SECCOMP_FILTER_FLAG_LOG with an
    /// SCMP_ACT_LOG rule loads and runs.
    @Test(arguments: ["sandbox", "vm"])
    func filterFlagsAreAccepted(mode: String) throws {
        if mode == "vm" && !VMSupport.canRun { return }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "echo ok"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["seccomp"] = ["defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                                "syscalls": [["names": ["getppid"], "action": "SCMP_ACT_LOG"]]]
            config["linux"] = linux
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", mode, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "ok\n")
    }
}
