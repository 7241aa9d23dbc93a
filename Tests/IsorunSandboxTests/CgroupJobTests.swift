import Foundation
@testable import IsorunCgroups
import IsorunSpec
import IsorunSys
import Testing

/// The cgroup job the network namespace's helper carries out (the shim's cgroup_job.c):
/// its bytes, and the v1 manager writing down what `create` and `apply` would do.
struct CgroupJobTests {
    @Test func bytesAreKindCountPathThenValuesEachEndedByNUL() {
        let job = CgroupJob(setup: [.makeDirectory("/c/a"), .write("/c/a/f", ["1", "22"])], tasks: ["/c/a/tasks"])
        let expected: [UInt8] = Array("d\u{0}/c/a\u{0}".utf8) + Array("w\u{2}/c/a/f\u{0}1\u{0}22\u{0}".utf8)
            + Array("t\u{0}/c/a/tasks\u{0}".utf8)
        #expect(job.bytes == expected)
        #expect(job.descriptions == ["mkdir /c/a", "write /c/a/f", "open /c/a/tasks"])
        #expect(CgroupJob(setup: [.write("/x", ["5"])], tasks: []).descriptions == ["write /x (5)"])
    }

    /// The child maps the descriptors the helper passes back to the last steps.
    @Test func tasksFilesComeLast() {
        let job = CgroupJob(setup: [.openTasks("/early"), .makeDirectory("/c")], tasks: ["/c/tasks"])
        #expect(job.steps == [.makeDirectory("/c"), .openTasks("/c/tasks")])
    }

    @Test func aJobTheHelperCannotCarryOutIsRefused() {
        #expect(CgroupJob(setup: [.makeDirectory("/c")], tasks: ["/c/tasks"]).fitsTheHelper)
        #expect(!CgroupJob(setup: [.write("/c/f", ["a\u{0}b"])], tasks: []).fitsTheHelper)
        #expect(!CgroupJob(setup: [], tasks: (0..<17).map { "/c\($0)/tasks" }).fitsTheHelper)
        #expect(!CgroupJob(setup: [.write("/c/f", Array(repeating: "1", count: 256))], tasks: []).fitsTheHelper)
    }

    /// A hierarchy root with the files `apply` looks at there (swap accounting).
    func hierarchies(swapAccounting: Bool) throws -> String {
        let root = NSTemporaryDirectory() + "cgroup-job-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/memory", withIntermediateDirectories: true)
        if swapAccounting { try #require(FileManager.default.createFile(atPath: root + "/memory/memory.memsw.limit_in_bytes", contents: nil)) }
        return root
    }

    @Test func theV1JobIsWhatCreateAndApplyWouldDoInOrder() throws {
        let root = try hierarchies(swapAccounting: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let manager = CgroupV1Manager(root: root, relativePath: "isorun/c1", controllers: ["pids", "memory", "cpu", "devices"])
        let resources = Resources(devices: [DeviceCgroupRule(allow: false, access: "rwm")],
                                  memory: MemoryResources(limit: 1 << 27, swap: 1 << 28), cpu: CPUResources(shares: 512),
                                  pids: PidsResources(limit: 64))
        let job = try #require(manager.creationJob(for: resources))
        let made = ["pids", "memory", "cpu", "devices"].flatMap { [CgroupJob.Step.makeDirectory("\(root)/\($0)/isorun"),
                                                                  .makeDirectory("\(root)/\($0)/isorun/c1")] }
        let devices = "\(root)/devices/isorun/c1"
        #expect(job.steps == made + [
            .write("\(devices)/devices.deny", ["a *:* rwm"]),
            .write("\(devices)/devices.allow", DeviceRules.alwaysAllowed.map(DeviceRules.text)),
            .write("\(root)/memory/isorun/c1/memory.limit_in_bytes", ["134217728"]),
            .write("\(root)/memory/isorun/c1/memory.memsw.limit_in_bytes", ["268435456"]),
            .write("\(root)/pids/isorun/c1/pids.max", ["64"]),
            .write("\(root)/cpu/isorun/c1/cpu.shares", ["512"]),
        ] + ["pids", "memory", "cpu", "devices"].map { .openTasks("\(root)/\($0)/isorun/c1/tasks") })
    }

    /// What needs a look at the hierarchy first, or would fail, stays with `create` and
    /// `apply`, which say why.
    @Test func stepsThatReadOrFailAreLeftToTheImmediateWay() throws {
        let root = try hierarchies(swapAccounting: false)
        defer { try? FileManager.default.removeItem(atPath: root) }
        func job(_ controllers: [String], path: String = "isorun/c1", _ resources: Resources?) -> CgroupJob? {
            CgroupV1Manager(root: root, relativePath: path, controllers: controllers).creationJob(for: resources)
        }
        #expect(job(["pids", "memory"], nil) != nil)
        #expect(job(["pids", "cpuset"], nil) == nil, "a cpuset copies its parent's cpus and mems")
        #expect(job(["pids", "cpu"], Resources(cpu: CPUResources(burst: 10))) == nil, "cpu.cfs_burst_us may be missing")
        #expect(job(["pids", "memory"], Resources(memory: MemoryResources(swap: 1 << 28))) == nil, "no swap accounting")
        #expect(job(["pids"], path: "kubepods/pod1/c1", nil) == nil, "ancestors the helper would not mark")
        var blockIO = Resources()
        blockIO.blockIO = BlockIOResources(weight: 100)
        #expect(job(["pids", "blkio"], blockIO) == nil, "blkio.weight may be blkio.bfq.weight")
    }
}
