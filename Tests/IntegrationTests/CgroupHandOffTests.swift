import Foundation
import Glibc
import Testing

/// The container's cgroups, which on cgroup v1 the network namespace's helper makes while
/// the container's child mounts (hello.bundle asks for a network namespace), and which
/// the child joins just before its cgroup mounts.
@Suite(.enabled(if: getuid() == 0, "cgroups need root"))
struct CgroupHandOffTests {
    /// The child joins its cgroups before it makes its cgroup namespace, so the namespace
    /// is rooted at them: every hierarchy shows the container's cgroup as `/`.
    @Test func theCgroupNamespaceIsRootedAtTheContainersOwnCgroups() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["cat", "/proc/self/cgroup"])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasSuffix(":/") }, "\(result.out)")
    }

    /// A setting the kernel refuses (a CFS quota below its 1 ms minimum), met while the
    /// child sets up: a 125 naming the file, and neither the cgroup nor the helper is left.
    @Test func aSettingTheKernelRefusesIsA125NamingTheFile() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["echo", "started"]) { config in
            IsorunRunner.edit(&config, at: ["linux", "resources"]) { $0["cpu"] = ["quota": 500, "period": 100_000] }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("refused")
        let result = try IsorunRunner.run(["run", "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.out.isEmpty)
        let v1 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        #expect(result.err.contains(v1 ? "cpu.cfs_quota_us" : "cpu.max"), "\(result.err)")
        #expect(result.err.split(separator: "\n").count == 1, "\(result.err)")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    /// A child that fails before it joins (its first mount has no source): nothing is
    /// left. (isorun reaps the helper before it removes the cgroup, so a helper still
    /// making it cannot outlast the removal; the runs here seldom meet that race.)
    @Test func aChildThatFailsWhileTheHelperWorksLeavesNoCgroup() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["echo", "started"]) { config in
            let missing: [String: Any] = ["destination": "/mnt", "type": "bind", "source": "/nonexistent-isorun-source",
                                          "options": ["bind"]]
            config["mounts"] = [missing] + (config["mounts"] as? [[String: Any]] ?? [])
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        for attempt in 0..<5 {
            let id = IsorunRunner.uniqueID("early-\(attempt)")
            let result = try IsorunRunner.run(["run", "--id", id, bundle])
            #expect(result.status == 125)
            #expect(result.err.contains("/nonexistent-isorun-source"), "\(result.err)")
            #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty, "attempt \(attempt)")
        }
    }
}
