import IsorunCgroups
import IsorunSpec
import Testing

struct CgroupPathTests {
    @Test func defaultPathIsUnderIsorun() {
        #expect(Cgroups.relativePath(configured: nil, id: "abc") == "isorun/abc")
        #expect(Cgroups.relativePath(configured: "", id: "abc") == "isorun/abc")
    }

    @Test func absoluteConfiguredPathIsFromTheHierarchyRoot() {
        #expect(Cgroups.relativePath(configured: "/kubepods/pod1/c1", id: "abc") == "kubepods/pod1/c1")
    }

    @Test func relativeConfiguredPathStaysUnderIsorun() {
        #expect(Cgroups.relativePath(configured: "mine", id: "abc") == "isorun/mine")
    }

    @Test func v1ManagerRecordsOneDirectoryPerController() {
        let manager = Cgroups.manager(layout: .legacy(root: "/nonexistent", unifiedMountPoint: nil),
                                      relativePath: "isorun/x", resources: nil)
        // No controller exists under /nonexistent, so none is chosen.
        #expect(manager.directories.isEmpty)
        let v2 = Cgroups.manager(layout: .unified(mountPoint: "/sys/fs/cgroup"), relativePath: "isorun/x", resources: nil)
        #expect(v2.directories == ["/sys/fs/cgroup/isorun/x"])
    }
}

/// `--systemd-cgroup`: kubelet's systemd driver names cgroups `slice:prefix:name`.
@Suite struct SystemdCgroupPathTests {
    @Test func aPodContainerGoesWhereSystemdPutsItsScope() {
        #expect(Cgroups.relativePath(configured: "kubepods-besteffort-pod1.slice:cri-containerd:c1", id: "c1", systemd: true)
                == "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-c1.scope")
    }

    @Test func defaultsAndSlicesAsNames() {
        #expect(Cgroups.relativePath(configured: nil, id: "abc", systemd: true) == "system.slice/isorun-abc.scope")
        #expect(Cgroups.relativePath(configured: ":runc:abc", id: "abc", systemd: true) == "system.slice/runc-abc.scope")
        #expect(Cgroups.relativePath(configured: "-.slice:p:x", id: "x", systemd: true) == "p-x.scope")
        #expect(Cgroups.relativePath(configured: "a-b.slice::a-b-c.slice", id: "x", systemd: true)
                == "a.slice/a-b.slice/a-b-c.slice")
    }
}
