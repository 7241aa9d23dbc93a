import Foundation
import Glibc
import Testing

/// isorun started by an unprivileged user (nobody, through setpriv): the container gets a
/// user namespace mapping that user to root, no cgroup (none is delegated to nobody here),
/// and the runtime root in the user's runtime directory.
@Suite(.serialized) struct RootlessTests {
    static let user: uid_t = 65534
    static let group: gid_t = 65534

    static let available: Bool = {
        guard IsorunRunner.canRun else { return false }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            print("SKIP RootlessTests: no /usr/bin/setpriv (util-linux)")
            return false
        }
        let probe = try? IsorunRunner.runProgram("/usr/bin/setpriv", Self.asUser + ["/usr/bin/unshare", "-Ur", "true"])
        guard probe?.status == 0 else {
            print("SKIP RootlessTests: this kernel lets no unprivileged user make a user namespace (\(probe?.err ?? "?"))")
            return false
        }
        return true
    }()

    static let asUser = ["--reuid=\(user)", "--regid=\(group)", "--clear-groups"]

    /// A runtime directory of the user's own (what `XDG_RUNTIME_DIR` names), removed after `body`.
    struct Scene {
        let runtimeDirectory: String
        var root: String { runtimeDirectory + "/isorun" }

        /// isorun as the user, with `XDG_RUNTIME_DIR` set and no `--root`: the default must do.
        /// `env` is more for env(1), `-u NAME` (to unset one) first, then `NAME=VALUE`.
        func isorun(_ arguments: [String], env: [String] = []) throws -> IsorunRunner.Result {
            try IsorunRunner.runProgram("/usr/bin/setpriv", RootlessTests.asUser + ["/usr/bin/env"] + env + [
                "XDG_RUNTIME_DIR=\(runtimeDirectory)", IsorunRunner.binary,
            ] + arguments)
        }

        /// `kill --all ID KILL`, then `state` until it says stopped (up to 2 s), then `delete`.
        func killAllAndDelete(_ id: String) throws {
            #expect(try isorun(["kill", "--all", id, "KILL"]).status == 0)
            var status = ""
            for _ in 0..<100 where !status.contains("stopped") {
                usleep(20_000)
                status = try isorun(["state", id]).out
            }
            #expect(status.contains("\"status\": \"stopped\""), "\(status)")
            #expect(try isorun(["delete", id]).status == 0)
        }

        /// `create` with stdio on /dev/null, as containerd calls it: the container's process
        /// must not hold the test's pipes open.
        func create(_ id: String, bundle: String) throws -> Int32 {
            try IsorunRunner.runProgram("/usr/bin/setpriv", RootlessTests.asUser + [
                "/bin/sh", "-c", "XDG_RUNTIME_DIR=\"$0\" exec \"$1\" create --bundle \"$2\" \"$3\" </dev/null >/dev/null 2>&1",
                runtimeDirectory, IsorunRunner.binary, bundle, id,
            ]).status
        }
    }

    static func withScene(_ body: (Scene) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-xdg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        chown(directory, user, group)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try body(Scene(runtimeDirectory: directory))
        let left = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/isorun")) ?? []
        #expect(left.isEmpty, "left in the runtime root: \(left)")
    }

    /// hello.bundle made rootless the way `runc spec --rootless` makes a config: a user
    /// namespace mapping the user to root, no network or cgroup namespace, /sys bound from
    /// the host (sysfs needs a network namespace of the user's), no cgroup mount, no limits.
    static func bundle(args: [String], configure: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: args) { config in
            makeRootless(&config, uid: Int(user), gid: Int(group))
            configure(&config)
        }
    }

    /// What `bundle` does to hello's config, for the user `uid`/`gid`; limits are dropped.
    static func makeRootless(_ config: inout [String: Any], uid: Int, gid: Int) {
        IsorunRunner.edit(&config, at: ["linux"]) { linux in
            linux["namespaces"] = ["pid", "ipc", "uts", "mount", "user"].map { ["type": $0] }
            linux["uidMappings"] = [["containerID": 0, "hostID": uid, "size": 1]]
            linux["gidMappings"] = [["containerID": 0, "hostID": gid, "size": 1]]
            linux["resources"] = nil
        }
        var mounts = (config["mounts"] as? [[String: Any]] ?? []).filter {
            !["/sys", "/sys/fs/cgroup"].contains($0["destination"] as? String)
        }.map { mount -> [String: Any] in
            var mount = mount
            if mount["type"] as? String == "devpts" {
                mount["options"] = (mount["options"] as? [String] ?? []).filter { !$0.hasPrefix("gid=") }
            }
            return mount
        }
        mounts.append(["destination": "/sys", "type": "none", "source": "/sys", "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]])
        config["mounts"] = mounts
        IsorunRunner.edit(&config, at: ["process"]) { $0["oomScoreAdj"] = nil }
    }

    @Test func theUserIsRootInItsOwnUserNamespaceAndTheStatusPassesThrough() throws {
        guard Self.available else { return }
        let script = "id -u; cat /proc/self/uid_map; echo pid $$; hostname; test -c /dev/null && echo null-ok; exit 7"
        let bundle = try Self.bundle(args: ["sh", "-c", script])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let id = IsorunRunner.uniqueID("rootless")
            let result = try scene.isorun(["run", "--mode", "sandbox", "--id", id, bundle])
            #expect(result.status == 7, "\(result.err)")
            let lines = result.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines == ["0", "0 \(Self.user) 1", "pid 1", "hello", "null-ok"], "\(result.out)")
            #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty, "a rootless run made a cgroup")
        }
    }

    @Test func limitsAndOtherUsersIdsAreOneLineErrors() throws {
        guard Self.available else { return }
        let limited = try Self.bundle(args: ["true"]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { $0["resources"] = ["memory": ["limit": 64 << 20]] }
        }
        let mapped = try Self.bundle(args: ["true"]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { $0["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]] }
        }
        defer { [limited, mapped].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        try Self.withScene { scene in
            let memory = try scene.isorun(["run", "--mode", "sandbox", limited])
            #expect(memory.status == 125)
            #expect(memory.err.hasPrefix("isorun: \(limited)/config.json: linux.resources.memory: isorun runs rootless (uid \(Self.user))"), "\(memory.err)")
            #expect(memory.err.split(separator: "\n").count == 1)
            // Not the user's: newuidmap refuses it, or is not there to ask.
            let ids = try scene.isorun(["run", "--mode", "sandbox", mapped])
            #expect(ids.status == 125)
            #expect(ids.err.hasPrefix("isorun: \(mapped)/config.json: linux.uidMappings: "), "\(ids.err)")
            #expect(ids.err.contains("newuidmap"), "\(ids.err)")
        }
    }

    /// The lifecycle without a cgroup: `ps` and `kill --all` find the container's processes
    /// by its PID namespace, and `exec` enters its user namespace before its PID namespace.
    @Test func createExecKillAllAndDeleteWorkWithoutACgroup() throws {
        guard Self.available else { return }
        let bundle = try Self.bundle(args: ["sh", "-c", "sleep 300 & sleep 300"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let id = IsorunRunner.uniqueID("rootless-lc")
            try #require(try scene.create(id, bundle: bundle) == 0)
            defer { _ = try? scene.isorun(["delete", "--force", id]) }
            #expect(try scene.isorun(["start", id]).status == 0)
            var pids: [Substring] = []
            for _ in 0..<100 where pids.count < 2 {
                usleep(20_000)
                pids = try scene.isorun(["ps", "--format", "json", id]).out.dropFirst().dropLast(2).split(separator: ",")
            }
            #expect(pids.count == 2, "ps: \(pids)")
            let exec = try scene.isorun(["exec", id, "sh", "-c", "id -u; ls -d /proc/[0-9]* | wc -l"])
            #expect(exec.status == 0, "\(exec.err)")
            #expect(exec.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) } == ["0", "5"],
                    "root in the container, beside its two sleeps, sh, ls and wc: \(exec.out)")
            try scene.killAllAndDelete(id)
            for pid in pids {
                // Gone, or a zombie its adopter has yet to reap.
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                let state = stat.split(separator: ")").last?.split(separator: " ").first
                #expect(stat.isEmpty || state == "Z", "process \(pid) outlived kill --all: \(stat)")
            }
        }
    }

    /// A bare container has neither a cgroup nor a PID namespace here: `ps` and `kill --all`
    /// still reach its process.
    @Test func aBareContainerWithoutACgroupIsStillListedAndKilled() throws {
        guard Self.available else { return }
        let bundle = try Self.bundle(args: ["sleep", "300"]) { config in
            config["annotations"] = ["io.isorun.mode": "bare"]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let id = IsorunRunner.uniqueID("rootless-bare")
            try #require(try scene.create(id, bundle: bundle) == 0)
            defer { _ = try? scene.isorun(["delete", "--force", id]) }
            #expect(try scene.isorun(["start", id]).status == 0)
            let state = try JSONSerialization.jsonObject(with: try scene.isorun(["state", id]).stdout) as? [String: Any]
            let pid = try #require(state?["pid"] as? Int)
            #expect(try scene.isorun(["ps", "--format", "json", id]).out == "[\(pid)]\n")
            try scene.killAllAndDelete(id)
        }
    }

    @Test func aKilledRootlessIsorunLeavesNothingTheNextRunDoesNotSweep() throws {
        guard Self.available else { return }
        let bundle = try Self.bundle(args: ["sleep", "300"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let id = IsorunRunner.uniqueID("rootless-k")
            let started = try IsorunRunner.start(Self.asUser + ["/usr/bin/env", "XDG_RUNTIME_DIR=\(scene.runtimeDirectory)",
                                                               IsorunRunner.binary, "run", "--mode", "sandbox", "--id", id, bundle],
                                                 program: "/usr/bin/setpriv")
            // The container's process: isorun's child once it has exec'd sleep.
            var workload: pid_t?
            for _ in 0..<200 where workload == nil {
                usleep(10_000)
                let children = (try? String(contentsOfFile: "/proc/\(started.0.processIdentifier)/task/\(started.0.processIdentifier)/children",
                                            encoding: .utf8)) ?? ""
                workload = children.split(separator: " ").compactMap { pid_t($0) }.first {
                    (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8))?.hasPrefix("sleep\0") == true
                }
            }
            try #require(workload != nil, "the container never started")
            kill(started.0.processIdentifier, SIGKILL)
            _ = IsorunRunner.finish(started)
            var gone = false
            for _ in 0..<200 where !gone {
                usleep(10_000)
                gone = kill(workload!, 0) != 0
            }
            #expect(gone, "the container outlived its isorun")
            #expect(FileManager.default.fileExists(atPath: "\(scene.root)/\(id)"),
                    "the killed run's record: \((try? FileManager.default.contentsOfDirectory(atPath: scene.root)) ?? [])")
            #expect(try scene.isorun(["run", "--mode", "sandbox", bundle, "--", "true"]).status == 0)
        }
    }

    /// Where root has delegated a cgroup to the user (on v1: chowned directories, in which the
    /// child moves itself), `linux.cgroupsPath` into it carries the config's limits.
    @Test func aCgroupDelegatedToTheUserCarriesTheLimits() throws {
        guard Self.available else { return }
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/tasks") else {
            print("SKIP aCgroupDelegatedToTheUserCarriesTheLimits: cgroup v2 delegates through the caller's own cgroup (a systemd user session), which this test cannot make")
            return
        }
        let delegated = "isorun-delegated-\(getpid())"
        let directories = ["pids", "memory"].map { "/sys/fs/cgroup/\($0)/\(delegated)" }
        for directory in directories {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            for entry in [""] + (try FileManager.default.contentsOfDirectory(atPath: directory)).map({ "/" + $0 }) {
                chown(directory + entry, Self.user, Self.group)
            }
        }
        defer { directories.forEach { rmdir($0) } }
        let script = "cat /sys/fs/cgroup/pids/\(delegated)/c/pids.max; grep -c ':/\(delegated)/c$' /proc/self/cgroup"
        let bundle = try Self.bundle(args: ["sh", "-c", script]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { linux in
                linux["cgroupsPath"] = "/\(delegated)/c"
                linux["resources"] = ["pids": ["limit": 20], "memory": ["limit": 64 << 20]]
            }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let result = try scene.isorun(["run", "--mode", "sandbox", bundle])
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out == "20\n2\n", "the limit, and the process in both delegated hierarchies: \(result.out)")
            for directory in directories {
                #expect(!FileManager.default.fileExists(atPath: directory + "/c"), "\(directory)/c left behind")
            }
        }
    }

    /// Root of a user namespace that maps only the user (what `unshare --map-root-user`
    /// makes, and what podman's rootless mode runs its runtime in) is rootless too: no
    /// cgroup, and the groups left alone, which that namespace may not set.
    @Test func rootOfAUserNamespaceIsRootlessToo() throws {
        guard Self.available else { return }
        let bundle = try Self.bundle(args: ["sh", "-c", "id -u; cat /proc/self/uid_map; echo pid $$"]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { linux in
                linux["namespaces"] = ["pid", "ipc", "uts", "mount"].map { ["type": $0] }
                linux["uidMappings"] = nil
                linux["gidMappings"] = nil
            }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let id = IsorunRunner.uniqueID("rootless-ns")
            let result = try IsorunRunner.runProgram("/usr/bin/setpriv", Self.asUser + [
                "/usr/bin/unshare", "--map-root-user", "/usr/bin/env", "XDG_RUNTIME_DIR=\(scene.runtimeDirectory)",
                IsorunRunner.binary, "run", "--mode", "sandbox", "--id", id, bundle,
            ])
            #expect(result.status == 0, "\(result.err)")
            let lines = result.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines == ["0", "0 \(Self.user) 1", "pid 1"], "\(result.out)")
            #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
        }
    }

    /// `isorun spec --rootless`, written by the user, runs as written.
    @Test func theRootlessSpecRuns() throws {
        guard Self.available else { return }
        try Self.withScene { scene in
            let bundle = scene.runtimeDirectory + "/bundle"
            try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: false)
            chown(bundle, Self.user, Self.group)
            try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs", withDestinationPath: IsorunRunner.bundle("hello") + "/rootfs")
            let spec = try scene.isorun(["spec", "--rootless", "--bundle", bundle])
            #expect(spec.status == 0, "\(spec.err)")
            let result = try scene.isorun(["run", "--mode", "sandbox", bundle, "--", "sh", "-c", "id -u; hostname"])
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out == "0\nisorun\n")
            try FileManager.default.removeItem(atPath: bundle)
        }
    }

    /// A map wider than the user's own ids goes through newuidmap and newgidmap, within the
    /// ranges /etc/subuid and /etc/subgid give the user (added for the test, then restored);
    /// with setgroups allowed there, `additionalGids` hold.
    @Test func aWiderMapGoesThroughNewuidmapWithinTheUsersRanges() throws {
        guard Self.available else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/newuidmap"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/newgidmap") else {
            print("SKIP aWiderMapGoesThroughNewuidmapWithinTheUsersRanges: no newuidmap/newgidmap (apt install uidmap; make deps does)")
            return
        }
        let first = 300000 + Int(getpid() % 1000) * 65536
        var saved: [String: Data] = [:]
        for file in ["/etc/subuid", "/etc/subgid"] {
            let old = (try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data()
            saved[file] = old
            var text = String(decoding: old, as: UTF8.self)
            if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
            try (text + "nobody:\(first):65536\n").write(toFile: file, atomically: true, encoding: .utf8)
        }
        defer { for (file, data) in saved { try? data.write(to: URL(fileURLWithPath: file)) } }
        func bundle(uidRangeStart: Int) throws -> String {
            try Self.bundle(args: ["sh", "-c", "id; cat /proc/self/uid_map"]) { config in
                IsorunRunner.edit(&config, at: ["linux"]) { linux in
                    linux["uidMappings"] = [["containerID": 0, "hostID": Int(Self.user), "size": 1],
                                            ["containerID": 1, "hostID": uidRangeStart, "size": 65536]]
                    linux["gidMappings"] = [["containerID": 0, "hostID": Int(Self.group), "size": 1],
                                            ["containerID": 1, "hostID": first, "size": 65536]]
                }
                IsorunRunner.edit(&config, at: ["process"]) { $0["user"] = ["uid": 1000, "gid": 1000, "additionalGids": [1001]] }
            }
        }
        let inside = try bundle(uidRangeStart: first)
        let outside = try bundle(uidRangeStart: first + 65536)
        defer { [inside, outside].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        try Self.withScene { scene in
            let result = try scene.isorun(["run", "--mode", "sandbox", inside])
            #expect(result.status == 0, "\(result.err)")
            let lines = result.out.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines == ["uid=1000 gid=1000 groups=1001", "0 \(Self.user) 1", "1 \(first) 65536"], "\(result.out)")
            let refused = try scene.isorun(["run", "--mode", "sandbox", outside])
            #expect(refused.status == 125)
            #expect(refused.err.hasPrefix("isorun: \(outside)/config.json: linux.uidMappings: newuidmap refused the map (status 1): newuidmap:"),
                    "\(refused.err)")
        }
    }

    /// VM mode as a user: the images go to the user's own cache (`$XDG_CACHE_HOME/isorun`),
    /// the kernel and QEMU come from root's, so one `make kernel qemu` serves every user; a
    /// cache the user cannot make is a 125 that names it.
    @Test func vmModeBuildsInTheUsersCacheAndBootsRootsKernel() throws {
        guard Self.available else { return }
        if let reason = VMSupport.unavailableReason {
            print("SKIP vmModeBuildsInTheUsersCacheAndBootsRootsKernel: \(reason)")
            return
        }
        let bundle = try Self.bundle(args: ["uname", "-r"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let cacheHome = scene.runtimeDirectory + "/cache"
            let result = try scene.isorun(["run", "--mode", "vm", bundle], env: ["-u", "ISORUN_CACHE", "XDG_CACHE_HOME=\(cacheHome)"])
            #expect(result.status == 0, "\(result.err)")
            var host = utsname()
            uname(&host)
            let hostRelease = withUnsafeBytes(of: host.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            #expect(!result.out.isEmpty && result.out != hostRelease + "\n", "the guest's kernel, not the host's: \(result.out)")
            let built = (try? FileManager.default.contentsOfDirectory(atPath: cacheHome + "/isorun/initramfs")) ?? []
            #expect(built.contains { $0.hasSuffix(".cpio") }, "the initramfs is built in the user's cache: \(built)")

            let refused = try scene.isorun(["run", "--mode", "vm", bundle],
                                           env: ["-u", "ISORUN_CACHE", "-u", "XDG_CACHE_HOME", "HOME=/nonexistent"])
            #expect(refused.status == 125)
            #expect(refused.err.hasPrefix("isorun: vm: the image cache /nonexistent/.cache/isorun is not this user's (uid \(Self.user))"),
                    "\(refused.err)")
        }
    }

    @Test func bareModeRunsAsTheUser() throws {
        guard Self.available else { return }
        let bundle = try Self.bundle(args: ["id", "-u"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try Self.withScene { scene in
            let result = try scene.isorun(["run", "--mode", "bare", bundle])
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out == "\(Self.user)\n")
        }
    }
}
