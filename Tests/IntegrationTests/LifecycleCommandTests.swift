import Foundation
import Testing

/// `create`/`start`/`state`/`kill`/`delete` as containerd and runc's users call them,
/// with real containers under a private runtime root.
@Suite(.serialized)
struct LifecycleCommandTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-lifecycle-\(UUID().uuidString)").path

    /// `isorun --root R ARGS…` (runc's spelling: global flags first).
    func isorun(_ arguments: [String]) throws -> IsorunRunner.Result {
        try IsorunRunner.run(["--root", root] + arguments)
    }

    /// `create`, whose stdout and stderr the container inherits: they go to files, not
    /// to pipes this test would wait on until the container ends. The result's stderr is
    /// create's (the file's contents).
    func create(_ id: String, bundle: String = IsorunRunner.bundle("hello"), output: String) throws -> IsorunRunner.Result {
        let result = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" --root \"$1\" create --bundle \"$2\" --pid-file \"$3.pid\" \"$4\" >\"$3\" 2>\"$3.err\"",
            IsorunRunner.binary, root, bundle, output, id])
        let err = (try? Data(contentsOf: URL(fileURLWithPath: output + ".err"))) ?? Data()
        try? FileManager.default.removeItem(atPath: output + ".err")
        return IsorunRunner.Result(status: result.status, stdout: result.stdout, stderr: err)
    }

    func state(_ id: String) throws -> [String: Any] {
        let result = try isorun(["state", id])
        try #require(result.status == 0, "\(result.err)")
        return try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
    }

    func waitForStatus(_ id: String, _ status: String) throws -> Bool {
        for _ in 0..<250 {
            if try state(id)["status"] as? String == status { return true }
            usleep(20_000)
        }
        return false
    }

    @Test func createWaitsStartRunsDeleteRemovesEverything() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let output = root + "-out"
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".pid") }
        let id = IsorunRunner.uniqueID("lc")
        let created = try create(id, output: output)
        #expect(created.status == 0, "\(created.err)")
        let before = try state(id)
        #expect(before["status"] as? String == "created")
        #expect(before["ociVersion"] as? String == "1.3.0")
        #expect(before["bundle"] as? String == IsorunRunner.bundle("hello"))
        // runc's extras: the rootfs, and an owner `state` leaves empty.
        #expect(before["rootfs"] as? String == IsorunRunner.bundle("hello") + "/rootfs")
        #expect(before["owner"] as? String == "")
        let pid = try #require(before["pid"] as? Int)
        #expect(try String(contentsOfFile: output + ".pid", encoding: .utf8) == "\(pid)")
        // Created means set up but not yet running the user's program.
        #expect(try String(contentsOfFile: output, encoding: .utf8).isEmpty)
        #expect(!IsorunRunner.cgroupDirectories(for: id).isEmpty)
        // A later run's sweep must not take a created container for a killed run's leftovers.
        #expect(try IsorunRunner.run(["run", "--root", root, IsorunRunner.bundle("hello"), "--", "true"]).status == 0)
        #expect(try state(id)["status"] as? String == "created")

        let started = try isorun(["start", id])
        #expect(started.status == 0, "\(started.err)")
        #expect(try waitForStatus(id, "stopped"))
        #expect(try String(contentsOfFile: output, encoding: .utf8).contains("hostname:   hello"))
        #expect(try isorun(["start", id]).status != 0)
        // containerd's shim takes exactly this message for "already gone", and runs
        // `kill --all` after the process has exited, which must succeed.
        let late = try isorun(["kill", id, "KILL"])
        #expect(late.status != 0)
        #expect(late.err == "isorun: container not running\n")
        #expect(try isorun(["kill", "--all", id, "9"]).status == 0)

        let deleted = try isorun(["delete", id])
        #expect(deleted.status == 0, "\(deleted.err)")
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0 == id || $0.hasPrefix(id + "+") }
        #expect(left.isEmpty, "the run's record and the container's files beside it: \(left)")
        let gone = try isorun(["state", id])
        #expect(gone.status != 0)
        #expect(gone.err.contains("does not exist"), "\(gone.err)")
    }

    @Test func setupHooksRunAtCreatePoststartAtStartPoststopAtDelete() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = root + "-hooks"
        let output = root + "-hooked"
        defer { [log, output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["hooks"] = Dictionary(uniqueKeysWithValues: ["createRuntime", "poststart", "poststop"].map {
                ($0, [HookTests.logging($0, to: log)])
            })
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("lchook")
        let hooksRun = { (try? HookTests.entries(log).map(\.name)) ?? [] }
        #expect(try create(id, bundle: bundle, output: output).status == 0)
        #expect(hooksRun() == ["createRuntime"])
        #expect(try isorun(["start", id]).status == 0)
        #expect(hooksRun() == ["createRuntime", "poststart"])
        #expect(try waitForStatus(id, "stopped"))
        #expect(try isorun(["delete", id]).status == 0)
        #expect(hooksRun() == ["createRuntime", "poststart", "poststop"])
        #expect(try HookTests.entries(log).last?.state["status"] as? String == "stopped")
    }

    /// runtime-spec 1.3: `start` fails when a poststart hook does, with the container
    /// stopped; `delete` then destroys it and runs the poststop hooks.
    @Test func aFailingPoststartHookFailsStartAndStopsTheContainer() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = root + "-hooks"
        let output = root + "-hooked"
        defer { [log, output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "60"]) { config in
            config["hooks"] = ["poststart": [["path": "/bin/sh", "args": ["sh", "-c", "exit 3"]]],
                               "poststop": [HookTests.logging("poststop", to: log)]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("lcpostf")
        try #require(try create(id, bundle: bundle, output: output).status == 0)
        let started = try isorun(["start", id])
        #expect(started.status == 125)
        #expect(started.err == "isorun: poststart hook /bin/sh: exited with status 3; container '\(id)' was stopped\n")
        let state = try isorun(["state", id])
        #expect(state.out.contains("\"status\": \"stopped\""), "\(state.out)")
        #expect(try isorun(["delete", id]).status == 0)
        #expect(try HookTests.entries(log).map(\.name) == ["poststop"])
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    /// startContainer hooks run in the container between `start` and the exec: as runc's,
    /// `start` waits for them and fails with a failing one's name and status.
    @Test func aFailingStartContainerHookFailsStart() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let output = root + "-sc"
        defer { [output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["true"]) { config in
            config["hooks"] = ["startContainer": [["path": "/bin/sh", "args": ["sh", "-c", "exit 4"]]]]
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("lcsc")
        try #require(try create(id, bundle: bundle, output: output).status == 0)
        let started = try isorun(["start", id])
        #expect(started.status == 125)
        #expect(started.err == "isorun: start \(id): startContainer hook /bin/sh: exited with status 4\n", "\(started.err)")
        #expect(try waitForStatus(id, "stopped"))
        #expect(try isorun(["delete", id]).status == 0)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    /// containerd's `ctr run -t`: the terminal's master arrives over --console-socket and
    /// the process sees a real terminal of the configured size as its stdio and /dev/console.
    @Test func terminalMasterGoesToTheConsoleSocket() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "tty; stty size; test -t 0 && test -t 2 && echo stdio-is-tty"]) { config in
            var process = config["process"] as? [String: Any] ?? [:]
            process["terminal"] = true
            process["consoleSize"] = ["height": 33, "width": 101]
            config["process"] = process
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("tty")
        let helper = "\(IsorunRunner.repository)/Tests/Helpers/console-socket.py"
        let result = try IsorunRunner.runProgram("/usr/bin/python3", [helper, IsorunRunner.binary, root, bundle, id])
        #expect(result.status == 0, "\(result.err)")
        let lines = result.out.split(whereSeparator: \.isNewline).map(String.init)
        #expect(lines.first?.hasPrefix("name: /dev/pts/") == true, "\(lines)")
        #expect(Array(lines.dropFirst()) == ["/dev/console", "33 101", "stdio-is-tty"])
        #expect(try isorun(["delete", id]).status == 0)

        let refused = try isorun(["create", "--bundle", bundle, id])
        #expect(refused.status == 125)
        #expect(refused.err.contains("process.terminal: a terminal needs --console-socket"), "\(refused.err)")
    }

    @Test func execRunsInTheContainersNamespacesAndCgroup() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let output = root + "-exec"
        defer { [output, output + ".pid", output + ".exec", output + ".json"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let id = IsorunRunner.uniqueID("exec")
        #expect(try create(id, bundle: bundle, output: output).status == 0)
        #expect(try isorun(["start", id]).status == 0)
        defer { _ = try? isorun(["delete", "--force", id]) }

        // Foreground: the container's PID namespace (its init is PID 1), hostname,
        // capabilities and OOM score (hello's 100, as runc gives it); the status passes through.
        let shown = try isorun(["exec", id, "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; cat /proc/self/oom_score_adj; grep CapBnd /proc/self/status; exit 7"])
        #expect(shown.status == 7, "\(shown.err)")
        let lines = shown.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 5, "\(lines)")
        #expect(lines.dropFirst(3).first == "100", "the container's oomScoreAdj: \(lines)")
        #expect(lines.first != "1")
        #expect(lines.dropFirst().first == "sleep 300 ")
        #expect(lines.dropFirst(2).first == "hello")
        #expect(lines.last == "CapBnd:\t0000000020000420", "the bundle's capabilities")

        // Detached, as containerd calls it: a process document, a pid file, and the
        // process is in the container's cgroup.
        try #"{"args":["sleep","200"],"cwd":"/","user":{"uid":1000,"gid":1000}}"#.write(toFile: output + ".json", atomically: true, encoding: .utf8)
        // Its stdio is isorun's, as with runc: a pipe here would stay open while it runs.
        let detached = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" --root \"$1\" exec --process \"$2.json\" --detach --pid-file \"$2.exec\" \"$3\" >/dev/null 2>&1",
            IsorunRunner.binary, root, output, id])
        #expect(detached.status == 0, "\(detached.err)")
        let execPid = try #require(Int32(try String(contentsOfFile: output + ".exec", encoding: .utf8)))
        let ps = try isorun(["ps", "--format", "json", id])
        let pids = try #require(try JSONSerialization.jsonObject(with: ps.stdout) as? [Int])
        #expect(pids.contains(Int(execPid)), "\(pids)")
        let status = try String(contentsOfFile: "/proc/\(execPid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t1000\t1000\t1000\t1000"))

        #expect(try isorun(["delete", "--force", id]).status == 0)
        // Killed; it may still be a zombie until whoever adopted it reaps it.
        let state = (try? String(contentsOfFile: "/proc/\(execPid)/stat", encoding: .utf8))?.split(separator: ")").last?.dropFirst().first
        #expect(state == nil || state == "Z", "delete --force kills exec'd processes too")
        let missing = try isorun(["exec", id, "true"])
        #expect(missing.status == 125)
    }

    /// runc's `exec --cap`, `--additional-gids` (`-g`) and `--no-new-privs`, on a container
    /// whose own process has neither CAP_NET_ADMIN (bit 12) nor no_new_privs.
    @Test func execTakesRuncsCapabilityGroupAndNoNewPrivsFlags() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"]) { config in
            var process = config["process"] as? [String: Any] ?? [:]
            process["noNewPrivileges"] = false
            config["process"] = process
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let output = root + "-execflags"
        defer { [output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let id = IsorunRunner.uniqueID("xflags")
        #expect(try create(id, bundle: bundle, output: output).status == 0)
        #expect(try isorun(["start", id]).status == 0)
        defer { _ = try? isorun(["delete", "--force", id]) }

        func status(_ flags: [String]) throws -> [String: String] {
            let result = try isorun(["exec"] + flags + [id, "cat", "/proc/self/status"])
            try #require(result.status == 0, "\(result.err)")
            var fields: [String: String] = [:]
            for line in result.out.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
            }
            return fields
        }
        let plain = try status([])
        #expect(plain["CapEff"] == "0000000020000420" && plain["NoNewPrivs"] == "0" && plain["Groups"] == "", "\(plain)")
        let flagged = try status(["--cap", "CAP_NET_ADMIN", "-g", "5", "--additional-gids", "6", "--no-new-privs"])
        #expect(flagged["CapBnd"] == "0000000020001420" && flagged["CapEff"] == "0000000020001420", "\(flagged)")
        #expect(flagged["NoNewPrivs"] == "1" && flagged["Groups"] == "5 6", "\(flagged)")
        // Not root: the capability must also be ambient to survive execve.
        let user = try status(["--user", "1000:1000", "--cap", "CAP_NET_ADMIN"])
        #expect(user["CapEff"] == "0000000000001000" && user["CapAmb"] == "0000000000001000", "\(user)")

        let unknown = try isorun(["exec", "--cap", "CAP_NOT_A_THING", id, "true"])
        #expect(unknown.status == 125 && unknown.err.contains("CAP_NOT_A_THING"), "\(unknown.err)")
    }

    /// runc's `list -q`, and `delete` of several ids: each goes, one that cannot is reported.
    @Test func listQuietlyAndDeleteSeveralAtOnce() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let output = root + "-several"
        defer { [output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let ids = [IsorunRunner.uniqueID("one"), IsorunRunner.uniqueID("two")]
        for id in ids { #expect(try create(id, output: output).status == 0) }
        defer { for id in ids { _ = try? isorun(["delete", "--force", id]) } }
        let listed = try isorun(["list", "-q"])
        #expect(Set(listed.out.split(separator: "\n").map(String.init)) == Set(ids), "\(listed.out)")

        let deleted = try isorun(["delete", ids[0], "no-such-container", ids[1]])
        #expect(deleted.status == 125)
        #expect(deleted.err == "isorun: container 'no-such-container' does not exist under \(root)\n", "\(deleted.err)")
        #expect(try isorun(["list", "-q"]).out == "", "both created containers went, around the missing one")
        #expect(try isorun(["delete", "--force", "no-such-container", "nor-this-one"]).status == 0)
    }

    @Test func updateChangesLimitsThatEventsThenReport() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let output = root + "-update"
        defer { [output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let id = IsorunRunner.uniqueID("upd")
        #expect(try create(id, bundle: bundle, output: output).status == 0)
        #expect(try isorun(["start", id]).status == 0)
        defer { _ = try? isorun(["delete", "--force", id]) }

        func usage() throws -> [String: Any] {
            let events = try isorun(["events", "--stats", id])
            try #require(events.status == 0, "\(events.err)")
            let event = try #require(try JSONSerialization.jsonObject(with: events.stdout) as? [String: Any])
            #expect(event["type"] as? String == "stats")
            return try #require(event["data"] as? [String: Any])
        }
        let updated = try isorun(["update", "--memory", "48m", "--pids-limit", "17", "--cpu-quota", "20000", "--cpu-period", "100000", id])
        #expect(updated.status == 0, "\(updated.err)")
        let data = try usage()
        #expect((data["memory"] as? [String: Any])?["limit"] as? Int == 48 << 20)
        #expect((data["pids"] as? [String: Any])?["limit"] as? Int == 17)
        #expect((data["pids"] as? [String: Any])?["current"] as? Int == 1)
        // The cpu controller was not needed at creation; update adds it and delete removes it.
        let cgroups = IsorunRunner.cgroupDirectories(for: id)
        let cpu = try #require(cgroups.first { $0.contains("/cpu/") || $0.hasPrefix("/sys/fs/cgroup/isorun") })
        let quota = try String(contentsOfFile: cpu + (cpu.contains("/cpu/") ? "/cpu.cfs_quota_us" : "/cpu.max"), encoding: .utf8)
        #expect(quota.hasPrefix("20000"), "\(quota)")
        // runc's other cpu flags: burst and idle (and, on v1, a real-time budget).
        let more = try isorun(["update", "--cpu-burst", "5000", "--cpu-idle", "1"]
                              + (cpu.contains("/cpu/") ? ["--cpu-rt-period", "500000", "--cpu-rt-runtime", "5000"] : []) + [id])
        #expect(more.status == 0, "\(more.err)")
        let files = cpu.contains("/cpu/") ? ["cpu.cfs_burst_us", "cpu.idle", "cpu.rt_runtime_us"] : ["cpu.max.burst", "cpu.idle"]
        let values = try files.map { try String(contentsOfFile: cpu + "/" + $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(values == Array(["5000", "1", "5000"].prefix(files.count)), "\(files): \(values)")

        let bad = try IsorunRunner.runProgram("/bin/sh", ["-c", "echo '{\"pids\":{\"limit\":\"many\"}}' | \"$0\" --root \"$1\" update -r - \"$2\"", IsorunRunner.binary, root, id])
        #expect(bad.status == 125)
        #expect(bad.err == "isorun: stdin: pids.limit: expected an integer but found the string 'many'\n", "\(bad.err)")
        #expect(try isorun(["delete", "--force", id]).status == 0)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    /// kubelet's systemd driver: `--systemd-cgroup` and a `slice:prefix:name` cgroupsPath.
    @Test func systemdCgroupPathsLandWhereSystemdPutsTheScope() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let slice = "isorunt\(Int.random(in: 1000...9999))"
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "30"]) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["cgroupsPath"] = "\(slice)-pod1.slice:cri-test:c1"
            config["linux"] = linux
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let output = root + "-systemd"
        defer { [output, output + ".pid"].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let hierarchy = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids") ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup"
        let scope = "\(hierarchy)/\(slice).slice/\(slice)-pod1.slice/cri-test-c1.scope"
        defer {
            // Only if the test failed: delete removes the slices isorun made (kubelet's own
            // would have no mark and would stay).
            for directory in ["\(slice).slice/\(slice)-pod1.slice", "\(slice).slice"] {
                // Every hierarchy the container may have used (v1 controllers, or the v2 root).
                let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { $0 + "/" } + [""]
                for hierarchy in hierarchies { rmdir("/sys/fs/cgroup/\(hierarchy)\(directory)") }
            }
        }
        let id = IsorunRunner.uniqueID("sd")
        let created = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" --root \"$1\" --systemd-cgroup create --bundle \"$2\" \"$3\" >\"$4\" 2>&1",
            IsorunRunner.binary, root, bundle, id, output])
        #expect(created.status == 0, "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")
        let pid = try #require(try state(id)["pid"] as? Int)
        #expect(try String(contentsOfFile: scope + "/cgroup.procs", encoding: .utf8) == "\(pid)\n")
        #expect(try isorun(["delete", "--force", id]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: scope))
        // delete removed the scope from every hierarchy it used (cpu too: hello asks for cpu limits).
        let relative = "\(slice).slice/\(slice)-pod1.slice/cri-test-c1.scope"
        let hierarchies = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/\($0)" }
        #expect(hierarchies.filter { FileManager.default.fileExists(atPath: "\($0)/\(relative)") }.isEmpty)
        // isorun made the slices on the way, so they went with the scope.
        #expect(hierarchies.filter { FileManager.default.fileExists(atPath: "\($0)/\(slice).slice") }.isEmpty)
    }

    /// runc's `run [-b BUNDLE] [-d] ID` beside isorun's own `run BUNDLE`.
    @Test func runcsFormOfRunTakesAnIdAndABundle() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "echo foreground; exit 9"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let foreground = try isorun(["run", "-b", bundle, IsorunRunner.uniqueID("rf")])
        #expect(foreground.status == 9, "\(foreground.err)")
        #expect(foreground.out == "foreground\n")
        // The usual runc session: `cd bundle && runc run ID`, no flags at all. The bare id
        // must not be taken for a bundle path (the fast command-line scanner once did).
        let fromBundle = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "cd \"$1\" && exec \"$0\" run \"$2\"", IsorunRunner.binary, bundle, IsorunRunner.uniqueID("rc")])
        #expect(fromBundle.status == 9, "\(fromBundle.err)")
        #expect(fromBundle.out == "foreground\n")

        let sleeper = try IsorunRunner.bundleCopy("hello", args: ["sleep", "30"])
        defer { try? FileManager.default.removeItem(atPath: sleeper) }
        let id = IsorunRunner.uniqueID("rd")
        let pidFile = root + "-rd.pid"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let detached = try IsorunRunner.runProgram("/bin/sh", [
            "-c", "exec \"$0\" --root \"$1\" run --bundle \"$2\" --detach --pid-file \"$3\" \"$4\" >/dev/null 2>&1",
            IsorunRunner.binary, root, sleeper, pidFile, id])
        #expect(detached.status == 0)
        let running = try state(id)
        #expect(running["status"] as? String == "running")
        #expect(try String(contentsOfFile: pidFile, encoding: .utf8) == "\(running["pid"] as? Int ?? -1)")
        #expect(try isorun(["delete", "--force", id]).status == 0)
    }

    @Test func killStopsARunningContainerAndDeleteNeedsForceWhileItRuns() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sleep", "300"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let output = root + "-sleep"
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".pid") }
        let a = IsorunRunner.uniqueID("lc-a"), b = IsorunRunner.uniqueID("lc-b")
        for id in [a, b] {
            #expect(try create(id, bundle: bundle, output: output).status == 0)
            #expect(try isorun(["start", id]).status == 0)
            #expect(try waitForStatus(id, "running"))
        }
        // The sleeper is PID 1 of its namespace and ignores SIGTERM; SIGKILL (by name) ends it.
        // `list`'s table: one line per container, its creation time as the record has it,
        // and who owns it, as runc's OWNER column names them.
        let table = try isorun(["list"]).out.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        #expect(table.first == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"])
        #expect(Set(table.dropFirst().map { $0[0] }) == [a, b])
        #expect(table.dropFirst().allSatisfy { $0.count == 6 && $0[2] == "running" && $0[4].hasPrefix("20") && $0[4].hasSuffix("Z") && $0[5] == "root" },
                "\(table)")
        // `ps`'s table is ps(1)'s, as runc prints it: -ef unless options follow the id, and
        // only the container's lines.
        let pid = try #require(try state(a)["pid"] as? Int)
        let full = try isorun(["ps", a]).out.split(separator: "\n")
        #expect(full.first?.split(separator: " ").contains("PID") == true && full.count == 2, "\(full)")
        #expect(full.last?.split(separator: " ").dropFirst().first == Substring(String(pid)), "\(full)")
        #expect(full.last?.hasSuffix("sleep 300") == true, "\(full)")
        let chosen = try isorun(["ps", a, "-o", "pid,comm"]).out.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(chosen == [["PID", "COMMAND"], [String(pid), "sleep"]], "\(chosen)")
        let jsonWithOptions = try isorun(["ps", "--format", "json", a, "-ef"])
        #expect(jsonWithOptions.status == 125 && jsonWithOptions.err == "isorun: ps: --format json takes no ps options\n")
        #expect(try isorun(["kill", a, "KILL"]).status == 0)
        #expect(try waitForStatus(a, "stopped"))
        #expect(try isorun(["delete", a]).status == 0)

        let refused = try isorun(["delete", b])
        #expect(refused.status != 0)
        #expect(refused.err.contains("running"), "\(refused.err)")
        let forced = try isorun(["delete", "--force", b])
        #expect(forced.status == 0, "\(forced.err)")
        #expect(IsorunRunner.cgroupDirectories(for: b).isEmpty)
        #expect(try isorun(["list", "--format", "json"]).out.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
    }

    @Test func pauseFreezesResumeThawsPsListsTheProcesses() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A counter that appends a line every 10 ms: frozen, the file stops growing.
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "while :; do echo x >> /dev/shm/ticks; sleep 0.01; done"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let output = root + "-pause"
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".pid") }
        let id = IsorunRunner.uniqueID("lc-pause")
        #expect(try create(id, bundle: bundle, output: output).status == 0)
        defer { _ = try? isorun(["delete", "--force", id]) }
        #expect(try isorun(["start", id]).status == 0)
        #expect(try waitForStatus(id, "running"))
        let pid = try #require(try state(id)["pid"] as? Int)
        let ps = try isorun(["ps", "--format", "json", id])
        let pids = try #require(try JSONSerialization.jsonObject(with: ps.stdout) as? [Int])
        #expect(pids.contains(pid), "\(ps.out)")
        func ticks() -> Int {
            ((try? String(contentsOfFile: "/proc/\(pid)/root/dev/shm/ticks", encoding: .utf8)) ?? "").count
        }

        // On cgroup v1 the freezer hierarchy is joined only now (a start spared its mkdir);
        // every process moves in, the shell's fresh `sleep`s included.
        let v1Freezer = "/sys/fs/cgroup/freezer/isorun/\(id)"
        let freezerIsV1 = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/freezer/cgroup.procs")
        if freezerIsV1 { #expect(!FileManager.default.fileExists(atPath: v1Freezer)) }
        let paused = try isorun(["pause", id])
        #expect(paused.status == 0, "\(paused.err)")
        #expect(try state(id)["status"] as? String == "paused")
        if freezerIsV1 {
            let members = (try? String(contentsOfFile: v1Freezer + "/cgroup.procs", encoding: .utf8)) ?? ""
            #expect(members.split(separator: "\n").contains(Substring(String(pid))), "\(members)")
        }
        let frozenAt = ticks()
        usleep(200_000)
        #expect(ticks() == frozenAt)
        #expect(try isorun(["pause", id]).status == 125)

        #expect(try isorun(["resume", id]).status == 0)
        #expect(try state(id)["status"] as? String == "running")
        usleep(200_000)
        #expect(ticks() > frozenAt)
        #expect(try isorun(["delete", "--force", id]).status == 0)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
    }

    @Test func specWritesAConfigTheSandboxRuns() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-spec-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(try IsorunRunner.run(["spec", "--bundle", directory]).status == 0)
        #expect(try IsorunRunner.run(["spec", "--bundle", directory]).status == 125)
        try FileManager.default.createSymbolicLink(atPath: directory + "/rootfs", withDestinationPath: IsorunRunner.bundle("hello") + "/rootfs")
        let result = try IsorunRunner.run(["run", "--mode", "sandbox", directory, "--", "hostname"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out == "isorun\n")
    }

    @Test func badIdsDuplicatesAndUnknownSignalsAreErrors() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let output = root + "-dup"
        defer { try? FileManager.default.removeItem(atPath: output); try? FileManager.default.removeItem(atPath: output + ".pid") }
        let id = IsorunRunner.uniqueID("lc-dup")
        #expect(try create(id, output: output).status == 0)
        let duplicate = try create(id, output: output)
        #expect(duplicate.status == 125)
        #expect(duplicate.err.contains("already in use"), "\(duplicate.err)")
        let badSignal = try isorun(["kill", id, "NOPE"])
        #expect(badSignal.status == 125)
        #expect(badSignal.err.contains("unknown signal 'NOPE'"), "\(badSignal.err)")
        #expect(try isorun(["state", "../etc"]).status == 125)
        #expect(try isorun(["start", "no-such-container"]).status == 125)
        #expect(try isorun(["delete", id]).status == 0)   // created, never started: no --force needed
    }

    /// containerd and Kubernetes start many containers at once, and a retried request can
    /// race its first attempt. Eight `create`s of one ID at the same moment: exactly one
    /// wins, every other one fails with the spec's error, and the loser leaves nothing.
    @Test func racingCreatesOfOneIdLetExactlyOneWin() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let id = IsorunRunner.uniqueID("lc-race")
        let statuses = try concurrently(8, """
            "$ISORUN" --root "$ROOT" create --bundle "$BUNDLE" "$ID" >/dev/null 2>"$ROOT-copy.$1" || \
              { echo "$?: $(cat "$ROOT-copy.$1")"; exit 0; }
            echo 0
            """, id: id)
        #expect(statuses.filter { $0 == "0" }.count == 1, "\(statuses)")
        let losers = statuses.filter { $0 != "0" }
        #expect(losers.count == 7 && losers.allSatisfy { $0.hasPrefix("125: ") && $0.contains("already in use") }, "\(losers)")
        #expect(try state(id)["status"] as? String == "created")
        #expect(try isorun(["delete", "--force", id]).status == 0)
        #expect(IsorunRunner.cgroupDirectories(for: id).isEmpty)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        #expect(left.isEmpty, "\(left)")
    }

    /// Eight containers with IDs of their own taken through create, start, stopped and
    /// delete side by side: every command succeeds and nothing of any of them is left.
    @Test func sideBySideLifecyclesOnDifferentIdsAllSucceed() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let prefix = IsorunRunner.uniqueID("lc-many")
        let statuses = try concurrently(8, """
            id="$ID-$1"
            "$ISORUN" --root "$ROOT" create --bundle "$BUNDLE" "$id" >/dev/null 2>"$ROOT-copy.$1" || \
              { echo "create $?: $(cat "$ROOT-copy.$1")"; exit 0; }
            err=$("$ISORUN" --root "$ROOT" start "$id" 2>&1) || { echo "start $?: $err"; exit 0; }
            n=0
            until "$ISORUN" --root "$ROOT" state "$id" | grep -q '"status": "stopped"'; do
              n=$((n + 1)); [ $n -lt 250 ] || { echo "never stopped"; exit 0; }; sleep 0.02
            done
            err=$("$ISORUN" --root "$ROOT" delete "$id" 2>&1) || { echo "delete $?: $err"; exit 0; }
            echo 0
            """, id: prefix)
        #expect(statuses == Array(repeating: "0", count: 8), "\(statuses)")
        for i in 0..<8 { #expect(IsorunRunner.cgroupDirectories(for: "\(prefix)-\(i)").isEmpty) }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        #expect(left.isEmpty, "\(left)")
    }

    /// Runs `script` (sh, with $1 the copy's number, ISORUN, ROOT, BUNDLE and ID set) `count`
    /// times at once and returns each copy's last line, in copy order. The copies are
    /// started before any is waited for. A copy may keep what a command wrote to stderr in
    /// `$ROOT-copy.$1` (beside the root: a container holds it open); those files go at the end.
    func concurrently(_ count: Int, _ script: String, id: String) throws -> [String] {
        var environment = ProcessInfo.processInfo.environment
        environment["ISORUN"] = IsorunRunner.binary
        environment["ROOT"] = root
        environment["BUNDLE"] = IsorunRunner.bundle("hello")
        environment["ID"] = id
        defer { for number in 0..<count { try? FileManager.default.removeItem(atPath: "\(root)-copy.\(number)") } }
        let copies = try (0..<count).map {
            try IsorunRunner.start(["-c", script, "copy", String($0)], environment: environment, program: "/bin/sh")
        }
        return copies.map { copy in
            let result = IsorunRunner.finish(copy)
            return String(result.out.split(separator: "\n").last ?? "exit \(result.status): \(result.err)")
        }
    }

    @Test func failuresGoToTheJSONLogContainerdReads() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = root + ".log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let result = try IsorunRunner.run(["--root", root, "--log", log, "--log-format", "json", "start", "absent"])
        #expect(result.status == 125)
        let line = try #require(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").last)
        let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(entry["level"] as? String == "error")
        #expect((entry["msg"] as? String ?? "").contains("'absent' does not exist"))
    }

    @Test func featuresDescribeWhatIsImplemented() throws {
        let result = try IsorunRunner.run(["features"])
        #expect(result.status == 0)
        let features = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any])
        #expect(features["ociVersionMax"] as? String == "1.3.0")
        let linux = try #require(features["linux"] as? [String: Any])
        #expect((linux["namespaces"] as? [String]).map { Set(["user", "time"]).isSubset(of: $0) } == true)
        #expect((linux["capabilities"] as? [String])?.contains("CAP_SYS_ADMIN") == true)
        #expect((features["mountOptions"] as? [String]).map { Set(["rbind", "idmap", "ridmap"]).isSubset(of: $0) } == true)
        let idmap = (linux["mountExtensions"] as? [String: Any])?["idmap"] as? [String: Any]
        #expect(idmap?["enabled"] as? Bool == true)
        #expect((linux["intelRdt"] as? [String: Any])?["enabled"] as? Bool == false, "refused, so not offered")
        #expect((linux["netDevices"] as? [String: Any])?["enabled"] as? Bool == true)
        let memoryPolicy = linux["memoryPolicy"] as? [String: [String]]
        #expect(memoryPolicy.map { Set(["MPOL_BIND", "MPOL_WEIGHTED_INTERLEAVE"]).isSubset(of: $0["modes"] ?? []) } == true, "\(linux)")
        #expect(memoryPolicy?["flags"]?.contains("MPOL_F_STATIC_NODES") == true, "\(linux)")
    }
}
