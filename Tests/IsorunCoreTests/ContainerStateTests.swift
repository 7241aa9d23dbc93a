import IsorunSpec
import Testing
@testable import IsorunCore

struct ContainerStateTests {
    /// runtime.md's state document: keys in sorted order, strings escaped, absent ones (a
    /// stopped container's pid, a hook's `created`) left out.
    @Test func writesTheStateDocument() throws {
        let running = ContainerState(id: "web 1", status: "running", pid: 42, bundle: "/b/\"x\"",
                                     annotations: ["org.example/k": "v"], created: "2026-12-02T00:00:00Z")
        #expect(running.json(pretty: false) == #"{"annotations":{"org.example/k":"v"},"bundle":"/b/\"x\"","#
                + #""created":"2026-12-02T00:00:00Z","id":"web 1","ociVersion":"1.3.0","pid":42,"status":"running"}"#)
        let stopped = ContainerState(id: "c", status: "stopped", pid: nil, bundle: "/b", annotations: nil, created: nil)
        #expect(stopped.json() == "{\n  \"bundle\": \"/b\",\n  \"id\": \"c\",\n  \"ociVersion\": \"1.3.0\",\n  \"status\": \"stopped\"\n}")
        #expect(ContainerState.json([stopped, stopped]) == "[" + stopped.json(pretty: false) + "," + stopped.json(pretty: false) + "]")
    }

    /// `state` and `list` add runc's `rootfs` and `owner`; a hook's state has neither.
    @Test func showsRuncsRootfsAndOwnerButHooksGetNeither() throws {
        var record = LifecyclePlanTests().record()
        record.rootfs = "/b/rootfs"
        let shown = ContainerState.shown(record, status: .created, owner: "root").json(pretty: false)
        #expect(shown.contains(#""owner":"root","pid":42,"rootfs":"/b/rootfs","status":"created""#), "\(shown)")
        #expect(ContainerState.shown(record, status: .created).json(pretty: false).contains(#""owner":"""#))
        let forHooks = ContainerState(record: record, status: .created).json(pretty: false)
        #expect(!forHooks.contains("rootfs") && !forHooks.contains("owner"), "\(forHooks)")
        // The record keeps the rootfs; records from before it have none.
        let reread = try ContainerRecord(json: JSONNode.document(Array(record.json.utf8)))
        #expect(reread.rootfs == "/b/rootfs")
        record.rootfs = nil
        #expect(try ContainerRecord(json: JSONNode.document(Array(record.json.utf8))).rootfs == nil)
    }
}

/// The plan isorun-oci carries out for `start` and `delete` (Sources/isorun-oci/main.c reads it).
struct LifecyclePlanTests {
    func record(mode: String = "sandbox", hooks: Hooks? = nil) -> ContainerRecord {
        ContainerRecord(id: "c", bundle: "/b", mode: mode, pid: 42, pidStartTime: 7, created: "2026-12-03T00:00:00Z",
                        annotations: ["pid": "1"], cgroupDirectories: ["/sys/fs/cgroup/pids/isorun/c", "/sys/fs/cgroup/cpu/isorun/c"],
                        hooks: hooks)
    }

    @Test func namesTheProcessAndTheCgroupsAndEndsSoAReaderKnowsItIsWhole() {
        #expect(record().lifecyclePlan == "pid=42 7\ncgroup=/sys/fs/cgroup/pids/isorun/c\ncgroup=/sys/fs/cgroup/cpu/isorun/c\nend\n")
        #expect(record(mode: "bare").lifecyclePlan != nil)
        // Hooks that run at create are done by then.
        #expect(record(hooks: Hooks(createRuntime: [Hook(path: "/bin/true")])).lifecyclePlan != nil)
    }

    @Test func isAbsentWhenStartOrDeleteMustDoMore() {
        #expect(record(mode: "vm").lifecyclePlan == nil)
        #expect(record(hooks: Hooks(poststart: [Hook(path: "/bin/true")])).lifecyclePlan == nil)
        #expect(record(hooks: Hooks(poststop: [Hook(path: "/bin/true")])).lifecyclePlan == nil)
        var mounted = record()
        mounted.hostMountRoot = "/run/isorun/c/mounts"
        #expect(mounted.lifecyclePlan == nil)
        var odd = record()
        odd.cgroupDirectories.append("relative/path")
        #expect(odd.lifecyclePlan == nil)
    }
}
