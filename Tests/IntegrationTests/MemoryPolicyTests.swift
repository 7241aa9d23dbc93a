import Foundation
import Testing

/// Without CONFIG_NUMA the kernel has neither memory policies nor numa_maps to show them.
let hostHasNUMAMaps = FileManager.default.fileExists(atPath: "/proc/self/numa_maps")

/// `linux.memoryPolicy`: the NUMA policy the workload, its children, `exec`'d processes and
/// a VM's QEMU read back from /proc/<pid>/numa_maps, whose lines name the task's policy
/// for mappings without one of their own.
@Suite(.enabled(if: IsorunRunner.canRun && hostHasNUMAMaps, "needs root, a built isorun and bundles, and a kernel with NUMA (/proc/self/numa_maps)"))
struct MemoryPolicyTests {
    /// The policy field of a process's first mapping.
    static let policyOfFirstMapping = "head -1 /proc/self/numa_maps | cut -d' ' -f2"

    static func bundle(_ script: String, policy: [String: Any]) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { $0["memoryPolicy"] = policy }
        }
    }

    /// The highest node this host could ever have (/sys/devices/system/node/possible).
    static func lastPossibleNode() throws -> Int {
        let possible = try String(contentsOfFile: "/sys/devices/system/node/possible", encoding: .utf8)
        return try #require(possible.split(whereSeparator: { ",-\n".contains($0) }).compactMap { Int($0) }.max())
    }

    @Test(arguments: ["sandbox", "bare"])
    func aBindPolicyReachesTheWorkloadAndItsChildren(mode: String) throws {
        let script = "\(Self.policyOfFirstMapping); sh -c \"\(Self.policyOfFirstMapping)\""
        let bundle = try Self.bundle(script, policy: ["mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", mode, bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "bind=static:0\nbind=static:0\n")
        let host = try IsorunRunner.runProgram("/bin/sh", ["-c", Self.policyOfFirstMapping])
        #expect(host.out == "default\n", "isorun's caller keeps its own policy")
    }

    /// Interleaving over a node this host can never have: the kernel refuses it, and the
    /// refusal is the usual one-line 125 that names the field; nothing starts or stays.
    @Test(arguments: ["sandbox", "bare"])
    func aPolicyTheKernelRefusesIsAnErrorNamingTheField(mode: String) throws {
        let missing = try Self.lastPossibleNode() + 1
        try #require(missing < 1024, "a host with every node possible")
        let bundle = try Self.bundle("echo started", policy: ["mode": "MPOL_INTERLEAVE", "nodes": "\(missing)"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("mempolicy")
        let result = try IsorunRunner.run(["run", "--mode", mode, "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.out.isEmpty)
        #expect(result.err.hasSuffix("\n") && result.err.dropLast().split(separator: "\n").count == 1, "\(result.err)")
        #expect(result.err.contains("linux.memoryPolicy: set_mempolicy"), "\(result.err)")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    @Test func aMalformedPolicyIsRefusedBeforeAnythingStarts() throws {
        let bundle = try Self.bundle("echo started", policy: ["mode": "MPOL_LOCAL", "nodes": "0"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", bundle])
        #expect(result.status == 125)
        #expect(result.err.contains("linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"), "\(result.err)")
    }

    @Test func execGivesItsProcessesTheContainersPolicy() throws {
        let bundle = try Self.bundle("sleep 30", policy: ["mode": "MPOL_INTERLEAVE", "nodes": "0"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-mempolicy-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = IsorunRunner.uniqueID("mempolicy")
        try #require(try IsorunRunner.create(bundle: bundle, root: root, id: id) == 0)
        defer { _ = try? IsorunRunner.run(["--root", root, "delete", "--force", id]) }
        try #require(try IsorunRunner.run(["--root", root, "start", id]).status == 0)
        let exec = try IsorunRunner.run(["--root", root, "exec", id, "sh", "-c", Self.policyOfFirstMapping])
        #expect(exec.status == 0, "\(exec.err)")
        #expect(exec.out == "interleave:0\n")
    }
}

extension VMModeTests {
    /// In a VM the guest's RAM is QEMU's memory, so QEMU runs under the policy.
    @Test(.enabled(if: hostHasNUMAMaps, "needs a host kernel with NUMA (/proc/self/numa_maps)"))
    func qemuRunsUnderTheMemoryPolicy() throws {
        let bundle = try MemoryPolicyTests.bundle("sleep 3", policy: ["mode": "MPOL_BIND", "nodes": "0"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("vmmempolicy")
        let started = try IsorunRunner.start(["run", "--mode", "vm", "--id", id, bundle])
        var qemu: [String] = []
        for _ in 0..<200 where qemu.isEmpty {
            qemu = VMSupport.qemuProcesses(mentioning: id)
            if qemu.isEmpty { usleep(50_000) }
        }
        let maps = qemu.first.flatMap { try? String(contentsOfFile: "/proc/\($0)/numa_maps", encoding: .utf8) } ?? ""
        let result = IsorunRunner.finish(started)
        #expect(result.status == 0, "\(result.err)")
        #expect(maps.split(separator: "\n").first?.split(separator: " ").dropFirst().first == "bind:0", "\(maps.prefix(200))")
    }
}
