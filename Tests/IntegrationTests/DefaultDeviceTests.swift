import Foundation
import Testing

/// The spec's default devices (config-linux.md, "Default Devices"): made with mknod
/// outside a user namespace, as runc makes them, and bound from the host inside one,
/// where mknod is not allowed. Either way the workload finds working character devices.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct DefaultDeviceTests {
    static let devices = ["null", "zero", "full", "random", "urandom", "tty"]
    /// Type, major:minor (hex, as stat prints them), mode and owner of each device, whether
    /// it is a mount point, and whether /dev/null and /dev/zero work.
    static let script = """
        for d in \(devices.joined(separator: " ")); do
          m=node; grep -q " /dev/$d " /proc/self/mountinfo && m=mount
          echo "$d $(stat -c '%F %t:%T %a %u:%g' /dev/$d) $m"
        done
        echo data > /dev/null && head -c 2 /dev/zero | od -An -tx1
        """
    static let expected = [("null", "1:3"), ("zero", "1:5"), ("full", "1:7"), ("random", "1:8"), ("urandom", "1:9"), ("tty", "5:0")]

    @Test func outsideAUserNamespaceTheyAreMadeWithMknod() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["sh", "-c", Self.script])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map(String.init)
        for (index, (name, number)) in Self.expected.enumerated() {
            #expect(lines.count > index && lines[index] == "\(name) character special file \(number) 666 0:0 node", "\(result.out)")
        }
        #expect(lines.last?.split(separator: " ") == ["00", "00"])
    }

    @Test func insideAUserNamespaceTheyAreTheHostsNodesBound() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", Self.script]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { linux in
                var namespaces = linux["namespaces"] as? [[String: Any]] ?? []
                namespaces.append(["type": "user"])
                linux["namespaces"] = namespaces
                linux["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                linux["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
            }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--id", IsorunRunner.uniqueID("userns-dev"), bundle])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map(String.init)
        for (index, (name, number)) in Self.expected.enumerated() {
            // The host's nodes, owned by the host's root: nobody inside the namespace.
            #expect(lines.count > index && lines[index] == "\(name) character special file \(number) 666 65534:65534 mount", "\(result.out)")
        }
        #expect(lines.last?.split(separator: " ") == ["00", "00"])
    }
}
