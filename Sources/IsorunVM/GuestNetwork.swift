import Glibc
import IsorunCore
import IsorunGuestProtocol
import IsorunSpec
import IsorunSys

/// The network a VM gets when its bundle joins a network namespace that someone else
/// set up (CNI for containerd and Kubernetes, CNI or netavark for podman): the VM takes
/// over the namespace's interfaces, as Kata Containers does.
///
/// For each interface that is up with an IPv4 or a global IPv6 address: a tap device in that namespace,
/// joined to the interface by a tc redirect each way (`NetworkMirror`); a virtio-net
/// device on the tap with the interface's MAC; and in the guest, the interface's name,
/// MTU, primary IPv4 address and IPv6 addresses, and the namespace's routes on it. The far
/// end of a veth sees the same MAC and addresses it would see from a container, so no
/// CNI plugin has to know.
///
/// A bundle that makes a new network namespace gets loopback alone, as a container does
/// (its namespace has nothing else), unless it lends host devices (`linux.netDevices`):
/// those go into a namespace made for them, which is then taken over the same way.
final class GuestNetwork {
    /// The taps, for QEMU's command line (it inherits the descriptors).
    private(set) var devices: [QemuCommandLine.NetworkDevice] = []
    /// For isorun-init, before `start`.
    private(set) var messages: [GuestMessage] = []
    private let namespacePath: String?
    /// Interfaces whose redirect is in place, to remove when the VM ends.
    private var mirrored: [String] = []
    /// Where they are recorded until removed.
    private let state: RunState

    /// Takes over the interfaces of the namespace at `namespacePath` (the one the bundle
    /// joins, or the one its lent devices went into), recording each in the run's state
    /// first, so that a later isorun can remove what a killed one left.
    init(bundle: Bundle, namespacePath: String?, state: RunState) throws(IsorunError) {
        self.state = state
        guard let path = namespacePath else {
            self.namespacePath = nil
            return
        }
        self.namespacePath = path
        let joined = bundle.config.linux?.namespace(.network)?.path == path
        let context = "\(bundle.directory)/config.json: " + (joined ? "linux.namespaces: network \(path)" : "linux.netDevices: their network namespace \(path)")
        let namespace = open(path, O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw IsorunError(context, SystemError("open", path)) }
        defer { close(namespace) }
        let links: NetworkNamespaceLinks
        do { links = try NetworkMirror.links(in: namespace) } catch { throw IsorunError(context, error) }
        do throws(IsorunError) {
            // An interface with an address to carry: IPv4, or IPv6 beyond the link-local one.
            for interface in links.interfaces where interface.address != 0 || links.ipv6Addresses.contains(where: {
                $0.device == interface.name && !($0.address[0] == 0xfe && $0.address[1] & 0xc0 == 0x80)
            }) {
                try state.recordMirror(interface: interface.name, namespacePath: path)
                let tap: Int32
                do { tap = try NetworkMirror.mirror(interface, in: namespace) } catch {
                    state.forgetMirror(interface: interface.name, namespacePath: path)
                    guard error.errno == EEXIST else { throw IsorunError("VM network: \(interface.name) of \(path)", error) }
                    // One VM per namespace: a second (a pod's next container) finds the qdisc taken.
                    throw IsorunError("VM network: \(interface.name) of \(path) already has an ingress qdisc (another VM took it over, or a tc setup of its own): one VM per network namespace")
                }
                mirrored.append(interface.name)
                devices.append(.init(descriptor: tap, mac: interface.mac))
                messages.append(.networkInterface(name: interface.name, mac: interface.mac, mtu: interface.mtu,
                                                  address: interface.address, prefixLength: interface.prefixLength))
            }
        } catch {
            undo()
            throw error
        }
        messages += Self.routeMessages(links.routes, interfaces: links.interfaces.filter { mirrored.contains($0.name) })
        messages += Self.ipv6Messages(addresses: links.ipv6Addresses, routes: links.ipv6Routes, devices: mirrored)
        if !mirrored.isEmpty { Log.debug("vm: network: \(mirrored.joined(separator: ", ")) of \(path) mirrored to taps") }
    }

    /// The routes of the taken-over interfaces the guest must add itself: all but each
    /// address's own subnet (the kernel adds that), routes to the link first, so that a
    /// gateway outside every subnet (Calico's 169.254.1.1 beside a /32 address) is reachable
    /// before the routes through it.
    static func routeMessages(_ routes: [NetworkRoute], interfaces: [NetworkInterface]) -> [GuestMessage] {
        let kept = routes.filter { route in
            guard let interface = interfaces.first(where: { $0.name == route.device }) else { return false }
            let mask: UInt32 = interface.prefixLength == 0 ? 0 : ~0 << (32 - interface.prefixLength)
            let isOwnSubnet = route.gateway == 0 && route.prefixLength == interface.prefixLength
                && route.destination == interface.address & mask
            return !isOwnSubnet
        }
        return (kept.filter { $0.gateway == 0 } + kept.filter { $0.gateway != 0 }).map {
            .route(destination: $0.destination, prefixLength: $0.prefixLength, gateway: $0.gateway, device: $0.device)
        }
    }

    /// The taken-over interfaces' IPv6 addresses, then their routes, to the link first.
    /// Link-local addresses are copied too: the guest would derive the same from the same
    /// MAC, but only once its link watch reports the carrier, up to a second into the
    /// workload. Each address's own prefix route is the guest kernel's to add.
    static func ipv6Messages(addresses: [IPv6Entry], routes: [IPv6Entry], devices: [String]) -> [GuestMessage] {
        let ours = { (entry: IPv6Entry) in devices.contains(entry.device) }
        let ownPrefixes = addresses.filter(ours).map { IPv6Entry(address: Self.masked($0.address, $0.prefixLength),
                                                                  prefixLength: $0.prefixLength, device: $0.device) }
        let kept = routes.filter(ours).filter { route in
            route.isThroughGateway || !ownPrefixes.contains { $0.device == route.device && $0.prefixLength == route.prefixLength
                                                              && $0.address == Self.masked(route.address, route.prefixLength) }
        }
        return addresses.filter(ours).map { .networkAddress6(device: $0.device, address: $0.address, prefixLength: $0.prefixLength) }
            + (kept.filter { !$0.isThroughGateway } + kept.filter(\.isThroughGateway)).map {
                .route6(destination: $0.address, prefixLength: $0.prefixLength, gateway: $0.gateway, device: $0.device)
            }
    }

    /// `address` with all but its first `prefixLength` bits cleared.
    static func masked(_ address: [UInt8], _ prefixLength: Int) -> [UInt8] {
        address.enumerated().map { index, byte in
            let bits = min(max(prefixLength - index * 8, 0), 8)
            return bits == 8 ? byte : byte & ~(0xff >> bits)
        }
    }

    /// Whether the guest needs its IPv6 stack (see QemuCommandLine.guestIPv6).
    var needsIPv6: Bool { messages.contains { if case .networkAddress6 = $0 { true } else { false } } }

    /// isorun's copies of the tap descriptors, once QEMU holds its own.
    func closeDescriptors() {
        for device in devices where device.descriptor >= 0 { close(device.descriptor) }
        devices = devices.map { .init(descriptor: -1, mac: $0.mac) }
    }

    /// Removes the redirects from the namespace's interfaces (each tap goes with the
    /// last descriptor of it, QEMU's), and their records: a `delete` after this run must
    /// not remove the redirect of a VM that took the interface over since.
    func undo() {
        closeDescriptors()
        guard let namespacePath else { return }
        for name in mirrored {
            NetworkMirror.unmirror(interface: name, namespacePath: namespacePath)
            state.forgetMirror(interface: name, namespacePath: namespacePath)
        }
        mirrored = []
    }
}
