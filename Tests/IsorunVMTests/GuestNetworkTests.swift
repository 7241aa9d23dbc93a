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
}
