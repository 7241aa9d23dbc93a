import Foundation
import Glibc
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

/// `linux.devices` entries at paths the rootfs already uses (config-linux.md: a file at
/// `path` that does not match the requested device MUST be an error). The rootfs's own
/// file is never removed: the bundle is the user's.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct ConfiguredDevicePathTests {
    /// A bundle, and the private copy of hello's rootfs it runs on, with a regular file at
    /// /opt/plain and /dev/null's node at /opt/null, and `device` as its only `linux.devices`
    /// entry. The caller removes both.
    static func bundle(device: [String: Any], script: String) throws -> (bundle: String, rootfs: String) {
        let rootfs = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-rootfs-\(UUID().uuidString)").path
        let copied = try IsorunRunner.runProgram("/bin/cp", ["-a", IsorunRunner.bundle("hello") + "/rootfs", rootfs])
        try #require(copied.status == 0, "\(copied.err)")
        try FileManager.default.createDirectory(atPath: rootfs + "/opt", withIntermediateDirectories: true)
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: rootfs + "/opt/plain"))
        // dev_t 1:3 as glibc packs small numbers ((major << 8) | minor); makedev is a C macro.
        try #require(mknod(rootfs + "/opt/null", S_IFCHR | 0o666, 0x103) == 0)
        try #require(chmod(rootfs + "/opt/null", 0o666) == 0)
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { $0["devices"] = [device] }
            config["root"] = ["path": rootfs, "readonly": true]
        }
        return (bundle, rootfs)
    }

    @Test func aDifferentFileAtTheDevicesPathIsAnErrorAndStays() throws {
        let (bundle, rootfs) = try Self.bundle(device: ["path": "/opt/plain", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666],
                                               script: "echo started")
        defer { try? FileManager.default.removeItem(atPath: bundle); try? FileManager.default.removeItem(atPath: rootfs) }
        let result = try IsorunRunner.run(["run", "--id", IsorunRunner.uniqueID("devpath"), bundle])
        #expect(result.status == 125)
        #expect(result.out.isEmpty)
        #expect(result.err.hasSuffix("\n") && result.err.dropLast().split(separator: "\n").count == 1, "\(result.err)")
        #expect(result.err.contains("/opt/plain"), "\(result.err)")
        #expect(try String(contentsOfFile: rootfs + "/opt/plain", encoding: .utf8) == "keep me\n")
    }

    @Test func theRequestedDeviceAlreadyThereIsKept() throws {
        let (bundle, rootfs) = try Self.bundle(device: ["path": "/opt/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
                                                        "uid": 0, "gid": 0],
                                               script: "echo data > /opt/null && stat -c '%F %t:%T' /opt/null")
        defer { try? FileManager.default.removeItem(atPath: bundle); try? FileManager.default.removeItem(atPath: rootfs) }
        let result = try IsorunRunner.run(["run", "--id", IsorunRunner.uniqueID("devkept"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "character special file 1:3\n")
    }
}
