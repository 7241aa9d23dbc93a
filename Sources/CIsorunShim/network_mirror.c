// A VM's view of a container network namespace: the interfaces CNI or podman put there,
// and for each a tap device whose frames are exchanged with it by two tc redirects.
// The guest's virtio-net device gets the interface's MAC and address, so the peer on
// the other end of the veth cannot tell a VM from a container. Translation only: which
// interfaces, and what the guest is told, is decided in Swift (GuestNetwork).
#include "isorun_shim.h"
#include "netlink_request.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/tc_act/tc_mirred.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <net/route.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int prefix_length(uint32_t netmask) {
    uint32_t host = ntohl(netmask);
    int length = 0;
    while (length < 32 && (host & (0x80000000u >> length))) length++;
    return length;
}

/// The routes of /proc/thread-self/net/route (this thread's namespace) that are up.
static int read_routes(struct isorun_route *out, int max) {
    FILE *routes = fopen("/proc/thread-self/net/route", "re");
    if (!routes) return 0;
    int count = 0;
    char line[256];
    if (!fgets(line, sizeof line, routes)) { fclose(routes); return 0; }  // the header
    while (count < max && fgets(line, sizeof line, routes)) {
        struct isorun_route route;
        memset(&route, 0, sizeof route);
        unsigned destination, via, flags, mask;
        // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; addresses as the
        // kernel stores them (network order), printed as a host-order hex word.
        if (sscanf(line, "%15s %x %x %x %*d %*d %*d %x", route.device, &destination, &via, &flags, &mask) != 5) continue;
        if (!(flags & RTF_UP)) continue;
        route.destination = destination;
        route.prefix = prefix_length(mask);
        route.gateway = (flags & RTF_GATEWAY) ? via : 0;
        out[count++] = route;
    }
    fclose(routes);
    return count;
}

/// 32 hex digits into 16 bytes; 0 on success.
static int parse_hex16(const char *text, unsigned char out[16]) {
    for (int i = 0; i < 16; i++) {
        unsigned byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) return -1;
        out[i] = (unsigned char)byte;
    }
    return 0;
}

static int is_link_local_or_multicast(const unsigned char address[16]) {
    return address[0] == 0xff || (address[0] == 0xfe && (address[1] & 0xc0) == 0x80);
}

int isorun_netns_ipv6(int netns_fd, struct isorun_ipv6_entry *addresses, int max, int *address_count,
                      struct isorun_ipv6_entry *routes, int *route_count) {
    *address_count = 0;
    *route_count = 0;
    int home;
    int rc = netlink_enter_namespace(netns_fd, &home);
    if (rc < 0) return rc;
    // Without IPv6 in the namespace's kernel these files are absent: nothing to carry.
    FILE *list = fopen("/proc/thread-self/net/if_inet6", "re");
    char line[512];
    while (list && *address_count < max && fgets(line, sizeof line, list)) {
        // address index prefix scope flags name; scope 0 is global, 0x20 the link's.
        char hex[33], name[17];
        unsigned index, prefix, scope, flags;
        if (sscanf(line, "%32s %x %x %x %x %16s", hex, &index, &prefix, &scope, &flags, name) != 6) continue;
        if (scope != 0 && scope != 0x20) continue;
        struct isorun_ipv6_entry *entry = &addresses[*address_count];
        memset(entry, 0, sizeof *entry);
        if (parse_hex16(hex, entry->address) < 0) continue;
        entry->prefix = (int)prefix;
        memcpy(entry->device, name, sizeof entry->device - 1);
        (*address_count)++;
    }
    if (list) fclose(list);
    FILE *table = fopen("/proc/thread-self/net/ipv6_route", "re");
    while (table && *route_count < max && fgets(line, sizeof line, table)) {
        // destination prefix source source-prefix next-hop metric refcount use flags device
        char destination[33], source[33], via[33], name[17];
        unsigned prefix, source_prefix, metric, references, use, flags;
        if (sscanf(line, "%32s %x %32s %x %32s %x %x %x %x %16s", destination, &prefix, source, &source_prefix, via,
                   &metric, &references, &use, &flags, name) != 10) continue;
        if (!(flags & RTF_UP) || (flags & 0x80000000u /* RTF_LOCAL */) || strcmp(name, "lo") == 0) continue;
        struct isorun_ipv6_entry *entry = &routes[*route_count];
        memset(entry, 0, sizeof *entry);
        if (parse_hex16(destination, entry->address) < 0 || parse_hex16(via, entry->gateway) < 0) continue;
        if (prefix > 0 && is_link_local_or_multicast(entry->address)) continue;
        entry->prefix = (int)prefix;
        memcpy(entry->device, name, sizeof entry->device - 1);
        (*route_count)++;
    }
    if (table) fclose(table);
    netlink_leave_namespace(home);
    return 0;
}

int isorun_netns_interfaces(int netns_fd, struct isorun_interface *out, int max,
                            struct isorun_route *routes, int max_routes, int *route_count) {
    *route_count = 0;
    int home;
    int rc = netlink_enter_namespace(netns_fd, &home);
    if (rc < 0) return rc;
    int count = 0;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    // A netlink dump, made in this thread's (the container's) namespace.
    struct if_nameindex *names = sock < 0 ? NULL : if_nameindex();
    if (!names) {
        rc = -errno;
        if (sock >= 0) close(sock);
        netlink_leave_namespace(home);
        return rc;
    }
    for (struct if_nameindex *name = names; name->if_index != 0 && count < max; name++) {
        struct isorun_interface interface;
        memset(&interface, 0, sizeof interface);
        strncpy(interface.name, name->if_name, sizeof interface.name - 1);
        interface.index = (int)name->if_index;
        struct ifreq request;
        memset(&request, 0, sizeof request);
        memcpy(request.ifr_name, interface.name, sizeof interface.name);
        if (ioctl(sock, SIOCGIFFLAGS, &request) < 0) continue;
        if ((request.ifr_flags & IFF_LOOPBACK) || !(request.ifr_flags & IFF_UP)) continue;
        if (ioctl(sock, SIOCGIFHWADDR, &request) < 0 || request.ifr_hwaddr.sa_family != ARPHRD_ETHER) continue;
        memcpy(interface.mac, request.ifr_hwaddr.sa_data, 6);
        if (ioctl(sock, SIOCGIFMTU, &request) < 0) continue;
        interface.mtu = request.ifr_mtu;
        // The primary IPv4 address, if any (an IPv6-only interface has none: EADDRNOTAVAIL).
        if (ioctl(sock, SIOCGIFADDR, &request) == 0) {
            interface.address = ((struct sockaddr_in *)&request.ifr_addr)->sin_addr.s_addr;
            if (ioctl(sock, SIOCGIFNETMASK, &request) < 0) continue;
            interface.prefix = prefix_length(((struct sockaddr_in *)&request.ifr_netmask)->sin_addr.s_addr);
        }
        out[count++] = interface;
    }
    if_freenameindex(names);
    *route_count = read_routes(routes, max_routes);
    close(sock);
    netlink_leave_namespace(home);
    return count;
}

static struct tcmsg *tc_message(struct netlink_request *r, int type, int flags) {
    return netlink_begin(r, type, flags, sizeof(struct tcmsg));
}

/// Adds (RTM_NEWQDISC, failing if there is one) or deletes (RTM_DELQDISC) the interface's
/// ingress qdisc, and with it its filters.
static int ingress_qdisc(int sock, int index, int type) {
    struct netlink_request r;
    struct tcmsg *tc = tc_message(&r, type, type == RTM_NEWQDISC ? NLM_F_CREATE | NLM_F_EXCL : 0);
    tc->tcm_family = AF_UNSPEC;
    tc->tcm_ifindex = index;
    tc->tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0);
    tc->tcm_parent = TC_H_INGRESS;
    if (type == RTM_NEWQDISC) netlink_put(&r, TCA_KIND, "ingress", sizeof "ingress");
    return netlink_transact(sock, &r);
}

/// On `from`'s ingress: a u32 filter that matches every frame, whose one action (mirred)
/// sends it out of `to` and stops it there.
static int add_redirect(int sock, int from, int to) {
    struct netlink_request r;
    struct tcmsg *tc = tc_message(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL);
    tc->tcm_family = AF_UNSPEC;
    tc->tcm_ifindex = from;
    tc->tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0);
    tc->tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL));
    netlink_put(&r, TCA_KIND, "u32", sizeof "u32");
    struct rtattr *options = netlink_put(&r, TCA_OPTIONS, NULL, 0);
    // A selector with one key, mask 0 and value 0: every frame.
    _Alignas(struct tc_u32_sel) unsigned char match[sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)];
    memset(match, 0, sizeof match);
    struct tc_u32_sel *selector = (struct tc_u32_sel *)match;
    selector->flags = TC_U32_TERMINAL;
    selector->nkeys = 1;
    netlink_put(&r, TCA_U32_SEL, match, sizeof match);
    struct rtattr *actions = netlink_put(&r, TCA_U32_ACT, NULL, 0);
    struct rtattr *first = netlink_put(&r, 1, NULL, 0);
    netlink_put(&r, TCA_ACT_KIND, "mirred", sizeof "mirred");
    struct rtattr *parameters = netlink_put(&r, TCA_ACT_OPTIONS, NULL, 0);
    struct tc_mirred mirred;
    memset(&mirred, 0, sizeof mirred);
    mirred.action = TC_ACT_STOLEN;
    mirred.eaction = TCA_EGRESS_REDIR;
    mirred.ifindex = (unsigned)to;
    if (!netlink_put(&r, TCA_MIRRED_PARMS, &mirred, sizeof mirred)) return -ENOBUFS;
    netlink_nest_end(&r, parameters);
    netlink_nest_end(&r, first);
    netlink_nest_end(&r, actions);
    netlink_nest_end(&r, options);
    return netlink_transact(sock, &r);
}

int isorun_netns_mirror(int netns_fd, int index, int mtu, const char **step) {
    int home;
    *step = "enter the network namespace";
    int rc = netlink_enter_namespace(netns_fd, &home);
    if (rc < 0) return rc;
    // Opened inside: the tap, the ioctl socket and the netlink socket all belong to the
    // container's namespace from here on, whichever namespace the thread is in.
    int tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    int tap_error = errno;
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int sock_error = errno;
    int netlink = netlink_route_socket();
    netlink_leave_namespace(home);
    rc = 0;
    if (tap < 0) { *step = "open /dev/net/tun"; rc = -tap_error; }
    else if (sock < 0) { *step = "socket"; rc = -sock_error; }
    else if (netlink < 0) { *step = "netlink socket"; rc = netlink; }
    if (rc < 0) goto fail;

    struct ifreq request;
    memset(&request, 0, sizeof request);
    // Without IFF_VNET_HDR: frames cross whole (the stack segments and checksums what the
    // redirect hands over), so no offload has to agree between veth, tap and guest.
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    strcpy(request.ifr_name, "isotap%d");
    if (ioctl(tap, TUNSETIFF, &request) < 0) { *step = "TUNSETIFF"; rc = -errno; goto fail; }
    request.ifr_mtu = mtu;
    if (ioctl(sock, SIOCSIFMTU, &request) < 0) { *step = "set the tap's MTU"; rc = -errno; goto fail; }
    if (ioctl(sock, SIOCGIFFLAGS, &request) < 0) { *step = "read the tap's flags"; rc = -errno; goto fail; }
    request.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &request) < 0) { *step = "bring the tap up"; rc = -errno; goto fail; }
    if (ioctl(sock, SIOCGIFINDEX, &request) < 0) { *step = "the tap's index"; rc = -errno; goto fail; }
    int tap_index = request.ifr_ifindex;
    if ((rc = ingress_qdisc(netlink, index, RTM_NEWQDISC)) < 0) { *step = "add an ingress qdisc to the interface"; goto fail; }
    if ((rc = add_redirect(netlink, index, tap_index)) < 0 || (rc = ingress_qdisc(netlink, tap_index, RTM_NEWQDISC)) < 0
        || (rc = add_redirect(netlink, tap_index, index)) < 0) {
        *step = "redirect between the interface and the tap";
        ingress_qdisc(netlink, index, RTM_DELQDISC);
        goto fail;
    }
    close(sock);
    close(netlink);
    return tap;
fail:
    if (tap >= 0) close(tap);
    if (sock >= 0) close(sock);
    if (netlink >= 0) close(netlink);
    return rc;
}

int isorun_netns_unmirror(int netns_fd, const char *name) {
    int home;
    int rc = netlink_enter_namespace(netns_fd, &home);
    if (rc < 0) return rc;
    int netlink = netlink_route_socket();
    unsigned index = if_nametoindex(name);
    int saved = errno;
    netlink_leave_namespace(home);
    if (netlink < 0) return netlink;
    rc = index == 0 ? -saved : ingress_qdisc(netlink, (int)index, RTM_DELQDISC);
    close(netlink);
    return rc;
}
