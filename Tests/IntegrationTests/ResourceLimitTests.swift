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
