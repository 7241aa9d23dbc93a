// Small rtnetlink helpers shared by network_mirror.c and network_devices.c: private to the shim.
#ifndef ISORUN_NETLINK_REQUEST_H
#define ISORUN_NETLINK_REQUEST_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stddef.h>

/// A netlink request under construction: the header, a family header, then attributes.
struct netlink_request {
    union {
        struct nlmsghdr header;
        char bytes[512];
    };
};

/// Starts `r` as a request of `type` with `flags` (NLM_F_REQUEST and NLM_F_ACK added) and a
/// zeroed family header of `family_size` bytes, which it returns.
void *netlink_begin(struct netlink_request *r, int type, int flags, size_t family_size);
/// Appends an attribute (a nest when `data` is NULL and `length` 0, closed by
/// netlink_nest_end); NULL when it does not fit.
struct rtattr *netlink_put(struct netlink_request *r, unsigned short type, const void *data, size_t length);
void netlink_nest_end(struct netlink_request *r, struct rtattr *nest);
/// Sends `r` and reads the kernel's answers up to the end of the exchange (its
/// acknowledgement, the end of a dump, or a GET's one answer), handing each data message
/// to `on_message` (may be NULL). 0, or -errno from the kernel or the socket.
int netlink_exchange(int sock, struct netlink_request *r, void (*on_message)(const struct nlmsghdr *, void *),
                     void *context);
/// Sends `r` and reads the kernel's acknowledgement: 0 or -errno.
int netlink_transact(int sock, struct netlink_request *r);
/// A bound NETLINK_ROUTE socket of the calling thread's network namespace, or -errno.
int netlink_route_socket(void);

/// Moves the calling thread into `netns_fd`; `*home` keeps the namespace to return to.
int netlink_enter_namespace(int netns_fd, int *home);
/// Back to where `netlink_enter_namespace` came from (aborts if it cannot: a thread left in
/// a container's namespace would make every later socket of isorun's there).
void netlink_leave_namespace(int home);

#endif
