import Foundation
import Glibc
import IsorunCgroups
import IsorunSpec
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

    /// A nested cgroupsPath makes directories above the container's cgroup. Those isorun made
    /// go with the last cgroup under them, whichever container made them; one made by someone
    /// else (a parent with limits of its own) stays, and so does the shared `isorun/`.
    @Test(arguments: ["detected", "v2"]) func directoriesMadeAboveACgroupGoWithTheLastCgroupUnderThem(tree: String) throws {
        var layout = try CgroupLayout.detect()
        if tree == "v2", case .legacy(_, let unified) = layout {
            guard let unified else { print("SKIP: this host has no cgroup v2 tree"); return }
            layout = .unified(mountPoint: unified)
        }
        let top = "isorun/nest-\(tree)-\(getpid())"
        let first = Cgroups.manager(layout: layout, relativePath: "\(top)/shared/a", resources: nil)
        let second = Cgroups.manager(layout: layout, relativePath: "\(top)/shared/b", resources: nil)
        // The hierarchies' mount points: each directory minus the relative path.
        let hierarchies = first.directories.map { String($0.dropLast("/\(top)/shared/a".count)) }
        defer {
            for hierarchy in hierarchies {
                for directory in ["\(top)/shared/a", "\(top)/shared/b", "\(top)/shared", "\(top)/kept/c", "\(top)/kept", top] {
                    rmdir("\(hierarchy)/\(directory)")
                }
            }
        }
        try first.create()
        try second.create()
        for hierarchy in hierarchies {
            #expect(Files.hasAttribute("trusted.isorun.made", at: "\(hierarchy)/\(top)"))
            #expect(Files.hasAttribute("trusted.isorun.made", at: "\(hierarchy)/\(top)/shared"))
            #expect(!Files.hasAttribute("trusted.isorun.made", at: "\(hierarchy)/\(top)/shared/a"))
            #expect(!Files.hasAttribute("trusted.isorun.made", at: "\(hierarchy)/isorun"))
        }
        try first.destroy()
        #expect(hierarchies.allSatisfy { Files.isDirectory("\($0)/\(top)/shared") && !Files.exists("\($0)/\(top)/shared/a") })
        try second.destroy()
        #expect(hierarchies.allSatisfy { !Files.exists("\($0)/\(top)") && Files.isDirectory("\($0)/isorun") })

        // A parent made by someone else: kept, with what isorun made under it gone.
        let third = Cgroups.manager(layout: layout, relativePath: "\(top)/kept/c", resources: nil)
        for hierarchy in hierarchies { try Files.makeDirectories("\(hierarchy)/\(top)") }
        try third.create()
        #expect(hierarchies.allSatisfy { Files.hasAttribute("trusted.isorun.made", at: "\($0)/\(top)/kept") })
        try third.destroy()
        #expect(hierarchies.allSatisfy { Files.isDirectory("\($0)/\(top)") && !Files.exists("\($0)/\(top)/kept") })
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
        plan.cgroupDirectory = manager.directoryForNewProcesses
        let child = try Spawner.start(plan)
        #expect(child.bornInCgroup)
        // Before it is released, the child already sits in the cgroup.
        #expect(manager.processes() == [child.pid])
        let membership = try Files.readString("/proc/\(child.pid)/cgroup")
        #expect(membership.contains("0::/\(relative)"))
        try child.release()
        #expect(try Processes.wait(child.pid) == .exited(0))
    }
    /// cgroup v2 controls devices with a BPF program (a hybrid host's v2 tree runs it
    /// too): the rules hold for a real process, and an update replaces them.
    @Test func v2DeviceRulesAreEnforced() throws {
        let mountPoint: String
        switch try CgroupLayout.detect() {
        case .unified(let root): mountPoint = root
        case .legacy(_, let unified?): mountPoint = unified
        case .legacy(_, nil):
            print("SKIP v2 device test: this host has no cgroup v2 tree")
            return
        }
        let denyAllButNull: [DeviceCgroupRule] = [.init(allow: false, access: "rwm"),
                                                  .init(allow: true, type: "c", major: 1, minor: 3, access: "rw")]
        let manager = Cgroups.manager(layout: .unified(mountPoint: mountPoint), relativePath: "isorun/test-devices-\(getpid())",
                                      resources: nil)
        try manager.create()
        defer { try? manager.destroy() }
        try manager.apply(Resources(devices: denyAllButNull))
        // /dev/zero is one of the devices every container gets; /dev/kmsg (c 1:11) is not.
        #expect(try openings(in: manager) == "null:open zero:open kmsg:denied")
        try manager.apply(Resources(devices: denyAllButNull + [.init(allow: true, type: "c", major: 1, minor: 11, access: "rw")]))
        #expect(try openings(in: manager) == "null:open zero:open kmsg:open")
    }

    /// Which of /dev/null, /dev/zero and /dev/kmsg a shell started in `manager`'s cgroup can open read-write.
    func openings(in manager: any CgroupManager) throws -> String {
        var pipeEnds: [Int32] = [0, 0]
        #expect(pipe(&pipeEnds) == 0)
        defer { close(pipeEnds[0]) }
        let script = "for d in null zero kmsg; do if (: <>/dev/$d) 2>/dev/null; then echo $d:open; else echo $d:denied; fi; done"
        var plan = SpawnPlan(arguments: ["/bin/sh", "-c", script], environment: ["PATH=/usr/bin:/bin"])
        plan.cgroupDirectory = manager.directoryForNewProcesses
        plan.nullStdio = true
        plan.stdoutDescriptor = pipeEnds[1]
        let child = try Spawner.start(plan)
        close(pipeEnds[1])
        try child.release()
        #expect(try Processes.wait(child.pid) == .exited(0))
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while case let count = read(pipeEnds[0], &buffer, buffer.count), count > 0 { output += buffer[0..<count] }
        return String(decoding: output, as: UTF8.self).split(separator: "\n").joined(separator: " ")
    }
}
