import IsorunGuestProtocol
import IsorunSys
import Testing
@testable import IsorunVM

struct GuestNetworkTests {
    static let eth0 = NetworkInterface(name: "eth0", index: 2, mtu: 1500, mac: [2, 0, 0, 0, 0, 1], address: 0x0a00_0005, prefixLength: 24)

    /// A bridge network (CNI's bridge plugin, podman): the subnet's own route is the
    /// kernel's to add; the default route is the guest's.
    @Test func aBridgeNetworkGivesTheGuestItsDefaultRoute() {
        let routes = [NetworkRoute(destination: 0, prefixLength: 0, gateway: 0x0a00_0001, device: "eth0"),
                      NetworkRoute(destination: 0x0a00_0000, prefixLength: 24, gateway: 0, device: "eth0")]
        #expect(GuestNetwork.routeMessages(routes, interfaces: [Self.eth0])
                == [.route(destination: 0, prefixLength: 0, gateway: 0x0a00_0001, device: "eth0")])
    }

    /// Calico's shape: a /32 address, the gateway 169.254.1.1 reachable only through a link
    /// route, which must come first, and routes of interfaces not taken over are left out.
    @Test func aLinkRouteToTheGatewayComesBeforeTheRoutesThroughIt() {
        var pointToPoint = Self.eth0
        pointToPoint.prefixLength = 32
        let routes = [NetworkRoute(destination: 0, prefixLength: 0, gateway: 0xa9fe_0101, device: "eth0"),
                      NetworkRoute(destination: 0xa9fe_0101, prefixLength: 32, gateway: 0, device: "eth0"),
                      NetworkRoute(destination: 0xc0a8_0000, prefixLength: 16, gateway: 0, device: "vxlan0")]
        #expect(GuestNetwork.routeMessages(routes, interfaces: [pointToPoint]) == [
            .route(destination: 0xa9fe_0101, prefixLength: 32, gateway: 0, device: "eth0"),
            .route(destination: 0, prefixLength: 0, gateway: 0xa9fe_0101, device: "eth0"),
        ])
    }

    /// Dual stack: every address, the link-local one too (the guest's own would come up to a
    /// second late), and the routes other than each address's own prefix, link routes first.
    @Test func ipv6AddressesAndRoutesOfTheTakenOverInterfacesOnly() {
        func address(_ text: String) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: 16)
            for (index, group) in text.split(separator: ":", omittingEmptySubsequences: false).enumerated() where !group.isEmpty {
                let value = UInt16(group, radix: 16)!
                bytes[index * 2] = UInt8(value >> 8)
                bytes[index * 2 + 1] = UInt8(value & 0xff)
            }
            return bytes
        }
        let zero = [UInt8](repeating: 0, count: 16)
        let global = IPv6Entry(address: address("fd00:1:0:0:0:0:0:2"), prefixLength: 64, device: "eth0")
        let linkLocal = IPv6Entry(address: address("fe80:0:0:0:50fa:dcff:fec7:78a"), prefixLength: 64, device: "eth0")
        let other = IPv6Entry(address: address("fd00:9:0:0:0:0:0:2"), prefixLength: 64, device: "net9")
        let routes = [
            IPv6Entry(address: zero, prefixLength: 0, gateway: address("fe80:0:0:0:0:0:0:1"), device: "eth0"),
            IPv6Entry(address: address("fd00:1:0:0:0:0:0:0"), prefixLength: 64, device: "eth0"),
            IPv6Entry(address: address("fd00:2:0:0:0:0:0:0"), prefixLength: 48, device: "eth0"),
            IPv6Entry(address: address("fd00:9:0:0:0:0:0:0"), prefixLength: 64, device: "net9"),
        ]
        #expect(GuestNetwork.ipv6Messages(addresses: [global, linkLocal, other], routes: routes, devices: ["eth0"]) == [
            .networkAddress6(device: "eth0", address: global.address, prefixLength: 64),
            .networkAddress6(device: "eth0", address: linkLocal.address, prefixLength: 64),
            .route6(destination: address("fd00:2:0:0:0:0:0:0"), prefixLength: 48, gateway: zero, device: "eth0"),
            .route6(destination: zero, prefixLength: 0, gateway: address("fe80:0:0:0:0:0:0:1"), device: "eth0"),
        ])
        #expect(GuestNetwork.masked(address("fd00:1:ffff:ffff:1:2:3:4"), 52) == address("fd00:1:ffff:f000:0:0:0:0"))
    }
}
