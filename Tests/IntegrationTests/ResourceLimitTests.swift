import Foundation
import Testing

/// cgroup limits hold on the real kernel, whichever cgroup version the host runs.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct ResourceLimitTests {
    @Test(arguments: ["sandbox", "bare"])
    func memoryHogBeyondTheLimitIsOOMKilled(mode: String) throws {
        let result = try IsorunRunner.run(mode: mode, bundle: "memhog",
                                          ["awk", "BEGIN { s = \"0123456789abcdef\"; while (1) { s = s s } }"])
        #expect(result.status == 137, "\(result.err)")
    }

    @Test func pidsLimitStopsAForkBombWhileTheHostStaysResponsive() throws {
        let started = try IsorunRunner.start(["run", "--id", IsorunRunner.uniqueID("forkbomb"), IsorunRunner.bundle("forkbomb")],
                                             environment: nil)
        // While the bomb holds its limit, the host can still start processes.
        var hostSpawns = 0
        for _ in 0..<20 {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: "/bin/true")
            try probe.run()
            probe.waitUntilExit()
            if probe.terminationStatus == 0 { hostSpawns += 1 }
        }
        let result = IsorunRunner.finish(started)
        #expect(hostSpawns == 20)
        #expect(result.status == 0, "\(result.err)")
        let count = result.out.split(separator: "\n").first.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) }
        let processes = try #require(count, "unexpected output: \(result.out)")
        // The bomb reached the limit (64 in config.json) and not beyond.
        #expect(processes <= 64)
        #expect(processes >= 32)
    }

    @Test func limitsAreVisibleInsideTheSandbox() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello",
                                          ["sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"])
        #expect(result.out == "64\n", "\(result.err)")
    }
}

extension ResourceLimitTests {
    /// `cpu.burst` and `cpu.idle`, read back from inside the container's own cpu cgroup
    /// (v1 here: cpu.cfs_burst_us and cpu.idle; pure v2 is checked in the VM, see
    /// CgroupV2GuestTests). A burst beyond the quota is a 125 naming the field.
    @Test func cpuBurstAndIdleReachTheContainersCgroup() throws {
        func bundle(_ cpu: [String: Any], _ script: String) throws -> String {
            try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
                var linux = config["linux"] as? [String: Any] ?? [:]
                var resources = linux["resources"] as? [String: Any] ?? [:]
                resources["cpu"] = cpu
                linux["resources"] = resources
                config["linux"] = linux
            }
        }
        let v1 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        let files = v1 ? "cpu/cpu.cfs_quota_us cpu/cpu.cfs_burst_us cpu/cpu.idle" : "cpu.max cpu.max.burst cpu.idle"
        let script = "cd /sys/fs/cgroup && cat \(files)"
        let limited = try bundle(["quota": 50_000, "period": 100_000, "burst": 20_000, "idle": 1], script)
        defer { try? FileManager.default.removeItem(atPath: limited) }
        let result = try IsorunRunner.run(["run", limited])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == (v1 ? "50000\n20000\n1\n" : "50000 100000\n20000\n1\n"), "\(result.err)")

        let tooMuch = try bundle(["quota": 50_000, "period": 100_000, "burst": 60_000], script)
        defer { try? FileManager.default.removeItem(atPath: tooMuch) }
        let refused = try IsorunRunner.run(["run", tooMuch])
        #expect(refused.status == 125)
        #expect(refused.err.contains("linux.resources.cpu.burst: must not be larger than the quota"), "\(refused.err)")
    }
}
