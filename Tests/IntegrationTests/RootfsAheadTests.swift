import Foundation
import Testing

/// The rootfs the network namespace's helper makes ahead (rootfs_ahead.c in the shim) is
/// the one the container's process makes when it cannot be made ahead, and a step the
/// helper fails at fails the run as before.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct RootfsAheadTests {
    /// The container's mounts, one line each: root, mount point, options, then after the
    /// separator the type, source and the file system's options; sorted. (Device numbers
    /// and mount IDs differ from run to run.)
    static let mountTable = #"awk '{ line = $4 " " $5 " " $6; after = 0; for (i = 7; i <= NF; i++) { if ($i == "-") after = 1; if (after) line = line " " $i } print line }' /proc/self/mountinfo | sort"#

    static let madeAhead = "the rootfs was made ahead"

    @Test func theRootfsMadeAheadIsTheOneTheContainerWouldMake() throws {
        let ahead = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", Self.mountTable])
        defer { try? FileManager.default.removeItem(atPath: ahead) }
        // A createRuntime hook runs between the mounts and pivot_root: such a rootfs is
        // made by the container's process.
        let itself = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", Self.mountTable]) { config in
            config["hooks"] = ["createRuntime": [["path": "/bin/true"]]]
        }
        defer { try? FileManager.default.removeItem(atPath: itself) }

        let madeAhead = try IsorunRunner.run(["--debug", "run", "--id", IsorunRunner.uniqueID("ahead"), ahead])
        let madeByItself = try IsorunRunner.run(["--debug", "run", "--id", IsorunRunner.uniqueID("itself"), itself])
        #expect(madeAhead.status == 0, "\(madeAhead.err)")
        #expect(madeByItself.status == 0, "\(madeByItself.err)")
        #expect(madeAhead.err.contains(Self.madeAhead), "\(madeAhead.err)")
        #expect(!madeByItself.err.contains(Self.madeAhead), "\(madeByItself.err)")
        #expect(madeAhead.out.contains(" /proc/keys "), "a masked path in /proc: \(madeAhead.out)")
        #expect(madeAhead.out.contains(" /sys/firmware "), "a masked path outside it: \(madeAhead.out)")
        #expect(madeAhead.out == madeByItself.out)
    }

    @Test func aMountTheHelperFailsAtFailsTheRunAsTheContainerWould() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "echo must not run"]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            mounts.append(["destination": "/mnt", "type": "nosuchfs", "source": "none"])
            config["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("aheadfail")
        let result = try IsorunRunner.run(["run", "--id", id, bundle])
        #expect(result.status == 125)
        #expect(result.err == "isorun: workload setup failed: nosuchfs /mnt: No such device (ENODEV)\n")
        #expect(result.out.isEmpty)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }
}
