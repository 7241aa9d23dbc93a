import Foundation
import Glibc
import IsorunCgroups
import IsorunSys
import Testing

/// Both cgroup managers against the kernel. A hybrid host (v1 controllers plus an
/// empty v2 tree) lets the v2 manager's create/add/kill/remove run here too, just
/// without controllers; a pure v2 host runs it with them.
@Suite(.enabled(if: getuid() == 0, "cgroups need root"))
struct CgroupManagerTests {
    func exercise(_ manager: any CgroupManager) throws {
        try manager.create()
        defer { try? manager.destroy() }
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        try manager.add(sleeper.processIdentifier)
        #expect(manager.processes() == [sleeper.processIdentifier])
        manager.killAll()
        sleeper.waitUntilExit()
        #expect(sleeper.terminationReason == .uncaughtSignal && sleeper.terminationStatus == SIGKILL)
        #expect(manager.processes().isEmpty)
        try manager.destroy()
        #expect(manager.directories.allSatisfy { !Files.exists($0) })
    }

    @Test func detectedLayoutManagerWorks() throws {
        let layout = try CgroupLayout.detect()
        print("cgroup layout on this host: \(layout)")
        try exercise(Cgroups.manager(layout: layout, relativePath: "isorun/test-\(getpid())", resources: nil))
    }

    @Test func v2ManagerWorksOnTheUnifiedTree() throws {
        let layout = try CgroupLayout.detect()
        let mountPoint: String
        switch layout {
        case .unified(let root): mountPoint = root
        case .legacy(_, let unified?): mountPoint = unified
        case .legacy(_, nil):
            print("SKIP v2 manager test: this host has no cgroup v2 tree at all")
            return
        }
        try exercise(Cgroups.manager(layout: .unified(mountPoint: mountPoint), relativePath: "isorun/test-v2-\(getpid())", resources: nil))
    }

    /// clone3(CLONE_INTO_CGROUP): on a v2 tree the child starts inside its cgroup.
    @Test func childIsCreatedInsideAV2Cgroup() throws {
        let layout = try CgroupLayout.detect()
        let mountPoint: String
        switch layout {
        case .unified(let root): mountPoint = root
        case .legacy(_, let unified?): mountPoint = unified
        case .legacy(_, nil):
            print("SKIP clone-into-cgroup test: this host has no cgroup v2 tree")
            return
        }
        let relative = "isorun/test-clone3-\(getpid())"
        let manager = Cgroups.manager(layout: .unified(mountPoint: mountPoint), relativePath: relative, resources: nil)
        try manager.create()
        defer { try? manager.destroy() }
        var plan = SpawnPlan(arguments: ["/bin/true"], environment: [])
        plan.cgroupDirectory = try #require(manager.directoryForNewProcesses)
        let child = try Spawner.start(plan)
        #expect(child.bornInCgroup)
        // Before it is released, the child already sits in the cgroup.
        #expect(manager.processes() == [child.pid])
        let membership = try Files.readString("/proc/\(child.pid)/cgroup")
        #expect(membership.contains("0::/\(relative)"))
        try child.release()
        #expect(try Processes.wait(child.pid) == .exited(0))
    }
}
