import Foundation
import Testing

/// A sandbox's process gets a session keyring of its own, named after the container, so a
/// workload whose seccomp rules allow keyctl cannot reach the keys of whoever started
/// isorun; `--no-new-keyring` (runc's flag) keeps the caller's. /proc/keys, masked by
/// default, is unmasked here to look.
@Suite struct SessionKeyringTests {
    /// hello's config with /proc/keys left visible.
    static func unmaskKeys(_ config: inout [String: Any]) {
        var linux = config["linux"] as? [String: Any] ?? [:]
        linux["maskedPaths"] = (linux["maskedPaths"] as? [String] ?? []).filter { $0 != "/proc/keys" }
        config["linux"] = linux
    }

    func keyringLines(_ extraArguments: [String], mode: String = "sandbox") throws -> (IsorunRunner.Result, String) {
        let id = IsorunRunner.uniqueID("keys")
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "grep -c ' \(id): ' /proc/keys"],
                                                 configure: Self.unmaskKeys)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", mode, "--id", id] + extraArguments + [bundle])
        return (result, id)
    }

    @Test func aSandboxJoinsAKeyringOfItsOwnThatEndsWithIt() throws {
        let (result, id) = try keyringLines([])
        #expect(result.status == 0 && result.out == "1\n", "\(result.out) \(result.err)")
        // The kernel collects an unreferenced key from a work queue, soon after.
        var left = true
        for _ in 0..<60 where left {
            left = ((try? String(contentsOfFile: "/proc/keys", encoding: .utf8)) ?? "").contains(" \(id): ")
            if left { usleep(50_000) }
        }
        #expect(!left, "the keyring went with its last process")
    }

    @Test func noNewKeyringKeepsTheCallersAsBareModeDoes() throws {
        let (kept, _) = try keyringLines(["--no-new-keyring"])
        #expect(kept.status == 1 && kept.out == "0\n", "\(kept.out) \(kept.err)")
        let (bare, _) = try keyringLines([], mode: "bare")
        #expect(bare.out == "0\n", "bare mode is the host's process: \(bare.out) \(bare.err)")
    }

    @Test func anExecdProcessGetsOneToo() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-keys-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = IsorunRunner.uniqueID("keys-exec")
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "30"], configure: Self.unmaskKeys)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let created = try IsorunRunner.runProgram("/bin/sh", ["-c", "\"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" >/dev/null 2>&1",
                                                               IsorunRunner.binary, root, bundle, id])
        #expect(created.status == 0)
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        let exec = try IsorunRunner.run(["--root", root, "exec", id, "sh", "-c", "grep -c ' \(id): ' /proc/keys"])
        // Its own, beside the container's: joining that one by name would need a search
        // permission its keyring does not give to other processes.
        #expect(exec.out == "2\n", "\(exec.out) \(exec.err)")
    }
}
