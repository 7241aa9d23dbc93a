import Foundation
import Testing

/// Pure cgroup v2, which most users run and this v1/hybrid host cannot show: the static
/// release isorun runs inside a VM whose kernel (Debian's stock one, which has namespaces
/// and every controller) has only the unified hierarchy, and starts sandboxes there.
/// Real limits, a real OOM kill, the v2 freezer and `update`, and nothing left behind.
extension VMModeTests {
    /// What the guest runs: one "name: value" line per observation.
    static let pureV2Script = #"""
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || { echo "mount: failed"; exit 90; }
        echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
        /isorun --mode sandbox /inner -- sh -c '
            echo "inner cgroup: $(cat /proc/self/cgroup)"
            for file in memory.max memory.swap.max pids.max cpu.weight cpu.max cpu.max.burst; do echo "$file: $(cat /sys/fs/cgroup/$file)"; done'
        echo "limits status: $?"
        /isorun --mode sandbox /inner -- sh -c 'x=a; while :; do x=$x$x; done'
        echo "hog status: $?"
        # The shell and 31 sleeps fill pids.max; the next fork fails, which ends the shell (2).
        /isorun --mode sandbox /inner -- sh -c '
            i=0; while [ $i -lt 31 ]; do sleep 30 & i=$((i+1)); done
            read current </sys/fs/cgroup/pids.current; echo "pids.current: $current"
            sleep 30 &
            echo "fork beyond the limit: allowed"' 2>/tmp/fork.err
        echo "fork status: $?"
        echo "fork refused: $(grep -c "can.t fork" /tmp/fork.err)"
        /isorun create --bundle /inner-sleep v2c </dev/null >/dev/null 2>&1
        echo "create status: $?"
        /isorun start v2c
        echo "start status: $?"
        /isorun pause v2c
        echo "paused: $(/isorun state v2c | grep -o '"paused"') $(grep frozen /sys/fs/cgroup/isorun/v2c/cgroup.events)"
        /isorun resume v2c
        echo "resumed: $(/isorun state v2c | grep -o '"running"') $(grep frozen /sys/fs/cgroup/isorun/v2c/cgroup.events)"
        echo '{"memory":{"limit":67108864}}' >/tmp/resources.json
        /isorun update --resources /tmp/resources.json v2c
        echo "updated memory.max: $(cat /sys/fs/cgroup/isorun/v2c/memory.max)"
        echo '{"memory":{"limit":4096,"checkBeforeUpdate":true}}' >/tmp/too-small.json
        /isorun update --resources /tmp/too-small.json v2c 2>/tmp/check.err
        echo "checked update: $? $(grep -c 'below the' /tmp/check.err) $(cat /sys/fs/cgroup/isorun/v2c/memory.max)"
        echo "stats: $(/isorun events --stats v2c | grep -o '"limit":[0-9]*' | tr '\n' ' ')"
        # A nested cgroupsPath (tenant/a/nested): the parents isorun makes go with it.
        /isorun --mode sandbox /inner-nested -- sleep 2 &
        i=0; while [ ! -d /sys/fs/cgroup/isorun/tenant/a/nested ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
        echo "nested cgroup: $(ls -d /sys/fs/cgroup/isorun/tenant/a/nested 2>/dev/null)"
        wait $!
        echo "nested status: $?"
        echo "nested parents left: $(ls /sys/fs/cgroup/isorun | grep -c tenant)"
        /isorun delete --force v2c
        echo "delete status: $?"
        echo "cgroups left: $(find /sys/fs/cgroup/isorun -mindepth 1 -type d | wc -l)"
        echo "state left: $(ls /run/isorun | wc -l)"
        """#

    /// Rootless on pure v2, as most users run it: root delegates a cgroup to uid 1000 the way
    /// systemd delegates a user's (its files chowned; the user's shell in a leaf below it;
    /// `cpu memory pids` offered, no `cpuset`), and isorun, run by that user, makes the
    /// container's cgroup in it, enables what it is offered and applies the limits.
    static let pureV2RootlessScript = #"""
        mount -t cgroup2 cgroup2 /sys/fs/cgroup || { echo "mount: failed"; exit 90; }
        cd /sys/fs/cgroup
        echo "+cpu +memory +pids" >cgroup.subtree_control
        mkdir -p user-1000/session
        echo $$ >user-1000/session/cgroup.procs
        chown 1000:1000 user-1000 user-1000/cgroup.procs user-1000/cgroup.subtree_control user-1000/cgroup.threads
        chown -R 1000:1000 user-1000/session
        cd /
        mkdir /tmp/u && chown 1000:1000 /tmp/u
        cat >/tmp/as-user.sh <<'USER'
        echo "uid: $(id -u)"
        /isorun --root /tmp/u --mode sandbox /inner-rootless -- sh -c '
            echo "uid in the container: $(id -u)"
            echo "cgroup: $(cat /proc/self/cgroup)"
            for file in memory.max memory.swap.max pids.max cpu.max; do echo "$file: $(cat /sys/fs/cgroup/user-1000/c1/$file)"; done'
        echo "limits status: $?"
        /isorun --root /tmp/u --mode sandbox /inner-rootless -- sh -c 'x=a; while :; do x=$x$x; done'
        echo "hog status: $?"
        USER
        su -s /bin/sh user -c 'sh /tmp/as-user.sh'
        echo "cgroups left: $(cd /sys/fs/cgroup/user-1000 && ls -d */ | tr '\n' ' ')"
        echo "state left: $(ls /tmp/u | wc -l)"
        """#

    @Test func rootlessOnPureV2UsesTheCgroupDelegatedToTheUser() throws {
        guard let (seen, report) = try Self.runInPureV2Guest(Self.pureV2RootlessScript, test: "rootless on pure cgroup v2 test") else { return }
        #expect(seen["uid"] == "1000" && seen["uid in the container"] == "0", "\(report)")
        #expect(seen["cgroup"] == "0::/user-1000/c1", "\(report)")
        #expect(seen["memory.max"] == "33554432" && seen["memory.swap.max"] == "0" && seen["pids.max"] == "32", "\(report)")
        #expect(seen["cpu.max"] == "50000 100000", "\(report)")
        #expect(seen["limits status"] == "0", "\(report)")
        #expect(seen["hog status"] == "137", "OOM-killed at the delegated limit: \(report)")
        #expect(seen["cgroups left"] == "session/", "\(report)")
        #expect(seen["state left"] == "0", "\(report)")
    }

    /// Runs `script` in a pure-v2 guest (see guestSandboxBundle) and returns its "name:
    /// value" lines and a report for failures; nil (the skip printed) without the static
    /// release or the stock kernel.
    static func runInPureV2Guest(_ script: String, test: String) throws -> (seen: [String: String], report: String)? {
        guard let release = IsorunRunner.staticRelease(for: test),
              let environment = try VMSupport.stockKernelEnvironment(for: test) else { return nil }
        let bundle = try Self.guestSandboxBundle(isorun: release, script: script)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = IsorunRunner.finish(try IsorunRunner.start(["run", "--mode", "vm", bundle], environment: environment))
        #expect(result.status == 0, "\(result.err)")
        return (observations(result.out), "guest printed:\n\(result.out)\(result.err)")
    }

    /// The guest's "name: value" lines.
    static func observations(_ output: String) -> [String: String] {
        var seen: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            seen[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return seen
    }

    @Test func aPureCgroupV2HostGetsTheSameLimitsAndLifecycle() throws {
        guard let (seen, report) = try Self.runInPureV2Guest(Self.pureV2Script, test: "pure cgroup v2 test") else { return }
        let controllers = Set((seen["controllers"] ?? "").split(separator: " ").map(String.init))
        #expect(controllers.isSuperset(of: ["cpu", "cpuset", "memory", "pids"]), "\(report)")
        #expect(seen["inner cgroup"] == "0::/", "the cgroup namespace: \(report)")
        #expect(seen["memory.max"] == "33554432", "\(report)")
        #expect(seen["memory.swap.max"] == "0", "limit + swap of 32 MiB leaves no swap: \(report)")
        #expect(seen["pids.max"] == "32", "\(report)")
        #expect(seen["cpu.weight"] == "20", "cpu.shares 512 as a weight: \(report)")
        #expect(seen["cpu.max"] == "50000 100000" && seen["cpu.max.burst"] == "20000", "\(report)")
        #expect(seen["limits status"] == "0", "\(report)")
        #expect(seen["hog status"] == "137", "OOM-killed at the memory limit: \(report)")
        #expect(seen["pids.current"] == "32", "\(report)")
        #expect(seen["fork beyond the limit"] == nil && seen["fork status"] == "2" && seen["fork refused"] == "1",
                "the fork past pids.max fails: \(report)")
        #expect(seen["create status"] == "0" && seen["start status"] == "0", "\(report)")
        #expect(seen["paused"] == "\"paused\" frozen 1", "\(report)")
        #expect(seen["resumed"] == "\"running\" frozen 0", "\(report)")
        #expect(seen["updated memory.max"] == "67108864", "\(report)")
        #expect(seen["checked update"] == "125 1 67108864", "checkBeforeUpdate refuses 4 KiB: \(report)")
        #expect(seen["stats"]?.contains("\"limit\":67108864") == true && seen["stats"]?.contains("\"limit\":32") == true, "\(report)")
        #expect(seen["nested cgroup"] == "/sys/fs/cgroup/isorun/tenant/a/nested" && seen["nested status"] == "0", "\(report)")
        #expect(seen["nested parents left"] == "0", "\(report)")
        #expect(seen["delete status"] == "0", "\(report)")
        #expect(seen["cgroups left"] == "0" && seen["state left"] == "0", "\(report)")
    }

    /// A VM bundle whose rootfs holds the static isorun, `script` (its process), and two
    /// sandbox bundles on hello's rootfs: one with limits, one that sleeps (for the lifecycle).
    static func guestSandboxBundle(isorun: String, script: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-v2-\(UUID().uuidString)").path
        let rootfs = directory + "/rootfs"
        let hello = IsorunRunner.bundle("hello")
        for (source, target) in [(hello + "/rootfs", rootfs), (hello + "/rootfs", rootfs + "/inner/rootfs")] {
            try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let copy = try IsorunRunner.runProgram("/bin/cp", ["-a", source, target])
            try #require(copy.status == 0, "cp -a \(source): \(copy.err)")
        }
        for path in ["/run", "/inner-sleep", "/inner-nested", "/inner-rootless", "/sys/fs"] {
            try FileManager.default.createDirectory(atPath: rootfs + path, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: isorun, toPath: rootfs + "/isorun")
        // A user for the rootless script to `su` to.
        for (file, line) in [("passwd", "user:x:1000:1000::/tmp/u:/bin/sh\n"), ("group", "user:x:1000:\n")] {
            let path = "\(rootfs)/etc/\(file)"
            try ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").appending(line).write(toFile: path, atomically: false, encoding: .utf8)
        }
        try script.write(toFile: rootfs + "/script.sh", atomically: true, encoding: .utf8)

        let base = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: hello + "/config.json"))) as? [String: Any])
        var limited = base
        var linux = base["linux"] as? [String: Any] ?? [:]
        linux["resources"] = ["memory": ["limit": 32 << 20, "swap": 32 << 20], "pids": ["limit": 32], "cpu": ["shares": 512, "quota": 50_000, "period": 100_000, "burst": 20_000]]
        limited["linux"] = linux
        try write(limited, to: rootfs + "/inner/config.json")
        var sleeping = limited
        sleeping["process"] = (limited["process"] as? [String: Any] ?? [:]).merging(["args": ["sleep", "30"]]) { $1 }
        sleeping["root"] = ["path": "/inner/rootfs", "readonly": true]
        try write(sleeping, to: rootfs + "/inner-sleep/config.json")
        var nested = sleeping
        nested["linux"] = linux.merging(["cgroupsPath": "tenant/a/nested"]) { $1 }
        try write(nested, to: rootfs + "/inner-nested/config.json")
        // For uid 1000, with the limits, in the cgroup delegated to it (see pureV2RootlessScript).
        var rootless = sleeping
        RootlessTests.makeRootless(&rootless, uid: 1000, gid: 1000)
        IsorunRunner.edit(&rootless, at: ["linux"]) { rootlessLinux in
            rootlessLinux["resources"] = linux["resources"]
            rootlessLinux["cgroupsPath"] = "/user-1000/c1"
        }
        try write(rootless, to: rootfs + "/inner-rootless/config.json")

        // The guest's own process: root with every capability (it makes namespaces and
        // mounts), tmpfs where isorun keeps state, and RAM for the binary and its children.
        var outer = base
        var process = base["process"] as? [String: Any] ?? [:]
        process["args"] = ["/bin/sh", "/script.sh"]
        process["env"] = (process["env"] as? [String] ?? []) + ["ISORUN_CACHE=/tmp/cache"]
        let everything = try allCapabilities()
        process["capabilities"] = ["bounding": everything, "effective": everything, "permitted": everything]
        outer["process"] = process
        var outerLinux = base["linux"] as? [String: Any] ?? [:]
        outerLinux["resources"] = ["memory": ["limit": 512 << 20]]
        outer["linux"] = outerLinux
        outer["mounts"] = ["/run", "/tmp"].map { ["destination": $0, "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]] }
        outer["annotations"] = ["io.isorun.mode": "vm"]
        try write(outer, to: directory + "/config.json")
        return directory
    }

    private static func write(_ config: [String: Any], to path: String) throws {
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: path))
    }

    /// Every capability, as `isorun features` names them.
    private static func allCapabilities() throws -> [String] {
        let features = try IsorunRunner.run(["features"])
        let document = try JSONSerialization.jsonObject(with: Data(features.out.utf8)) as? [String: Any]
        let names = (document?["linux"] as? [String: Any])?["capabilities"] as? [String]
        return try #require(names, "isorun features: \(features.out)")
    }
}
