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
                + #""created":"2026-12-02T00:00:00Z","id":"web 1","ociVersion":"1.2.0","pid":42,"status":"running"}"#)
        let stopped = ContainerState(id: "c", status: "stopped", pid: nil, bundle: "/b", annotations: nil, created: nil)
        #expect(stopped.json() == "{\n  \"bundle\": \"/b\",\n  \"id\": \"c\",\n  \"ociVersion\": \"1.2.0\",\n  \"status\": \"stopped\"\n}")
        #expect(ContainerState.json([stopped, stopped]) == "[" + stopped.json(pretty: false) + "," + stopped.json(pretty: false) + "]")
    }
}
