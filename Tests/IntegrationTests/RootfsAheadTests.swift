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

    /// The order /proc and /tmp were mounted in: the helper mounts /tmp, the container's
    /// process /proc, later, though config.json lists /proc first.
    static let mountOrder = #"echo "order:$(awk '$5 == "/proc" || $5 == "/tmp" { printf " %s", $5 }' /proc/self/mountinfo)""#

    static let madeAhead = "the rootfs is made ahead"

    @Test func theRootfsMadeAheadIsTheOneTheContainerWouldMake() throws {
        let script = Self.mountOrder + "; " + Self.mountTable
        let ahead = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script])
        defer { try? FileManager.default.removeItem(atPath: ahead) }
        // A createRuntime hook runs between the mounts and pivot_root: such a rootfs is
        // made by the container's process.
        let itself = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
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
        #expect(madeAhead.out.contains(" /sys/fs/cgroup/memory "), "the cgroup view: \(madeAhead.out)")
        let (aheadOrder, aheadTable) = Self.split(madeAhead.out)
        let (itselfOrder, itselfTable) = Self.split(madeByItself.out)
        #expect(aheadOrder == "order: /tmp /proc", "the container's process joined the helper's namespace")
        #expect(itselfOrder == "order: /proc /tmp")
        #expect(aheadTable == itselfTable)
    }

    /// The order line and the table after it.
    static func split(_ output: String) -> (order: String, table: String) {
        let lines = output.split(separator: "\n", maxSplits: 1)
        return (lines.first.map(String.init) ?? "", lines.count > 1 ? String(lines[1]) : "")
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
