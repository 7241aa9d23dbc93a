import CIsorunShim
import Glibc

/// An Ethernet interface of a network namespace, as a VM takes it over.
public struct NetworkInterface: Equatable, Sendable {
    public var name: String
    public var index: Int32
    public var mtu: Int32
    public var mac: [UInt8]
    /// Its primary IPv4 address, most significant byte first (10.0.0.2 is 0x0a000002); 0: none.
    public var address: UInt32
    public var prefixLength: Int

    public init(name: String, index: Int32, mtu: Int32, mac: [UInt8], address: UInt32, prefixLength: Int) {
        self.name = name
        self.index = index
        self.mtu = mtu
        self.mac = mac
        self.address = address
        self.prefixLength = prefixLength
    }
}

/// An IPv4 route of a namespace's main table.
public struct NetworkRoute: Equatable, Sendable {
    /// Most significant byte first, as the addresses of `NetworkInterface`.
    public var destination: UInt32
    public var prefixLength: Int
    /// 0 for a route to the link itself (no gateway).
    public var gateway: UInt32
    public var device: String

    public init(destination: UInt32, prefixLength: Int, gateway: UInt32, device: String) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.device = device
    }
}

/// An IPv6 address, global or link-local (`prefixLength` its subnet), or an IPv6 route (to
/// `prefixLength` bits of `address`, through `gateway`, all zeros for the link itself) on `device`.
public struct IPv6Entry: Equatable, Sendable {
    public var address: [UInt8]
    public var prefixLength: Int
    public var gateway: [UInt8]
    public var device: String

    public init(address: [UInt8], prefixLength: Int, gateway: [UInt8] = Array(repeating: 0, count: 16), device: String) {
        self.address = address
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.device = device
    }

    public var isThroughGateway: Bool { gateway.contains { $0 != 0 } }
}

/// A namespace's interfaces and routes (`NetworkMirror.links`).
public struct NetworkNamespaceLinks: Equatable, Sendable {
    public var interfaces: [NetworkInterface]
    public var routes: [NetworkRoute]
    public var ipv6Addresses: [IPv6Entry] = []
    public var ipv6Routes: [IPv6Entry] = []
}

/// Joins a tap device to an interface of a container's network namespace, so that a VM
/// on the tap takes the interface's place (see the shim's network_mirror.c).
public enum NetworkMirror {
    /// The Ethernet interfaces of the namespace at `namespace` (a descriptor of it) that
    /// are up, loopback aside, and its IPv4 and IPv6 addresses and routes.
    public static func links(in namespace: Int32) throws(SystemError) -> NetworkNamespaceLinks {
        var found = [isorun_interface](repeating: isorun_interface(), count: 16)
        var rawRoutes = [isorun_route](repeating: isorun_route(), count: 64)
        var routeCount: Int32 = 0
        let count = isorun_netns_interfaces(namespace, &found, Int32(found.count), &rawRoutes, Int32(rawRoutes.count), &routeCount)
        guard count >= 0 else { throw SystemError("list the network namespace's interfaces", errno: -count) }
        let interfaces = found.prefix(Int(count)).map { raw in
            NetworkInterface(name: withUnsafeBytes(of: raw.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) },
                             index: raw.index, mtu: raw.mtu, mac: withUnsafeBytes(of: raw.mac) { Array($0) },
                             address: UInt32(bigEndian: raw.address), prefixLength: Int(raw.prefix))
        }
        let routes = rawRoutes.prefix(Int(routeCount)).map { raw in
            NetworkRoute(destination: UInt32(bigEndian: raw.destination), prefixLength: Int(raw.prefix),
                         gateway: UInt32(bigEndian: raw.gateway),
                         device: withUnsafeBytes(of: raw.device) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        var addresses6 = [isorun_ipv6_entry](repeating: isorun_ipv6_entry(), count: 32)
        var routes6 = [isorun_ipv6_entry](repeating: isorun_ipv6_entry(), count: 32)
        var addressCount: Int32 = 0, route6Count: Int32 = 0
        let ipv6 = isorun_netns_ipv6(namespace, &addresses6, Int32(addresses6.count), &addressCount, &routes6, &route6Count)
        guard ipv6 == 0 else { throw SystemError("list the network namespace's IPv6 addresses", errno: -ipv6) }
        func entry(_ raw: isorun_ipv6_entry) -> IPv6Entry {
            IPv6Entry(address: withUnsafeBytes(of: raw.address) { Array($0) }, prefixLength: Int(raw.prefix),
                      gateway: withUnsafeBytes(of: raw.gateway) { Array($0) },
                      device: withUnsafeBytes(of: raw.device) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        return NetworkNamespaceLinks(interfaces: interfaces, routes: routes,
                                     ipv6Addresses: addresses6.prefix(Int(addressCount)).map(entry),
                                     ipv6Routes: routes6.prefix(Int(route6Count)).map(entry))
    }

    /// A new tap in the namespace, joined both ways to `interface`; its descriptor
    /// (close-on-exec). The tap goes when its last descriptor closes; the redirect on the
    /// interface stays until `unmirror`.
    public static func mirror(_ interface: NetworkInterface, in namespace: Int32) throws(SystemError) -> Int32 {
        var step: UnsafePointer<CChar>? = nil
        let result = isorun_netns_mirror(namespace, interface.index, interface.mtu, &step)
        guard result >= 0 else {
            throw SystemError(step.map { String(cString: $0) } ?? "mirror", interface.name, errno: -result)
        }
        return result
    }

    /// Removes the redirect from the interface `name` of the namespace at `path`; true
    /// when there was one. Quiet about a namespace or interface that is gone.
    @discardableResult
    public static func unmirror(interface name: String, namespacePath path: String) -> Bool {
        let namespace = open(path, O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { return false }
        defer { close(namespace) }
        return isorun_netns_unmirror(namespace, name) == 0
    }
}
