import Foundation
import Glibc
import Synchronization
import Testing

/// A network namespace set up the way a CNI plugin sets one up: a veth pair, one end
/// renamed `eth0` inside with an address and a default route, the other on the host.
/// Bridge style (the bridge plugin, podman): a /24 with the gateway in it. Point-to-point
/// (Calico): a /32, and the gateway reachable through a route to the link. The bridge
/// style is dual-stack: a /64 of IPv6 beside the IPv4 /24, without duplicate address
/// detection (which would hold the addresses back for a second). IPv6-only: the /64 alone.
struct CNIStyleNamespace {
    let name: String
    let hostEnd: String
    let subnet: Int
    var hostAddress: String { "10.213.\(subnet).1" }
    var containerAddress: String { "10.213.\(subnet).2" }
    var hostAddress6: String { "fd00:213:\(subnet)::1" }
    var path: String { "/run/netns/\(name)" }
    static let mtu = 1400

    enum Style: CaseIterable { case dualStack, pointToPoint, ipv6Only }

    /// Namespaces made so far by this test process: suites run side by side, and two
    /// namespaces with one subnet would share the host's routes.
    private static let made = Atomic<Int>(0)

    init(_ style: Style = .dualStack) throws {
        let pointToPoint = style == .pointToPoint
        subnet = Int(getpid() % 40) * 6 + Self.made.add(1, ordering: .relaxed).oldValue % 6
        name = "isorun-test-\(getpid())-\(subnet)"
        hostEnd = "irh\(getpid() % 10000)x\(subnet)"
        let peer = "irc\(getpid() % 10000)x\(subnet)"
        for command in [
            ["netns", "add", name],
            ["link", "add", hostEnd, "mtu", "\(Self.mtu)", "type", "veth", "peer", "name", peer, "mtu", "\(Self.mtu)"],
            ["link", "set", peer, "netns", name],
            ["-n", name, "link", "set", peer, "name", "eth0"],
            ["addr", "add", "\(hostAddress)/24", "dev", hostEnd],
            ["link", "set", hostEnd, "up"],
            ["-n", name, "link", "set", "eth0", "up"],
            ["-n", name, "link", "set", "lo", "up"],
        ] + (style == .ipv6Only ? [] : [
            ["-n", name, "addr", "add", "\(containerAddress)/\(pointToPoint ? 32 : 24)", "dev", "eth0"],
        ]) + (pointToPoint ? [["-n", name, "route", "add", hostAddress, "dev", "eth0", "scope", "link"]] : []) + (style == .ipv6Only ? [] : [
            ["-n", name, "route", "add", "default", "via", hostAddress],
        ]) + (pointToPoint ? [] : [
            ["addr", "add", "\(hostAddress6)/64", "dev", hostEnd, "nodad"],
            ["-n", name, "addr", "add", "fd00:213:\(subnet)::2/64", "dev", "eth0", "nodad"],
            ["-n", name, "-6", "route", "add", "default", "via", hostAddress6],
        ]) {
            let result = try IsorunRunner.runProgram("/usr/sbin/ip", command)
            guard result.status == 0 else {
                remove()
                throw TestSetupError("ip \(command.joined(separator: " ")): \(result.err)")
            }
        }
    }

    /// A copy of hello.bundle running `args` in this namespace.
    func bundle(args: [String], _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        try IsorunRunner.bundleCopy("hello", args: args) { config in
            var linux = config["linux"] as? [String: Any] ?? [:]
            var namespaces = (linux["namespaces"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "network" }
            namespaces.append(["type": "network", "path": path])
            linux["namespaces"] = namespaces
            config["linux"] = linux
            edit(&config)
        }
    }

    /// The hardware address of its eth0.
    func mac() throws -> String {
        let result = try IsorunRunner.runProgram("/usr/sbin/ip", ["netns", "exec", name, "cat", "/sys/class/net/eth0/address"])
        return result.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// What `tc` and `ip` show of the namespace: its qdiscs and links.
    func shown() throws -> String {
        try IsorunRunner.runProgram("/usr/sbin/tc", ["-n", name, "qdisc", "show"]).out
            + IsorunRunner.runProgram("/usr/sbin/ip", ["-n", name, "link", "show"]).out
    }

    func remove() {
        _ = try? IsorunRunner.runProgram("/usr/sbin/ip", ["link", "del", hostEnd])
        _ = try? IsorunRunner.runProgram("/usr/sbin/ip", ["netns", "del", name])
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A one-file HTTP server on the host end of the veth, for the workload to reach (with
/// busybox's `nc`: Debian's static busybox `wget` crashes in glibc's resolver).
final class ProbeServer {
    let process = Process()
    let port = Int.random(in: 20000..<40000)
    let directory: String
    let body = "reached the host \(UUID().uuidString)\n"

    /// Listening on `address` (`::` for both families), checked through `reachable`.
    init(address: String, reachable: String? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-probe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try body.write(toFile: directory + "/probe", atomically: false, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-m", "http.server", "--bind", address, "--directory", directory, String(port)]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Listening once a connection succeeds (python starts in well under a second).
        for _ in 0..<100 {
            if Self.connects(address: reachable ?? address, port: port) { return }
            usleep(50_000)
        }
        stop()
        throw TestSetupError("the probe server on \(address):\(port) did not start")
    }

    static func connects(address: String, port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, address, &target.sin_addr)
        return withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    func stop() {
        // SIGKILL: the test runner's children inherit SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// VM mode in a network namespace someone else prepared (CNI, podman): the guest takes
/// over its interfaces, so the workload sees and reaches what a container there would.
extension VMModeTests {
    @Test(arguments: CNIStyleNamespace.Style.allCases)
    func aVMTakesOverTheInterfacesOfTheNamespaceItJoins(style: CNIStyleNamespace.Style) throws {
        let network = try CNIStyleNamespace(style)
        defer { network.remove() }
        let server = try ProbeServer(address: "::", reachable: network.hostAddress)
        defer { server.stop() }
        let before = try network.shown()
        var script = "cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu"
        if style != .ipv6Only {
            script += """

                grep -c . /proc/net/route
                printf 'GET /probe HTTP/1.0\\r\\n\\r\\n' | nc -w 20 \(network.hostAddress) \(server.port) | tail -n 1
                """
        }
        if style != .pointToPoint {
            // Over IPv6 as well; the same addresses, the link-local one included (the
            // guest derives it from the same MAC), and the same IPv6 routes.
            script += """

                cut -c1-32 /proc/net/if_inet6 | sort
                grep -v -e ' lo$' -e '^ff' -e '^fe80' /proc/net/ipv6_route | cut -c1-35 | sort
                printf 'GET /probe HTTP/1.0\\r\\n\\r\\n' | nc -w 20 \(network.hostAddress6) \(server.port) | tail -n 1
                """
        }
        let bundle = try network.bundle(args: ["sh", "-c", script])
        defer { try? FileManager.default.removeItem(atPath: bundle) }

        let sandbox = try IsorunRunner.run(["run", "--mode", "sandbox", bundle])
        #expect(sandbox.status == 0, "\(sandbox.err)")
        // eth0's own MAC and MTU; the header, the subnet's route (or the gateway's) and the default route.
        let ipv4 = style == .ipv6Only ? "" : "3\n" + server.body
        #expect(sandbox.out.hasPrefix("\(try network.mac())\n\(CNIStyleNamespace.mtu)\n" + ipv4), "\(sandbox.out)")
        #expect(sandbox.out.components(separatedBy: server.body).count == (style == .dualStack ? 3 : 2), "every reply: \(sandbox.out)")

        let id = IsorunRunner.uniqueID("vmnet")
        let vm = try IsorunRunner.run(["run", "--mode", "vm", "--id", id, bundle])
        #expect(vm.status == 0, "\(vm.err)")
        #expect(vm.out == sandbox.out, "the same MAC, MTU, routes and reply in the guest as in the container")

        // The tap went with QEMU and the redirect with the run: the namespace is as before.
        #expect(try network.shown() == before)
        #expect(VMSupport.qemuProcesses(mentioning: id).isEmpty)
    }

    /// A killed isorun leaves the redirect on the namespace's interface; the next run
    /// removes it, as it removes the rest of a killed run. A second VM in the namespace is refused.
    @Test func theNextRunRemovesTheRedirectOfAKilledOne() throws {
        let network = try CNIStyleNamespace()
        defer { network.remove() }
        let before = try network.shown()
        let id = IsorunRunner.uniqueID("vmnetkilled")
        let bundle = try network.bundle(args: ["sh", "-c", "echo up; sleep 60"])
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let started = try IsorunRunner.start(["run", "--mode", "vm", "--id", id, bundle])
        _ = started.1.fileHandleForReading.availableData
        let during = try network.shown()
        #expect(during.contains("ingress"), "a redirect while the VM runs:\n\(during)")
        #expect(during.contains("isotap"), "a tap while the VM runs:\n\(during)")
        // A second VM in the same namespace (a pod's next container) cannot have eth0 too.
        let second = try IsorunRunner.run(["run", "--mode", "vm", "--id", id + "-2", bundle])
        #expect(second.status == 125)
        #expect(second.err.contains("one VM per network namespace"), "\(second.err)")
        #expect(second.err.filter { $0 == "\n" }.count == 1, "\(second.err)")
        #expect(try network.shown() == during, "the refused run left the first VM's redirect alone")
        kill(started.0.processIdentifier, SIGKILL)
        _ = IsorunRunner.finish(started)
        #expect(try IsorunRunner.run(mode: "bare", bundle: "hello", ["true"]).status == 0)
        usleep(200_000)
        #expect(try network.shown() == before)
        #expect(VMSupport.qemuProcesses(mentioning: id).isEmpty)
    }
}

extension VMLifecycleTests {
    /// containerd's path: `create` boots the VM with the namespace's interfaces taken over,
    /// and `delete --force` of the running container (its monitor killed, with no time to
    /// clean up) gives them back.
    @Test func deleteForceOfAVMContainerGivesTheInterfacesBack() throws {
        let network = try CNIStyleNamespace()
        defer { network.remove() }
        let before = try network.shown()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("isorun-vmnet-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bundle = try network.bundle(args: ["sleep", "60"]) { $0["annotations"] = ["io.isorun.mode": "vm"] }
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let id = IsorunRunner.uniqueID("vmnetdel")
        let created = try IsorunRunner.runProgram("/bin/sh", ["-c", "\"$0\" --root \"$1\" create --bundle \"$2\" \"$3\" >/dev/null 2>&1",
                                                               IsorunRunner.binary, root, bundle, id])
        #expect(created.status == 0, "\(created.err)")
        #expect(try IsorunRunner.run(["--root", root, "start", id]).status == 0)
        let during = try network.shown()
        #expect(during.contains("ingress") && during.contains("isotap"), "taken over while it runs:\n\(during)")
        let deleted = try IsorunRunner.run(["--root", root, "delete", "--force", id])
        #expect(deleted.status == 0, "\(deleted.err)")
        usleep(200_000)
        #expect(try network.shown() == before)
        #expect(VMSupport.qemuProcesses(mentioning: id).isEmpty)
    }
}
