import CIsorunShim
import Glibc
import IsorunSys
import Testing

/// Which plans the network namespace's helper may make the rootfs of
/// (isorun_rootfs_can_be_made_ahead): the container's process makes proc, mqueue and the
/// cgroup view later, so nothing made ahead may lie in or around them once they come.
struct RootfsAheadRulesTests {
    /// A mount step in C, its strings kept alive by `strings`.
    struct Step {
        var kind = Int32(0)  // a file system
        var source: String?
        var target: String
        var fstype: String?
        var sourceFD = Int32(-1)
        var copyUp = false
    }

    /// Asks the shim about a plan with these steps; `adjust` sets the rest.
    static func allowed(_ steps: [Step], adjust: (inout isorun_spawn_plan) -> Void = { _ in }) -> Bool {
        var strings: [UnsafeMutablePointer<CChar>] = []
        defer { strings.forEach { free($0) } }
        func c(_ value: String?) -> UnsafePointer<CChar>? {
            guard let value, let copy = strdup(value) else { return nil }
            strings.append(copy)
            return UnsafePointer(copy)
        }
        let ops = steps.map { step in
            var op = isorun_mount_op()
            op.kind = step.kind
            op.source = c(step.source)
            op.target = c(step.target)
            op.fstype = c(step.fstype)
            op.source_fd = step.sourceFD
            op.copy_up = step.copyUp ? 1 : 0
            return op
        }
        return ops.withUnsafeBufferPointer { buffer in
            var plan = isorun_spawn_plan()
            plan.rootfs = c("/bundle/rootfs")
            plan.clone_flags = NamespaceFlags.mount | NamespaceFlags.pid | NamespaceFlags.ipc | NamespaceFlags.uts
            plan.mounts = buffer.baseAddress
            plan.mount_count = Int32(buffer.count)
            adjust(&plan)
            return isorun_rootfs_can_be_made_ahead(&plan) == 1
        }
    }

    static let proc = Step(source: "proc", target: "/proc", fstype: "proc")
    static let dev = Step(source: "tmpfs", target: "/dev", fstype: "tmpfs")
    static let mqueue = Step(source: "mqueue", target: "/dev/mqueue", fstype: "mqueue")
    static let sys = Step(source: "sysfs", target: "/sys", fstype: "sysfs")
    static let cgroup = Step(source: "cgroup", target: "/sys/fs/cgroup", fstype: "cgroup2")
    static let data = Step(kind: 1, source: "/srv/data", target: "/data")

    @Test func aRuntimeSpecDefaultConfigIsMadeAhead() {
        #expect(Self.allowed([Self.proc, Self.dev, Self.mqueue, Self.sys, Self.cgroup, Self.data]))
    }

    @Test func aMountInOrAroundALateOneAfterItIsNot() {
        // A bind into /proc after /proc, a tmpfs over /dev after /dev/mqueue.
        #expect(!Self.allowed([Self.proc, Step(kind: 1, source: "/srv/x", target: "/proc/driver/x")]))
        #expect(!Self.allowed([Self.mqueue, Self.dev]))
        // Before it, each is made first either way.
        #expect(Self.allowed([Self.dev, Self.mqueue]))
        #expect(Self.allowed([Self.sys, Self.cgroup]))
    }

    @Test func theCgroupViewAsBindsIsNot() {
        // The container's own cgroup directories, bound: host paths its process cannot reach.
        #expect(!Self.allowed([Step(kind: 1, source: "/sys/fs/cgroup/memory/isorun/x", target: "/sys/fs/cgroup/memory")]))
    }

    @Test func descriptorsAndCopyUpAreNot() {
        #expect(!Self.allowed([Step(kind: 1, source: "/srv/data", target: "/data", sourceFD: 7)]))
        #expect(!Self.allowed([Step(source: "tmpfs", target: "/etc", fstype: "tmpfs", copyUp: true)]))
    }

    @Test func plansThatNeedTheContainersProcessFromTheStartAreNot() {
        #expect(!Self.allowed([Self.proc]) { $0.rootfs = nil })
        #expect(!Self.allowed([Self.proc]) { $0.clone_flags &= ~NamespaceFlags.mount })
        #expect(!Self.allowed([Self.proc]) { $0.clone_flags |= NamespaceFlags.user })
        #expect(!Self.allowed([Self.proc]) { $0.unshare_time_ns = 1 })
        #expect(!Self.allowed([Self.proc]) { $0.hook_barrier = 1 })
        #expect(!Self.allowed([Self.proc]) { $0.create_container_hook_count = 1 })
        #expect(!Self.allowed([Self.proc]) { $0.no_pivot_root = 1 })
        #expect(!Self.allowed([Self.proc]) { $0.rootfs_in_host_namespace = 1 })
        #expect(!Self.allowed([Self.proc]) { $0.rootfs_propagation = UInt(MS_SHARED | MS_REC) })
        #expect(Self.allowed([Self.proc]) { $0.rootfs_propagation = UInt(MS_SLAVE | MS_REC) })
    }

    @Test func joiningAMountOrUserNamespaceIsNot() {
        for type in [NamespaceFlags.mount, NamespaceFlags.user] {
            let joins = [isorun_join(fd: 5, nstype: type)]
            let allowed = joins.withUnsafeBufferPointer { buffer in
                Self.allowed([Self.proc]) { plan in
                    plan.joins = buffer.baseAddress
                    plan.join_count = 1
                }
            }
            #expect(!allowed)
        }
    }
}
