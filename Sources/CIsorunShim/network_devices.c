// linux.netDevices: a host network interface moved into a container's network namespace
// (renamed on the way when asked), its permanent addresses carried along, and moved back.
// Translation only: which devices, their names and the order are decided in Swift
// (NetworkDevices); each call here is one step on one device.
#include "isorun_shim.h"
#include "netlink_request.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/// A route socket of `netns_fd`'s namespace (-1: the calling thread's own), or -errno.
static int socket_in(int netns_fd) {
    if (netns_fd < 0) return netlink_route_socket();
    int home;
    int rc = netlink_enter_namespace(netns_fd, &home);
    if (rc < 0) return rc;
    int sock = netlink_route_socket();
    netlink_leave_namespace(home);
    return sock;
}

static void keep_index(const struct nlmsghdr *h, void *index) {
    if (h->nlmsg_type == RTM_NEWLINK) *(int *)index = ((const struct ifinfomsg *)NLMSG_DATA(h))->ifi_index;
}

/// The index of `name` in the namespace `sock` belongs to, or -errno (-ENODEV: none).
static int index_of(int sock, const char *name) {
    struct netlink_request r;
    struct ifinfomsg *link = netlink_begin(&r, RTM_GETLINK, 0, sizeof *link);
    r.header.nlmsg_flags &= (unsigned short)~NLM_F_ACK;
    link->ifi_family = AF_UNSPEC;
    netlink_put(&r, IFLA_IFNAME, name, strlen(name) + 1);
    int index = -ENODEV;
    int rc = netlink_exchange(sock, &r, keep_index, &index);
    return rc < 0 ? rc : index;
}

static void keep_name(const struct nlmsghdr *h, void *name) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    const struct ifinfomsg *link = NLMSG_DATA(h);
    int length = (int)IFLA_PAYLOAD(h);
    for (const struct rtattr *a = IFLA_RTA(link); RTA_OK(a, length); a = RTA_NEXT(a, length))
        if (a->rta_type == IFLA_IFNAME) snprintf(name, IF_NAMESIZE, "%s", (const char *)RTA_DATA(a));
}

int isorun_netdev_name(int netns_fd, int index, char name[16]) {
    int sock = socket_in(netns_fd);
    if (sock < 0) return sock;
    struct netlink_request r;
    struct ifinfomsg *link = netlink_begin(&r, RTM_GETLINK, 0, sizeof *link);
    r.header.nlmsg_flags &= (unsigned short)~NLM_F_ACK;
    link->ifi_family = AF_UNSPEC;
    link->ifi_index = index;
    name[0] = 0;
    int rc = netlink_exchange(sock, &r, keep_name, name);
    close(sock);
    return rc < 0 ? rc : name[0] ? 0 : -ENODEV;
}

/// Sets or clears IFF_UP on the interface `index`.
static int set_up(int sock, int index, int up) {
    struct netlink_request r;
    struct ifinfomsg *link = netlink_begin(&r, RTM_NEWLINK, 0, sizeof *link);
    link->ifi_family = AF_UNSPEC;
    link->ifi_index = index;
    link->ifi_change = IFF_UP;
    link->ifi_flags = up ? IFF_UP : 0;
    return netlink_transact(sock, &r);
}

/// Reads one address message into `out` when it is a permanent address of `index` worth
/// carrying: not an IPv6 link-local one, which the kernel derives again when the device
/// comes up. 1 when taken, 0 when not.
static int take_address(const struct nlmsghdr *h, int index, struct isorun_netdev_address *out) {
    const struct ifaddrmsg *message = NLMSG_DATA(h);
    if ((int)message->ifa_index != index) return 0;
    if (message->ifa_family != AF_INET && message->ifa_family != AF_INET6) return 0;
    unsigned flags = message->ifa_flags;
    const unsigned char *local = NULL, *address = NULL;
    int length = (int)IFA_PAYLOAD(h);
    for (const struct rtattr *a = IFA_RTA(message); RTA_OK(a, length); a = RTA_NEXT(a, length)) {
        if (a->rta_type == IFA_LOCAL) local = RTA_DATA(a);
        else if (a->rta_type == IFA_ADDRESS) address = RTA_DATA(a);
        else if (a->rta_type == IFA_FLAGS) memcpy(&flags, RTA_DATA(a), sizeof flags);
    }
    if (!(flags & IFA_F_PERMANENT) || (!local && !address)) return 0;
    size_t size = message->ifa_family == AF_INET ? 4 : 16;
    memset(out, 0, sizeof *out);
    out->family = message->ifa_family;
    out->prefix = message->ifa_prefixlen;
    out->scope = message->ifa_scope;
    memcpy(out->local, local ? local : address, size);
    if (local && address && memcmp(local, address, size) != 0) {
        memcpy(out->peer, address, size);
        out->has_peer = 1;
    }
    if (out->family == AF_INET6 && out->local[0] == 0xfe && (out->local[1] & 0xc0) == 0x80) return 0;
    return 1;
}

struct address_list {
    int index;
    struct isorun_netdev_address *out;
    int max, count;
};

static void keep_address(const struct nlmsghdr *h, void *context) {
    struct address_list *list = context;
    if (h->nlmsg_type == RTM_NEWADDR && list->count < list->max && take_address(h, list->index, &list->out[list->count]))
        list->count++;
}

int isorun_netdev_addresses(int netns_fd, const char *name, struct isorun_netdev_address *out, int max) {
    int sock = socket_in(netns_fd);
    if (sock < 0) return sock;
    int index = index_of(sock, name);
    if (index < 0) {
        close(sock);
        return index;
    }
    struct netlink_request r;
    struct ifaddrmsg *request = netlink_begin(&r, RTM_GETADDR, NLM_F_DUMP, sizeof *request);
    request->ifa_family = AF_UNSPEC;
    struct address_list list = { index, out, max, 0 };
    int rc = netlink_exchange(sock, &r, keep_address, &list);
    close(sock);
    return rc < 0 ? rc : list.count;
}

int isorun_netdev_move(int from_netns_fd, const char *name, int to_netns_fd, const char *new_name, const char **step) {
    // The kernel moves first and renames after: a name taken in the target fails the
    // rename with the device already there under its old name. So the name is checked
    // here, and a move that fails anyway is undone below.
    *step = "open a netlink socket in the target network namespace";
    int target = socket_in(to_netns_fd);
    if (target < 0) return target;
    int taken = index_of(target, new_name);
    if (taken >= 0 || taken != -ENODEV) {
        close(target);
        *step = "check the name in the target network namespace";
        return taken >= 0 ? -EEXIST : taken;
    }
    // Only a device the move itself left there can be found under `name` afterwards.
    int name_free_in_target = strcmp(name, new_name) == 0 || index_of(target, name) == -ENODEV;
    *step = "open a netlink socket in the device's network namespace";
    int sock = socket_in(from_netns_fd);
    if (sock < 0) {
        close(target);
        return sock;
    }
    *step = "find the device";
    int rc = index_of(sock, name);
    if (rc >= 0) {
        int index = rc;
        // Down first: the kernel closes a device it moves anyway, and one that comes back
        // to the host must not be up with addresses another device may now use.
        *step = "set the device down";
        rc = set_up(sock, index, 0);
        if (rc >= 0) {
            struct netlink_request r;
            struct ifinfomsg *link = netlink_begin(&r, RTM_NEWLINK, 0, sizeof *link);
            link->ifi_family = AF_UNSPEC;
            link->ifi_index = index;
            uint32_t namespace = (uint32_t)to_netns_fd;
            netlink_put(&r, IFLA_NET_NS_FD, &namespace, sizeof namespace);
            netlink_put(&r, IFLA_IFNAME, new_name, strlen(new_name) + 1);
            *step = "move the device to the other network namespace";
            rc = netlink_transact(sock, &r);
            int stranded = rc < 0 && name_free_in_target ? index_of(target, name) : -1;
            int home = stranded < 0 ? -1 : from_netns_fd >= 0 ? from_netns_fd : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
            if (home >= 0) {
                // Moved but not renamed: back where it came from, under its own name.
                uint32_t back = (uint32_t)home;
                link = netlink_begin(&r, RTM_NEWLINK, 0, sizeof *link);
                link->ifi_family = AF_UNSPEC;
                link->ifi_index = stranded;
                netlink_put(&r, IFLA_NET_NS_FD, &back, sizeof back);
                netlink_transact(target, &r);
                if (from_netns_fd < 0) close(home);
            }
        }
    }
    close(sock);
    close(target);
    return rc;
}

int isorun_netdev_configure(int netns_fd, const char *name, const struct isorun_netdev_address *addresses, int count,
                            int up, const char **step) {
    *step = "open a netlink socket in the device's network namespace";
    int sock = socket_in(netns_fd);
    if (sock < 0) return sock;
    *step = "find the device";
    int rc = index_of(sock, name);
    int index = rc;
    for (int i = 0; rc >= 0 && i < count; i++) {
        const struct isorun_netdev_address *a = &addresses[i];
        size_t size = a->family == AF_INET ? 4 : 16;
        struct netlink_request r;
        struct ifaddrmsg *message = netlink_begin(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof *message);
        message->ifa_family = (unsigned char)a->family;
        message->ifa_prefixlen = (unsigned char)a->prefix;
        message->ifa_scope = (unsigned char)a->scope;
        message->ifa_index = (unsigned)index;
        // IFA_LOCAL is the interface's own address, IFA_ADDRESS its peer's on a
        // point-to-point link, and the same address otherwise.
        netlink_put(&r, IFA_LOCAL, a->local, size);
        netlink_put(&r, IFA_ADDRESS, a->has_peer ? a->peer : a->local, size);
        *step = "add an address";
        rc = netlink_transact(sock, &r);
    }
    if (rc >= 0 && up) {
        *step = "set the device up";
        rc = set_up(sock, index, 1);
    }
    close(sock);
    return rc < 0 ? rc : index;
}
