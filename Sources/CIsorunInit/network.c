// The guest's side of the container's network interfaces (see the host's GuestNetwork):
// the virtio-net device with the interface's MAC takes its name, MTU and address.
#include "isorun_guest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/// The name of the interface whose hardware address is `mac`, into `request`; 0 or -1.
static int find_by_mac(int sock, const unsigned char mac[6], struct ifreq *request) {
    // Few devices, numbered from 1: asking by index needs no netlink and no allocation.
    for (int index = 1; index < 256; index++) {
        memset(request, 0, sizeof *request);
        request->ifr_ifindex = index;
        if (ioctl(sock, SIOCGIFNAME, request) < 0) continue;
        if (ioctl(sock, SIOCGIFHWADDR, request) < 0) continue;
        if (memcmp(request->ifr_hwaddr.sa_data, mac, 6) == 0) return 0;
    }
    errno = ENODEV;
    return -1;
}

/// Renames the device called `name` out of the way ("moved<index>"): the kernel named it
/// eth1, say, but the container's eth1 has another MAC. Its own turn names it properly.
static int move_aside(int sock, const char *name) {
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(sock, SIOCGIFINDEX, &request) < 0) return -1;
    snprintf(request.ifr_newname, IFNAMSIZ, "moved%d", request.ifr_ifindex);
    return ioctl(sock, SIOCSIFNAME, &request);
}

static void set_address(struct sockaddr *target, uint32_t address) {
    struct sockaddr_in *in = (struct sockaddr_in *)target;
    memset(in, 0, sizeof *in);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(address);
}

int isorun_guest_configure_interface(const unsigned char mac[6], const char *name, int mtu, uint32_t address,
                                     int prefix_length, const char **step) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        *step = "socket";
        return -1;
    }
    struct ifreq request;
    int rc = -1;
    *step = "find the device with the interface's MAC";
    if (find_by_mac(sock, mac, &request) < 0) goto done;
    if (strcmp(request.ifr_name, name) != 0) {
        // Still down (nothing has brought it up), so it may be renamed.
        *step = "rename";
        strncpy(request.ifr_newname, name, IFNAMSIZ - 1);
        if (ioctl(sock, SIOCSIFNAME, &request) < 0) {
            if (errno != EEXIST || move_aside(sock, name) < 0 || ioctl(sock, SIOCSIFNAME, &request) < 0) goto done;
        }
        memset(&request, 0, sizeof request);
        strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    }
    *step = "set the MTU";
    request.ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, &request) < 0) goto done;
    if (address != 0) {  // 0: an IPv6-only interface
        *step = "set the address";
        set_address(&request.ifr_addr, address);
        if (ioctl(sock, SIOCSIFADDR, &request) < 0) goto done;
        *step = "set the netmask";
        set_address(&request.ifr_netmask, prefix_length == 0 ? 0 : 0xffffffffu << (32 - prefix_length));
        if (ioctl(sock, SIOCSIFNETMASK, &request) < 0) goto done;
    }
    // The host's namespace holds these addresses already: no duplicate address detection
    // (~1 s of tentative addresses) for the link-local address that comes up with the link
    // or the global ones added after it. Absent without IPv6: nothing to do.
    char dad[96];
    snprintf(dad, sizeof dad, "/proc/sys/net/ipv6/conf/%s/accept_dad", name);
    int dad_fd = open(dad, O_WRONLY | O_CLOEXEC);
    if (dad_fd >= 0) {
        (void)!write(dad_fd, "0", 1);
        close(dad_fd);
    }
    *step = "bring it up";
    if (ioctl(sock, SIOCGIFFLAGS, &request) < 0) goto done;
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(sock, SIOCSIFFLAGS, &request) < 0) goto done;
    rc = 0;
done:;
    int saved = errno;
    close(sock);
    errno = saved;
    return rc;
}

/// One ioctl that adds something (an address, a route) on a socket of `family` made for
/// it; what is there already counts as added. 0, or -1 with errno.
static int add_by_ioctl(int family, unsigned long request, void *argument) {
    int sock = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    int rc = ioctl(sock, request, argument);
    if (rc < 0 && errno == EEXIST) rc = 0;
    int saved = errno;
    close(sock);
    errno = saved;
    return rc;
}

int isorun_guest_add_route(uint32_t destination, int prefix_length, uint32_t gateway, const char *device) {
    struct rtentry route;
    memset(&route, 0, sizeof route);
    uint32_t mask = prefix_length == 0 ? 0 : 0xffffffffu << (32 - prefix_length);
    set_address(&route.rt_dst, destination & mask);
    set_address(&route.rt_genmask, mask);
    set_address(&route.rt_gateway, gateway);
    route.rt_flags = RTF_UP | (gateway ? RTF_GATEWAY : 0) | (prefix_length == 32 ? RTF_HOST : 0);
    char name[IFNAMSIZ];
    strncpy(name, device, IFNAMSIZ - 1);
    name[IFNAMSIZ - 1] = 0;
    route.rt_dev = name;
    return add_by_ioctl(AF_INET, SIOCADDRT, &route);
}

/// The kernel's in6_ifreq and in6_rtmsg (linux/ipv6.h, linux/ipv6_route.h), which do not
/// mix with libc's netinet headers.
struct ipv6_interface_request {
    unsigned char address[16];
    uint32_t prefix_length;
    int index;
};
struct ipv6_route_request {
    unsigned char destination[16];
    unsigned char source[16];
    unsigned char gateway[16];
    uint32_t type;
    uint16_t destination_length;
    uint16_t source_length;
    uint32_t metric;
    unsigned long info;
    uint32_t flags;
    int index;
};

int isorun_guest_add_address6(const char *device, const unsigned char address[16], int prefix_length) {
    struct ipv6_interface_request request;
    memset(&request, 0, sizeof request);
    memcpy(request.address, address, 16);
    request.prefix_length = (uint32_t)prefix_length;
    request.index = (int)if_nametoindex(device);
    if (request.index == 0) return -1;
    // The link-local address may be there already: the kernel derives the same one from
    // the same MAC once the link watch reports the carrier, which sometimes comes first.
    return add_by_ioctl(AF_INET6, SIOCSIFADDR, &request);
}

int isorun_guest_add_route6(const unsigned char destination[16], int prefix_length, const unsigned char gateway[16],
                            const char *device) {
    struct ipv6_route_request route;
    memset(&route, 0, sizeof route);
    memcpy(route.destination, destination, 16);
    memcpy(route.gateway, gateway, 16);
    route.destination_length = (uint16_t)prefix_length;
    route.metric = 1024;  // the kernel's default for routes a user adds
    int through_gateway = 0;
    for (int i = 0; i < 16; i++) through_gateway |= gateway[i];
    route.flags = RTF_UP | (through_gateway ? RTF_GATEWAY : 0);
    route.index = (int)if_nametoindex(device);
    if (route.index == 0) return -1;
    return add_by_ioctl(AF_INET6, SIOCADDRT, &route);
}
