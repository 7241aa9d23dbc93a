import Foundation
import IsorunCore
import IsorunSpec
import Testing
@testable import IsorunSandbox

/// What isorun tells a seccomp agent, and which flags reach seccomp(2) (no kernel needed).
struct SeccompAgentMessageTests {
    @Test func theProcessStateNamesTheListenerThePidAndTheContainer() throws {
        let state = ContainerState(id: "c1", status: "creating", pid: 42, bundle: "/b", annotations: ["k": "v"], created: nil)
        let text = SeccompAgent.processState(pid: 42, metadata: "MKNOD=/dev/null", state: state)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(document["fds"] as? [String] == ["seccompFd"])
        #expect(document["pid"] as? Int == 42)
        #expect(document["metadata"] as? String == "MKNOD=/dev/null")
        #expect(document["ociVersion"] as? String == state.ociVersion)
        let container = try #require(document["state"] as? [String: Any])
        #expect(container["id"] as? String == "c1")
        #expect(container["status"] as? String == "creating")
        #expect(container["annotations"] as? [String: String] == ["k": "v"])
        // No metadata, no key.
        #expect(!SeccompAgent.processState(pid: 1, metadata: nil, state: state).contains("metadata"))
    }

    @Test func flagsBecomeBitsAndTSYNCIsLeftOut() {
        let profile = Seccomp(defaultAction: "SCMP_ACT_ALLOW",
                              flags: ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
        #expect(SeccompAgent.flags(of: profile) == 2 | 4)
        #expect(SeccompAgent.flags(of: nil) == 0)
    }

    @Test func onlyAProfileWithNotifyRulesGetsAnAgent() {
        let state: (pid_t) -> ContainerState = { ContainerState(id: "c", status: "creating", pid: $0, bundle: "/b", annotations: nil, created: nil) }
        let plain = Seccomp(defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/agent.sock",
                            syscalls: [SyscallRule(names: ["mkdir"], action: "SCMP_ACT_ERRNO")])
        #expect(SeccompAgent.listener(for: plain, state: state) == nil)
        var notifying = plain
        notifying.syscalls = [SyscallRule(names: ["mkdir"], action: "SCMP_ACT_NOTIFY")]
        #expect(SeccompAgent.listener(for: notifying, state: state) != nil)
    }
}
