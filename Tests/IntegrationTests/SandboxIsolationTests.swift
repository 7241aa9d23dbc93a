import Foundation
import Glibc
import Testing

/// The sandbox really isolates: checked from inside the workload, on the real kernel.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct SandboxIsolationTests {
    /// A tmpfs with `tmpcopyup` (podman's default for --tmpfs) starts with the tree it covers:
    /// files with their contents, owners and modes, links; writes stay in it. A tmpfs without
    /// a `mode=` takes its mount point's mode, as under runc, not tmpfs's world-writable 1777.
    @Test func aTmpfsCanStartWithWhatItCoversAndKeepsItsMountPointsMode() throws {
        let script = "cat /etc/group | head -1; stat -c '%a %U' /etc /etc/passwd /var/fresh; readlink /bin/sh; "
            + "echo new > /etc/new && cat /etc/new; ls /bin | grep -c ."
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []) + [
                ["destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "tmpcopyup", "size=1m"]],
                ["destination": "/bin", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]],
                ["destination": "/var/fresh", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]],
            ]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let rootfs = IsorunRunner.bundle("hello") + "/rootfs"
        let binaries = try FileManager.default.contentsOfDirectory(atPath: rootfs + "/bin").count
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", IsorunRunner.uniqueID("copyup"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "root:x:0:\n755 root\n644 root\n755 root\nbusybox\nnew\n\(binaries)\n", "\(result.out)")
        #expect(!FileManager.default.fileExists(atPath: rootfs + "/etc/new"), "the write stayed in the tmpfs")

        let misplaced = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["mounts"] = (config["mounts"] as? [[String: Any]] ?? [])
                + [["destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["rbind", "tmpcopyup"]]]
        }
        defer { try? FileManager.default.removeItem(atPath: misplaced) }
        let refused = try IsorunRunner.run(["run", "--mode", "sandbox", misplaced])
        #expect(refused.status == 125 && refused.err.contains("].options: tmpcopyup is for a tmpfs; type 'bind' is not one"), "\(refused.err)")
    }

    /// Mount points that do not exist are made, several levels deep, as directories or
    /// (for a file bound) as an empty file; on tmpfs, so the shared rootfs stays as it is.
    @Test func missingMountPointsAreMadeAtAnyDepth() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-bound-\(UUID().uuidString)").path
        try "bound\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "grep -c ' /tmp/a/b/c ' /proc/mounts; cat /tmp/x/y/file"]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            mounts.append(["destination": "/tmp/a/b/c", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]])
            mounts.append(["destination": "/tmp/x/y/file", "type": "bind", "source": file, "options": ["bind", "ro"]])
            config["mounts"] = mounts
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", IsorunRunner.uniqueID("mounts"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "1\nbound\n", "\(result.err)")
    }

    /// A mount whose target is a symlink in the rootfs lands where the link points,
    /// inside the root; mount points made after it are made in that new mount, not in the
    /// directory it covered (the shim keeps the last target's directory open and must
    /// not reuse it then).
    @Test func mountsAfterOneOnASymlinkedTargetGoInsideIt() throws {
        let rootfs = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-rootfs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        #expect(try IsorunRunner.runProgram("/bin/cp", ["-a", IsorunRunner.bundle("hello") + "/rootfs", rootfs]).status == 0)
        try FileManager.default.createDirectory(atPath: rootfs + "/srv", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: rootfs + "/link", withDestinationPath: "/srv")
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "cut -d' ' -f5 /proc/self/mountinfo | grep -E '^/(srv|link)'; ls /srv"]) { config in
            var mounts = config["mounts"] as? [[String: Any]] ?? []
            for destination in ["/srv/a", "/link", "/srv/b", "/srv/c"] {
                mounts.append(["destination": destination, "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]])
            }
            config["mounts"] = mounts
            config["root"] = ["path": rootfs, "readonly": false]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", IsorunRunner.uniqueID("symlinked"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "/srv/a\n/srv\n/srv/b\n/srv/c\nb\nc\n", "\(result.err)")
    }

    @Test func workloadIsPidOneAndSeesOnlyItsOwnProcesses() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["sh", "-c", "echo $$; set -- /proc/[0-9]*; echo $#"])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n")
        #expect(lines.first == "1")
        // sh itself and nothing of the host's hundred-odd processes.
        #expect(Int(lines.last ?? "") ?? 99 <= 2)
    }

    /// config.md: the runtime MUST mount the entries in the listed order, which is the order
    /// /proc/self/mountinfo lists them in (runtime-tools checks it). A 2026-12-05 attempt to
    /// make some of them ahead, in another process, broke it.
    @Test func mountsAppearInTheOrderConfigJSONListsThem() throws {
        let config = try #require(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: IsorunRunner.bundle("hello") + "/config.json"))) as? [String: Any])
        let listed = try #require(config["mounts"] as? [[String: Any]]).compactMap { $0["destination"] as? String }
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["cut", "-d", " ", "-f", "5", "/proc/self/mountinfo"])
        #expect(result.status == 0, "\(result.err)")
        let mounted = result.out.split(separator: "\n").map(String.init).filter(listed.contains)
        // The first mount at each listed destination; masked and read-only paths come later.
        var seen: [String] = []
        for point in mounted where !seen.contains(point) { seen.append(point) }
        #expect(seen == listed, "\(result.out)")
    }

    @Test func hostnameComesFromTheConfig() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["hostname"])
        #expect(result.out == "hello\n")
    }

    @Test func networkNamespaceIsNewWithOnlyLoopbackUp() throws {
        let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello",
                                          ["sh", "-c", "readlink /proc/self/ns/net; ls /sys/class/net; cat /sys/class/net/lo/flags"])
        let lines = result.out.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.err)")
        #expect(lines.count == 3 && lines[0].hasPrefix("net:[") && lines[0] != host, "\(result.out)")
        // Only lo, and it is up: IFF_UP (0x1) | IFF_LOOPBACK (0x8).
        #expect(Array(lines.dropFirst()) == ["lo", "0x9"], "\(result.out)")
    }

    @Test func rootIsReadOnlyAndMaskedPathsAreEmpty() throws {
        // /proc/timer_list has content on the host; masked, it reads as /dev/null.
        #expect((FileManager.default.contents(atPath: "/proc/timer_list")?.count ?? 0) > 0)
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello",
                                          ["sh", "-c", "touch /probe 2>/dev/null && echo writable || echo readonly; wc -c < /proc/timer_list"])
        #expect(result.out == "readonly\n0\n", "\(result.err)")
    }

    /// The bundle's `cgroup` mount is `ro`: on v1 that is a tmpfs with a mount per hierarchy,
    /// and the tmpfs must refuse writes too (it was left writable until 2026-12-04, a place
    /// the workload could fill), while the workload's own cgroup still reads.
    @Test func aReadOnlyCgroupMountIsReadOnlyThroughout() throws {
        let script = "touch /sys/fs/cgroup/probe 2>/dev/null && echo writable || echo readonly; "
            + "grep -E ' /sys/fs/cgroup ' /proc/self/mountinfo | grep -c ' ro,'; ls /sys/fs/cgroup | grep -c ."
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["sh", "-c", script])
        let lines = result.out.split(separator: "\n")
        #expect(result.status == 0, "\(result.err)")
        #expect(lines.first == "readonly", "\(result.out)")
        #expect(lines.dropFirst().first == "1", "\(result.out)")
        #expect(Int(lines.last ?? "") ?? 0 >= 1, "\(result.out)")
    }

    @Test func theHostFilesystemIsGone() throws {
        let marker = "/tmp/isorun-host-marker-\(getpid())"
        #expect(FileManager.default.createFile(atPath: marker, contents: Data("host".utf8)))
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["sh", "-c", "cat \(marker) 2>/dev/null || echo absent"])
        #expect(result.out == "absent\n")
    }

    /// On v1 the cgroup mount shows only the hierarchies the container has a cgroup of its
    /// own in: in the others its cgroup namespace would be rooted at the cgroup of whoever
    /// started isorun, and show every cgroup below it (here a probe made beside the test).
    @Test func theCgroupMountShowsNoCgroupButTheContainersOwn() throws {
        guard let hierarchy = ["blkio", "freezer", "cpuset"].first(where: { FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\($0)/tasks") }) else {
            print("SKIP theCgroupMountShowsNoCgroupButTheContainersOwn: no cgroup v1 hierarchy that hello leaves unused")
            return
        }
        let own = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8).split(separator: "\n")
            .first { $0.split(separator: ":")[1] == hierarchy }.map { String($0.split(separator: ":")[2]) } ?? "/"
        let probe = "/sys/fs/cgroup/\(hierarchy)\(own == "/" ? "" : own)/isorun-probe-\(getpid())"
        try FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: false)
        defer { rmdir(probe) }
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello",
                                          ["sh", "-c", "find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d | wc -l; ls /sys/fs/cgroup"])
        let lines = result.out.split(separator: "\n").map(String.init)
        #expect(result.status == 0, "\(result.err)")
        #expect(lines.first == "0", "cgroups not the container's: \(result.out)")
        #expect(lines.contains("pids") && lines.contains("memory") && !lines.contains(hierarchy), "\(result.out)")
    }

    /// A config without device rules still gets runc's device cgroup: a node the workload
    /// makes with CAP_MKNOD (here /dev/kmsg's, opened write-only, which writes nothing) does
    /// not open, the default devices do; the config's own rules (allow all) win over it.
    @Test(arguments: [false, true])
    func devicesOutsideTheDefaultsAreDeniedUnlessTheConfigAllowsThem(allowAll: Bool) throws {
        let script = "mknod /dev/probe c 1 11 || exit 9; (: >/dev/probe) 2>/dev/null && echo opened || echo denied; : >/dev/null && echo null"
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", script]) { config in
            let capabilities = ["CAP_MKNOD", "CAP_KILL"]
            IsorunRunner.edit(&config, at: ["process"]) {
                $0["capabilities"] = ["bounding": capabilities, "effective": capabilities, "permitted": capabilities]
            }
            if allowAll {
                IsorunRunner.edit(&config, at: ["linux", "resources"]) { $0["devices"] = [["allow": true, "access": "rwm"]] }
            }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", IsorunRunner.uniqueID("devices"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == (allowAll ? "opened\nnull\n" : "denied\nnull\n"), "\(result.out)\(result.err)")
    }

    @Test func onlyConfiguredCapabilitiesRemain() throws {
        // CAP_AUDIT_WRITE(29) + CAP_KILL(5) + CAP_NET_BIND_SERVICE(10) = 0x20000420
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello",
                                          ["sh", "-c", "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status; hostname other 2>&1; echo status=$?"])
        #expect(result.out.contains("CapEff:\t0000000020000420"), "\(result.out)")
        #expect(result.out.contains("CapBnd:\t0000000020000420"))
        #expect(result.out.contains("status=1"))
    }

    @Test func noNewPrivilegesAndSeccompAreOn() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["grep", "-E", "^(NoNewPrivs|Seccomp):", "/proc/self/status"])
        #expect(result.out == "NoNewPrivs:\t1\nSeccomp:\t2\n")
    }

    @Test func configuredSeccompFilterBlocksWithEPERM() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "seccomp")
        #expect(result.status == 1)
        #expect(result.err.contains("Operation not permitted"), "\(result.err)")
    }

    @Test func defaultSeccompFilterBlocksNamespaceCreation() throws {
        // Creating a user namespace needs no capability; only the default filter stops it.
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["unshare", "-U", "true"])
        #expect(result.status != 0)
        #expect(result.err.contains("Operation not permitted"), "\(result.err)")
    }

    @Test func bareModeHasNoneOfThis() throws {
        let result = try IsorunRunner.run(mode: "bare", bundle: "hello", ["sh", "-c", "unshare -U true && echo unshared; test $$ -ne 1 && echo not-pid-1"])
        #expect(result.out == "unshared\nnot-pid-1\n", "\(result.err)")
    }
}

/// A user namespace maps container root to an unprivileged host range.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct UserNamespaceTests {
    @Test func containerRootIsAnUnprivilegedHostUser() throws {
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-userns-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs", withDestinationPath: IsorunRunner.bundle("hello") + "/rootfs")
        let data = try Data(contentsOf: URL(fileURLWithPath: IsorunRunner.bundle("hello") + "/config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var linux = try #require(config["linux"] as? [String: Any])
        var namespaces = try #require(linux["namespaces"] as? [[String: Any]])
        namespaces.append(["type": "user"])
        linux["namespaces"] = namespaces
        linux["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
        linux["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
        config["linux"] = linux
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))

        let result = try IsorunRunner.run(["run", "--id", IsorunRunner.uniqueID("userns"), bundle, "--",
                                           "sh", "-c", "id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; stat -c %u:%g /dev/mqueue; ls /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true"])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        #expect(lines.first == "0")
        #expect(lines.dropFirst().first == "0 100000 65536")
        // Host root's files belong to nobody inside: the container's root is not the host's.
        #expect(lines.dropFirst(2).first == "65534")
        // The IPC namespace's queues are the container's root's, made by it (as under runc).
        #expect(lines.dropFirst(3).first == "0:0", "\(result.out)")
        #expect(lines.count == 5, "the workload should see its cgroup: \(result.out)")
    }
}

/// Process settings and joining existing namespaces, from inside the workload.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct ProcessSettingsTests {
    @Test(arguments: ["sandbox", "bare"])
    func rlimitsApply(mode: String) throws {
        let result = try IsorunRunner.run(mode: mode, bundle: "hello", ["sh", "-c", "ulimit -n"])
        #expect(result.out == "1024\n", "\(result.err)")
    }

    @Test func oomScoreAdjApplies() throws {
        let result = try IsorunRunner.run(mode: "sandbox", bundle: "hello", ["cat", "/proc/self/oom_score_adj"])
        #expect(result.out == "100\n", "\(result.err)")
    }

    /// Lowering the score needs CAP_SYS_RESOURCE: the child sets it before it drops any.
    @Test(.enabled(if: Self.hasCapability(24), "needs CAP_SYS_RESOURCE, which this host's bounding set lacks"))
    func aLoweredOomScoreAdjApplies() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["cat", "/proc/self/oom_score_adj"]) { config in
            var process = config["process"] as? [String: Any] ?? [:]
            process["oomScoreAdj"] = -500
            config["process"] = process
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", "--id", IsorunRunner.uniqueID("oom"), bundle])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "-500\n", "\(result.err)")
    }

    /// Whether this process has capability `number` in its effective set.
    static func hasCapability(_ number: Int) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let mask = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16) else { return false }
        return mask & (1 << UInt64(number)) != 0
    }

    @Test func joinsAnExistingNetworkNamespaceByPath() throws {
        // A host process in a network namespace of its own, to be joined by path.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--net", "sleep", "30"]
        try holder.run()
        defer { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() }
        var namespace = ""
        for _ in 0..<100 {
            // Wait until unshare has exec'd sleep inside the new namespace.
            if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(holder.processIdentifier)/ns/net"),
               link != (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) {
                namespace = link
                break
            }
            usleep(10_000)
        }
        #expect(!namespace.isEmpty)

        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-join-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        try FileManager.default.createSymbolicLink(atPath: bundle + "/rootfs", withDestinationPath: IsorunRunner.bundle("hello") + "/rootfs")
        let data = try Data(contentsOf: URL(fileURLWithPath: IsorunRunner.bundle("hello") + "/config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var linux = try #require(config["linux"] as? [String: Any])
        linux["namespaces"] = [["type": "pid"], ["type": "mount"], ["type": "uts"], ["type": "ipc"],
                               ["type": "network", "path": "/proc/\(holder.processIdentifier)/ns/net"]]
        config["linux"] = linux
        config["mounts"] = (config["mounts"] as? [[String: Any]])?.filter { $0["type"] as? String != "sysfs" && $0["type"] as? String != "cgroup" }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: bundle + "/config.json"))

        let result = try IsorunRunner.run(["run", "--id", IsorunRunner.uniqueID("join"), bundle, "--", "readlink", "/proc/self/ns/net"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == namespace + "\n")
    }
}

/// Configs that ask for less isolation than isorun's examples, as the OCI suite tries them.
@Suite(.enabled(if: IsorunRunner.canRun, "needs root, a built isorun and built bundles"))
struct PartialIsolationTests {
    /// Mount points under `path` in isorun's own (the host's) mount namespace.
    static func hostMounts(under path: String) throws -> [String] {
        try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n")
            .map { String($0.split(separator: " ")[4]) }.filter { $0 == path || $0.hasPrefix(path + "/") }
    }

    @Test func withoutAMountNamespaceTheMountsAreTheHostsAndGoAwayAfterwards() throws {
        // Its own copy of the rootfs: the mounts appear on the host, where parallel tests
        // sharing hello's rootfs would see them.
        let rootfs = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-rootfs-\(UUID().uuidString)").path
        #expect(try IsorunRunner.runProgram("/bin/cp", ["-a", IsorunRunner.bundle("hello") + "/rootfs", rootfs]).status == 0)
        defer { try? FileManager.default.removeItem(atPath: rootfs) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "readlink /proc/self/ns/mnt; test -r /proc/self/status && echo proc-mounted"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["namespaces"] = [["type": "pid"]]
            config["linux"] = linux
            config["root"] = ["path": rootfs, "readonly": true]
            config.removeValue(forKey: "hostname")
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", bundle])
        #expect(result.status == 0, "\(result.err)")
        let hostNamespace = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/mnt")
        #expect(result.out == "\(hostNamespace)\nproc-mounted\n")
        #expect(try Self.hostMounts(under: rootfs).isEmpty, "the container's mounts are removed from the host")
    }

    @Test func aSysctlNoNamespaceScopesIsRefused() throws {
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["sysctl"] = ["vm.swappiness": "10"]
            config["linux"] = linux
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let result = try IsorunRunner.run(["run", bundle])
        #expect(result.status == 125)
        #expect(result.err == "isorun: \(bundle)/config.json: linux.sysctl.vm.swappiness: not scoped by any namespace; setting it would change the host\n")
    }
}
