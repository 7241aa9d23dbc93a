import Foundation
import Glibc
import Testing

/// A veth pair on the host, one end (`lent`) with an IPv4 and an IPv6 address: the
/// device a config lends to a container. A veth dies with the namespace it is in, so a
/// runtime that let the container's namespace go before giving it back loses it.
struct HostVethPair {
    let lent: String
    let peer: String
    let address4 = "10.214.\(getpid() % 200).1/24"
    let address6 = "fd00:214:\(getpid() % 200)::1/64"

    init() throws {
        let tag = "\(getpid() % 10000)x\(UInt16.random(in: 0...UInt16.max) % 1000)"
        lent = "ird\(tag)"
        peer = "irp\(tag)"
        for command in [
            ["link", "add", lent, "type", "veth", "peer", "name", peer],
            ["addr", "add", address4, "dev", lent],
            ["addr", "add", address6, "dev", lent, "nodad"],
            ["link", "set", lent, "up"],
        ] {
            let result = try IsorunRunner.runProgram("/usr/sbin/ip", command)
            guard result.status == 0 else {
                remove()
                throw TestSetupError("ip \(command.joined(separator: " ")): \(result.err)")
            }
        }
    }

    /// `ip -o addr show dev NAME` and the link's flags on the host; nil when the host has no such device.
    func onHost(_ name: String? = nil) throws -> (addresses: String, up: Bool)? {
        let device = name ?? lent
        // Read before the addresses: a device leaving the host while this looks is gone.
        guard let flags = try? String(contentsOfFile: "/sys/class/net/\(device)/flags", encoding: .utf8) else { return nil }
        let addresses = try IsorunRunner.runProgram("/usr/sbin/ip", ["-o", "addr", "show", "dev", device]).out
        let up = (Int(flags.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2), radix: 16) ?? 0) & 1 == 1
        return (addresses, up)
    }

    func remove() {
        _ = try? IsorunRunner.runProgram("/usr/sbin/ip", ["link", "del", lent])
    }

    /// A copy of hello.bundle running `args`, with its own network namespace and `devices`
    /// as linux.netDevices; with `userNamespace`, in a user namespace too (root mapped to
    /// 100000), whose network namespace only `clone` can make.
    func bundle(args: [String], devices: [String: Any], userNamespace: Bool = false, capabilities: [String] = []) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: args) { config in
            IsorunRunner.edit(&config, at: ["process", "capabilities"]) { sets in
                for set in ["bounding", "effective", "permitted"] { sets[set] = (sets[set] as? [String] ?? []) + capabilities }
            }
            IsorunRunner.edit(&config, at: ["linux"]) { linux in
                var namespaces = (linux["namespaces"] as? [[String: Any]] ?? []).filter {
                    !["network", "user"].contains($0["type"] as? String)
                }
                namespaces.append(["type": "network"])
                if userNamespace {
                    namespaces.append(["type": "user"])
                    linux["uidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                    linux["gidMappings"] = [["containerID": 0, "hostID": 100000, "size": 65536]]
                }
                linux["namespaces"] = namespaces
                linux["netDevices"] = devices
            }
            if userNamespace {
                // cgroup v1 cannot be mounted in a user namespace; the test needs none.
                config["mounts"] = (config["mounts"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "cgroup" }
            }
        }
    }
}

/// linux.netDevices: the device is in the container under its new name, with its
/// addresses, up; afterwards it is on the host again under its own name, down, with its
/// addresses; on every way out (a failed launch, delete, a killed isorun).
@Suite(.serialized) struct NetworkDeviceTests {
    static let available: Bool = {
        guard IsorunRunner.canRun else { return false }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else {
            print("SKIP NetworkDeviceTests: no /usr/sbin/ip (iproute2) to make a veth pair")
            return false
        }
        return true
    }()

    /// Inside: the device's addresses and flags, as the container's own `ip` shows them.
    static let inside = "ip -o addr show dev eth9; cat /sys/class/net/eth9/flags; ls /sys/class/net"

    /// A test's runtime root and container id, both its own.
    struct Scene {
        let root: String
        let id = IsorunRunner.uniqueID("netdev")

        /// `isorun --root ROOT run --mode MODE --id ID BUNDLE`.
        func run(_ bundle: String, mode: String = "sandbox") throws -> IsorunRunner.Result {
            try IsorunRunner.run(["--root", root, "run", "--mode", mode, "--id", id, bundle])
        }
    }

    /// Runs `test` with a fresh veth pair, a bundle lending it as `devices(lent)` and running
    /// `args`, and a runtime root of its own; removes all three after, and checks that isorun
    /// left nothing: no state or mount under the root, no cgroup of the test's id.
    static func withLentDevice(args: [String], devices: (String) -> [String: Any], userNamespace: Bool = false,
                               capabilities: [String] = [],
                               _ test: (_ veth: HostVethPair, _ bundle: String, _ scene: Scene) throws -> Void) throws {
        let veth = try HostVethPair()
        defer { veth.remove() }
        let bundle = try veth.bundle(args: args, devices: devices(veth.lent), userNamespace: userNamespace,
                                     capabilities: capabilities)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-root-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let scene = Scene(root: root)
        try test(veth, bundle, scene)
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8).split(separator: "\n").filter { $0.contains(root) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty && mounts.isEmpty, "left behind: \(mounts)")
        #expect(IsorunRunner.cgroupDirectories(for: scene.id).isEmpty, "cgroups left behind")
    }

    /// The device is on the host with its IPv4 address.
    static func expectHome(_ veth: HostVethPair, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let home = try #require(try veth.onHost(), "\(what): the device is not on the host", sourceLocation: sourceLocation)
        #expect(home.addresses.contains(veth.address4), "\(what): \(home.addresses)", sourceLocation: sourceLocation)
    }

    @Test func theDeviceIsInTheContainerRenamedAddressedAndUpThenBackOnTheHost() throws {
        guard Self.available else { return }
        try Self.withLentDevice(args: ["sh", "-c", Self.inside], devices: { [$0: ["name": "eth9"]] }) { veth, bundle, scene in
            let result = try scene.run(bundle)
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out.contains("inet \(veth.address4)"), "\(result.out)")
            #expect(result.out.contains("inet6 \(veth.address6)"), "\(result.out)")
            let flags = result.out.split(separator: "\n").first { $0.hasPrefix("0x") }.flatMap { Int($0.dropFirst(2), radix: 16) }
            #expect(flags.map { $0 & 1 == 1 } == true, "eth9 is not up inside: \(result.out)")
            #expect(!result.out.contains(veth.lent), "the host's name is visible inside: \(result.out)")

            let home = try #require(try veth.onHost(), "the device did not come back to the host")
            #expect(home.addresses.contains(veth.address4) && home.addresses.contains(veth.address6), "\(home.addresses)")
            #expect(!home.up, "a device given back must be down")
            #expect(try veth.onHost("eth9") == nil)
        }
    }

    @Test func inAUserNamespaceTheDeviceMovesOnceCloneHasMadeTheNetworkNamespace() throws {
        guard Self.available else { return }
        try Self.withLentDevice(args: ["ip", "-o", "addr", "show", "dev", "eth9"], devices: { [$0: ["name": "eth9"]] },
                                userNamespace: true) { veth, bundle, scene in
            let result = try scene.run(bundle)
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out.contains("inet \(veth.address4)"), "\(result.out)")
            try Self.expectHome(veth, "after the run")
        }
    }

    @Test func aDeviceTheContainerRenamedStillComesHome() throws {
        guard Self.available else { return }
        let script = "ip link set dev eth9 down && ip link set dev eth9 name renamed0 && ls /sys/class/net"
        try Self.withLentDevice(args: ["sh", "-c", script], devices: { [$0: ["name": "eth9"]] },
                                capabilities: ["CAP_NET_ADMIN"]) { veth, bundle, scene in
            let result = try scene.run(bundle)
            #expect(result.status == 0, "\(result.err)")
            #expect(result.out.contains("renamed0"), "the rename did not happen: \(result.out)")
            try Self.expectHome(veth, "after the container renamed it")
        }
    }

    @Test func withoutANameTheDeviceKeepsItsHostName() throws {
        guard Self.available else { return }
        try Self.withLentDevice(args: ["sh", "-c", "cat /sys/class/net/ird*/operstate"], devices: { [$0: [String: Any]()] }) { veth, bundle, scene in
            let result = try scene.run(bundle)
            #expect(result.status == 0, "\(result.err)")
            try Self.expectHome(veth, "after the run")
        }
    }

    @Test func aNameTakenInTheContainerIsAnErrorAndTheDeviceStaysOnTheHost() throws {
        guard Self.available else { return }
        try Self.withLentDevice(args: ["true"], devices: { [$0: ["name": "lo"]] }) { veth, bundle, scene in
            let result = try scene.run(bundle)
            #expect(result.status == 125)
            #expect(result.err.contains("linux.netDevices.\(veth.lent)") && result.err.contains("named lo"), "\(result.err)")
            try Self.expectHome(veth, "after the refusal")
        }
    }

    @Test func aMissingDeviceIsAnErrorThatNamesItAndGivesBackTheOthers() throws {
        guard Self.available else { return }
        // Sorted by host name, the veth ("ird…") moves before "zz-missing" fails.
        try Self.withLentDevice(args: ["true"], devices: { [$0: ["name": "eth9"], "zz-missing": [String: Any]()] }) { veth, bundle, scene in
            let result = try scene.run(bundle)
            #expect(result.status == 125)
            #expect(result.err.contains("linux.netDevices.zz-missing: no network device of that name on the host"), "\(result.err)")
            try Self.expectHome(veth, "the device moved first")
        }
    }

    @Test func createHoldsTheDeviceAndDeleteGivesItBack() throws {
        guard Self.available else { return }
        try Self.withLentDevice(args: ["sleep", "30"], devices: { [$0: ["name": "eth9"]] }) { veth, bundle, scene in
            let (root, id) = (scene.root, scene.id)
            #expect(try IsorunRunner.create(bundle: bundle, root: root, id: id) == 0)
            #expect(try veth.onHost() == nil, "create left the device on the host")
            // The container's process is killed first: its namespace must outlive it.
            let state = try IsorunRunner.run(["--root", root, "state", id])
            if let pid = (try JSONSerialization.jsonObject(with: state.stdout) as? [String: Any])?["pid"] as? Int {
                kill(pid_t(pid), SIGKILL)
            }
            usleep(100_000)
            let deleted = try IsorunRunner.run(["--root", root, "delete", "--force", id])
            #expect(deleted.status == 0, "\(deleted.err)")
            try Self.expectHome(veth, "after delete")
        }
    }

    @Test func aKilledIsorunsDevicesComeBackWithTheNextRun() throws {
        guard Self.available else { return }
        try Self.withLentDevice(args: ["sleep", "30"], devices: { [$0: ["name": "eth9"]] }) { veth, bundle, scene in
            let started = try IsorunRunner.start(["--root", scene.root, "run", "--mode", "sandbox", "--id", scene.id, bundle])
            var moved = false
            for _ in 0..<200 where !moved {
                usleep(10_000)
                moved = (try? veth.onHost()) == nil
            }
            kill(started.0.processIdentifier, SIGKILL)
            _ = IsorunRunner.finish(started)
            #expect(moved, "the device never left the host")
            // The container died with its supervisor; the pinned namespace still holds the veth.
            let next = try IsorunRunner.run(["--root", scene.root, "run", "--mode", "sandbox", IsorunRunner.bundle("hello"), "--", "true"])
            #expect(next.status == 0, "\(next.err)")
            try Self.expectHome(veth, "after the sweep")
        }
    }
}

/// linux.netDevices in VM mode: the device goes into the namespace the VM joins, or into
/// one made for it, and the guest takes it over as it takes over a CNI plugin's interface
/// (its MAC and address).
extension VMModeTests {
    /// A new network namespace: the guest's eth9 is the lent veth (its MAC, its address,
    /// and traffic to the peer on the host), and afterwards the veth is home.
    @Test func aVMTakesOverADeviceLentToANewNetworkNamespace() throws {
        guard NetworkDeviceTests.available else { return }
        let peer = "10.214.\(getpid() % 200).2"
        let script = "cat /sys/class/net/eth9/address; ip -o -4 addr show dev eth9; ping -c1 -W5 \(peer) >/dev/null && echo reached-peer"
        try NetworkDeviceTests.withLentDevice(args: ["sh", "-c", script], devices: { [$0: ["name": "eth9"]] },
                                              capabilities: ["CAP_NET_RAW"]) { veth, bundle, scene in
            for command in [["addr", "add", peer + "/24", "dev", veth.peer], ["link", "set", veth.peer, "up"]] {
                #expect(try IsorunRunner.runProgram("/usr/sbin/ip", command).status == 0)
            }
            let mac = try String(contentsOfFile: "/sys/class/net/\(veth.lent)/address", encoding: .utf8)
            let vm = try scene.run(bundle, mode: "vm")
            #expect(vm.status == 0, "\(vm.err)")
            #expect(vm.out.hasPrefix(mac), "the guest's eth9 has the lent device's MAC: \(vm.out)")
            #expect(vm.out.contains("inet \(veth.address4)"), "\(vm.out)")
            #expect(vm.out.hasSuffix("reached-peer\n"), "\(vm.out)")
            try NetworkDeviceTests.expectHome(veth, "after the VM")
            #expect(VMSupport.qemuProcesses(mentioning: scene.id).isEmpty)
        }
    }

    /// QEMU dies with a killed isorun; the pinned namespace keeps the veth until the next run.
    @Test func aKilledVMsDeviceComesBackWithTheNextRun() throws {
        guard NetworkDeviceTests.available else { return }
        try NetworkDeviceTests.withLentDevice(args: ["sleep", "60"], devices: { [$0: ["name": "eth9"]] }) { veth, bundle, scene in
            let started = try IsorunRunner.start(["--root", scene.root, "run", "--mode", "vm", "--id", scene.id, bundle])
            var moved = false
            for _ in 0..<3000 where !moved {
                usleep(10_000)
                moved = (try? veth.onHost()) == nil
            }
            // Mirrored into the guest by now, or about to be: kill in the middle either way.
            usleep(300_000)
            kill(started.0.processIdentifier, SIGKILL)
            _ = IsorunRunner.finish(started)
            #expect(moved, "the device never left the host")
            var gone = false
            for _ in 0..<300 where !gone {
                usleep(10_000)
                gone = VMSupport.qemuProcesses(mentioning: scene.id).isEmpty
            }
            #expect(gone, "QEMU outlived its isorun")
            let next = try IsorunRunner.run(["--root", scene.root, "run", "--mode", "sandbox", IsorunRunner.bundle("hello"), "--", "true"])
            #expect(next.status == 0, "\(next.err)")
            try NetworkDeviceTests.expectHome(veth, "after the sweep")
        }
    }

    @Test func aVMTakesOverADeviceLentToTheNamespaceItJoins() throws {
        guard NetworkDeviceTests.available else { return }
        let namespace = "isorun-test-nd-\(getpid())"
        #expect(try IsorunRunner.runProgram("/usr/sbin/ip", ["netns", "add", namespace]).status == 0)
        defer { _ = try? IsorunRunner.runProgram("/usr/sbin/ip", ["netns", "del", namespace]) }
        let veth = try HostVethPair()
        defer { veth.remove() }
        let mac = try String(contentsOfFile: "/sys/class/net/\(veth.lent)/address", encoding: .utf8)
        let bundle = try IsorunRunner.bundleCopy("hello", args: ["sh", "-c", "cat /sys/class/net/eth0/address; ip -o -4 addr show dev eth0"]) { config in
            IsorunRunner.edit(&config, at: ["linux"]) { linux in
                var namespaces = (linux["namespaces"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "network" }
                namespaces.append(["type": "network", "path": "/run/netns/\(namespace)"])
                linux["namespaces"] = namespaces
                linux["netDevices"] = [veth.lent: ["name": "eth0"]]
            }
        }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("vmnetdev")
        let vm = try IsorunRunner.run(["run", "--mode", "vm", "--id", id, bundle])
        #expect(vm.status == 0, "\(vm.err)")
        #expect(vm.out.hasPrefix(mac), "the guest's eth0 has the lent device's MAC: \(vm.out)")
        #expect(vm.out.contains("inet \(veth.address4)"), "\(vm.out)")
        try NetworkDeviceTests.expectHome(veth, "after the VM")
        #expect(!FileManager.default.fileExists(atPath: "/run/isorun/\(id)"))
        #expect(try IsorunRunner.runProgram("/usr/sbin/ip", ["-n", namespace, "-o", "link"]).out.split(separator: "\n").count == 1,
                "only lo is left in the joined namespace")
    }
}
