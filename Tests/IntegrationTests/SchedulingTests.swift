import Foundation
import Testing

/// `process.scheduler`, `process.ioPriority` and `process.execCPUAffinity`: what the workload
/// reads back from /proc and ionice, in both host-side modes, and what `exec` pins.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct SchedulingTests {
    /// `sh -c script` in hello with `edit` applied to its config.
    static func bundle(_ script: String, _ edit: @escaping (inout [String: Any]) -> Void) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            IsorunRunner.edit(&config, at: ["process"], edit)
            // On cgroup v1 with real-time group scheduling (this host), a cpu cgroup of the
            // container's own starts with no real-time runtime, and the kernel refuses a
            // real-time policy in it: keep the workload out of the cpu hierarchy.
            IsorunRunner.edit(&config, at: ["linux", "resources"]) { $0["cpu"] = nil }
        }
    }

    /// nice (field 19), rt_priority (40) and policy (41) of /proc/<pid>/stat.
    static let schedulingFields = #"cut -d" " -f19,40,41"#

    @Test(arguments: ["sandbox", "bare"])
    func aBatchPolicyANiceValueAndTheIdleIOClassReachTheWorkload(mode: String) throws {
        let bundle = try Self.bundle("\(Self.schedulingFields) /proc/self/stat; ionice") { process in
            process["scheduler"] = ["policy": "SCHED_BATCH", "nice": 7]
            process["ioPriority"] = ["class": "IOPRIO_CLASS_IDLE", "priority": 0]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", mode, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "7 0 3\nidle\n")
        let host = try IsorunRunner.runProgram("/bin/sh", ["-c", "\(Self.schedulingFields) /proc/self/stat"])
        #expect(host.out == "0 0 0\n", "isorun itself and its caller keep the usual policy")
    }

    /// SCHED_RR for the process itself; with SCHED_FLAG_RESET_ON_FORK its children go back
    /// to SCHED_OTHER. The real-time I/O class is inherited by everything.
    @Test(arguments: ["sandbox", "bare"])
    func aRealTimePolicyResetOnForkStaysWithTheFirstProcess(mode: String) throws {
        let bundle = try Self.bundle("\(Self.schedulingFields) /proc/$$/stat; \(Self.schedulingFields) /proc/self/stat; ionice") { process in
            process["scheduler"] = ["policy": "SCHED_RR", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]]
            process["ioPriority"] = ["class": "IOPRIO_CLASS_RT", "priority": 3]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", mode, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "0 10 2\n0 0 0\nrealtime: prio 3\n")
    }

    /// A deadline period of 10 s is beyond what the kernel accepts (4.19 s unless
    /// kernel.sched_deadline_period_max_us says otherwise): its refusal is isorun's
    /// one-line error, status 125, and the workload never starts.
    @Test(arguments: ["sandbox", "bare"])
    func aPolicyTheKernelRefusesIsAnErrorNamingTheField(mode: String) throws {
        let bundle = try Self.bundle("echo started") { process in
            process["scheduler"] = ["policy": "SCHED_DEADLINE", "runtime": 1_000_000, "deadline": 10_000_000_000,
                                    "period": 10_000_000_000]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("sched")
        let result = try IsorunRunner.run(["run", "--mode", mode, "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.out.isEmpty)
        #expect(result.err.hasSuffix("\n") && result.err.dropLast().split(separator: "\n").count == 1, "\(result.err)")
        #expect(result.err.contains("process.scheduler: sched_setattr"), "\(result.err)")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    static let realtimeGroups = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cpu/cpu.rt_runtime_us")

    /// cgroup v1 with real-time group scheduling: a container with a cpu cgroup of its own
    /// runs a real-time policy only with a budget (`realtimeRuntime`), for which isorun
    /// raises the shared `isorun` cgroup above it; without one the kernel refuses.
    @Test(.enabled(if: realtimeGroups, "needs cgroup v1 with real-time group scheduling (cpu.rt_runtime_us)"))
    func aRealTimePolicyInAContainersOwnCpuCgroupNeedsABudget() throws {
        func bundle(budget: Bool) throws -> String {
            try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "\(Self.schedulingFields) /proc/self/stat; cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us"]) { config in
                IsorunRunner.edit(&config, at: ["process"]) { $0["scheduler"] = ["policy": "SCHED_FIFO", "priority": 5] }
                IsorunRunner.edit(&config, at: ["linux", "resources"]) { resources in
                    resources["cpu"] = budget ? ["shares": 512, "realtimeRuntime": 20_000, "realtimePeriod": 500_000] : ["shares": 512]
                }
            }
        }
        let withBudget = try bundle(budget: true)
        defer { try? FileManager.default.removeItem(atPath: withBudget) }
        // From none, as on a fresh host, so that the raise is what is tested (refused, and
        // harmless, while some other container holds a budget under it).
        try? "0".write(toFile: "/sys/fs/cgroup/cpu/isorun/cpu.rt_runtime_us", atomically: false, encoding: .utf8)
        // Twice in a row: the first container's cgroup still counts against the shared one
        // for a moment after it is removed.
        for mode in ["sandbox", "bare"] {
            let id = IsorunRunner.uniqueID("rt")
            let result = try IsorunRunner.run(["run", "--mode", mode, "--id", id, withBudget])
            #expect(result.status == 0, "\(mode): \(result.err)")
            let lines = result.out.split(separator: "\n")
            #expect(lines.first == "0 5 1", "\(mode): \(result.out)")
            if mode == "sandbox" { #expect(lines.last == "20000", "the container's own cgroup: \(result.out)") }
            #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
        }
        let shared = try String(contentsOfFile: "/sys/fs/cgroup/cpu/isorun/cpu.rt_runtime_us", encoding: .utf8)
        #expect((Int(shared.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) >= 40_000, "4% of every second: \(shared)")

        let without = try bundle(budget: false)
        defer { try? FileManager.default.removeItem(atPath: without) }
        let refused = try IsorunRunner.run(["run", without])
        #expect(refused.status == 125)
        #expect(refused.err.contains("process.scheduler: sched_setattr") && refused.err.contains("EPERM"), "\(refused.err)")
    }

    /// The CPUs isorun's own process may use, as the kernel lists them.
    static func allowedCPUs() throws -> String {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        return line.split(separator: "\t").last.map(String.init) ?? ""
    }

    /// The spec leaves the container's own process out; `exec` honours the config's
    /// execCPUAffinity, and a --process document's. Needs a second CPU to tell them apart.
    @Test(.enabled(if: ProcessInfo.processInfo.activeProcessorCount >= 2, "needs two CPUs"))
    func execPinsTheProcessesItStartsButNotTheContainersOwn() throws {
        let allowed = try Self.allowedCPUs()
        let bundle = try Self.bundle("sleep 30") { process in process["execCPUAffinity"] = ["final": "1"] }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-affinity-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = IsorunRunner.uniqueID("affinity")
        try #require(try IsorunRunner.create(bundle: bundle, root: root, id: id) == 0)
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        try #require(try IsorunRunner.run(["--root", root, "start", id]).status == 0)

        let own = try IsorunRunner.run(["--root", root, "exec", id, "sh", "-c", "grep Cpus_allowed_list /proc/1/status"])
        #expect(own.out == "Cpus_allowed_list:\t\(allowed)\n", "the container's own process: \(own.err)")
        let fromConfig = try IsorunRunner.run(["--root", root, "exec", id, "grep", "Cpus_allowed_list", "/proc/self/status"])
        #expect(fromConfig.out == "Cpus_allowed_list:\t1\n", "\(fromConfig.err)")

        func execDocument(_ affinity: [String: String]) throws -> IsorunRunner.Result {
            let document = ["args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/", "execCPUAffinity": affinity] as [String: Any]
            let path = root + "/process-\(UUID().uuidString).json"
            try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: path))
            return try IsorunRunner.run(["--root", root, "exec", "--process", path, id])
        }
        let finalOnly = try execDocument(["final": "0"])
        #expect(finalOnly.out == "Cpus_allowed_list:\t0\n", "\(finalOnly.err)")
        // Initial CPUs alone: pinned only while it sets itself up, then back to the usual ones.
        let initialOnly = try execDocument(["initial": "1"])
        #expect(initialOnly.out == "Cpus_allowed_list:\t\(allowed)\n", "\(initialOnly.err)")
        // The initial CPUs are really applied: ones that do not exist are the kernel's EINVAL.
        let missing = ProcessInfo.processInfo.activeProcessorCount + 5
        let refused = try execDocument(["initial": "\(missing)", "final": "0"])
        #expect(refused.status == 125)
        #expect(refused.err.contains("process.execCPUAffinity.initial: sched_setaffinity"), "\(refused.err)")
        let malformed = try execDocument(["initial": "1-0"])
        #expect(malformed.status == 125)
        #expect(malformed.err.contains("process-") && malformed.err.contains("execCPUAffinity.initial: '1-0'"), "\(malformed.err)")
    }
}

extension VMModeTests {
    /// isorun-init gives the guest's process the same scheduler, I/O priority and OOM score,
    /// at the same point of its start as the sandbox's shim; a refusal is the same 125.
    @Test func theSchedulerIOPriorityAndOOMScoreReachTheGuestsProcess() throws {
        let script = "\(SchedulingTests.schedulingFields) /proc/$$/stat; \(SchedulingTests.schedulingFields) /proc/self/stat; ionice; cat /proc/self/oom_score_adj"
        let bundle = try SchedulingTests.bundle(script) { process in
            process["scheduler"] = ["policy": "SCHED_RR", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]]
            process["ioPriority"] = ["class": "IOPRIO_CLASS_RT", "priority": 3]
            process["oomScoreAdj"] = 123
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "vm", "--id", IsorunRunner.uniqueID("vmsched"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "0 10 2\n0 0 0\nrealtime: prio 3\n123\n")

        let refused = try SchedulingTests.bundle("echo started") { process in
            process["scheduler"] = ["policy": "SCHED_DEADLINE", "runtime": 1_000_000, "deadline": 10_000_000_000,
                                    "period": 10_000_000_000]
        }
        defer { try? FileManager.default.removeItem(atPath: refused) }
        let failed = try IsorunRunner.run(["run", "--mode", "vm", "--id", IsorunRunner.uniqueID("vmsched"), refused])
        #expect(failed.status == 125)
        #expect(failed.out.isEmpty)
        #expect(failed.err.contains("process.scheduler: sched_setattr"), "\(failed.err)")
    }
}
