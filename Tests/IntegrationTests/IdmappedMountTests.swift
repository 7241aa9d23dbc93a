import Foundation
import Testing

/// Idmapped bind mounts: the owners of a host directory's files shown through the mount's
/// own mappings, or through the container's user namespace mappings with `idmap` alone
/// (Kubernetes' user-namespaced pods mount their volumes so).
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct IdmappedMountTests {
    /// A host directory with a file of root's and one of uid/gid 5.
    static func sourceDirectory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-idmap-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "root's\n".write(toFile: directory + "/ownedroot", atomically: false, encoding: .utf8)
        try "five's\n".write(toFile: directory + "/owned5", atomically: false, encoding: .utf8)
        #expect(chown(directory + "/owned5", 5, 5) == 0)
        return directory
    }

    static func mappings(_ container: Int, _ host: Int, _ size: Int) -> [[String: Int]] {
        [["containerID": container, "hostID": host, "size": size]]
    }

    @Test func anIdmappedBindShowsTheOwnersThroughItsMappings() throws {
        let source = try Self.sourceDirectory()
        defer { try? FileManager.default.removeItem(atPath: source) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["stat", "-c", "%n %u:%g", "/root/ownedroot", "/root/owned5",
                                                                   "/run/ownedroot", "/run/owned5"]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                // Onto directories hello's rootfs has: a missing one would be made in the
                // rootfs every test shares.
                ["destination": "/root", "type": "bind", "source": source, "options": ["bind", "ro"],
                 "uidMappings": Self.mappings(0, 1000, 10), "gidMappings": Self.mappings(0, 2000, 10)],
                ["destination": "/run", "type": "bind", "source": source, "options": ["bind", "ro"]],
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "/root/ownedroot 1000:2000\n/root/owned5 1005:2005\n/run/ownedroot 0:0\n/run/owned5 5:5\n")
    }

    /// `idmap` alone takes the container's mappings: in a user namespace whose root is host
    /// uid 100000, the volume's files keep their owners and root's writes land as root's.
    @Test func idmapAloneTakesTheContainersUserNamespaceMappings() throws {
        let source = try Self.sourceDirectory()
        defer { try? FileManager.default.removeItem(atPath: source) }
        let script = "stat -c '%n %u:%g' /tmp/ownedroot /tmp/owned5 /bin/sh; echo new >/tmp/made"
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["namespaces"] = (linux["namespaces"] as? [[String: Any]] ?? []) + [["type": "user"]]
            linux["uidMappings"] = Self.mappings(0, 100_000, 65536)
            linux["gidMappings"] = Self.mappings(0, 100_000, 65536)
            config["linux"] = linux
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                ["destination": "/tmp", "type": "bind", "source": source, "options": ["bind", "idmap"]],
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", bundle])
        #expect(result.status == 0, "\(result.err)")
        // /bin/sh is not idmapped: host root's file is nobody's in the user namespace.
        #expect(result.out == "/tmp/ownedroot 0:0\n/tmp/owned5 5:5\n/bin/sh 65534:65534\n")
        let made = try FileManager.default.attributesOfItem(atPath: source + "/made")
        #expect((made[.ownerAccountID] as? Int) == 0 && (made[.groupOwnerAccountID] as? Int) == 0,
                "written by the container's root, owned by the host's: \(made)")
    }

    @Test func idmappingAMountThatIsNotABindOrWithoutMappingsIsA125() throws {
        let tmpfs = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                ["destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                 "uidMappings": Self.mappings(0, 1000, 1), "gidMappings": Self.mappings(0, 1000, 1)],
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: tmpfs) }
        let notBind = try IsorunRunner.run(["run", tmpfs])
        #expect(notBind.status == 125)
        #expect(notBind.err.contains("mounts[") && notBind.err.contains("idmapped mounts are bind mounts here"), "\(notBind.err)")

        let unmapped = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                ["destination": "/volume", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]],
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: unmapped) }
        let noMappings = try IsorunRunner.run(["run", unmapped])
        #expect(noMappings.status == 125)
        #expect(noMappings.err.contains("idmap without mappings of its own"), "\(noMappings.err)")
    }
}
