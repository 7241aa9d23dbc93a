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
