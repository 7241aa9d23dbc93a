// rtnetlink requests and namespace switching, shared by the shim's network code.
#include "netlink_request.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void *netlink_begin(struct netlink_request *r, int type, int flags, size_t family_size) {
    memset(r, 0, sizeof *r);
    r->header.nlmsg_type = (unsigned short)type;
    r->header.nlmsg_flags = (unsigned short)(NLM_F_REQUEST | NLM_F_ACK | flags);
    r->header.nlmsg_len = (unsigned)NLMSG_LENGTH(family_size);
    return NLMSG_DATA(&r->header);
}

struct rtattr *netlink_put(struct netlink_request *r, unsigned short type, const void *data, size_t length) {
    size_t offset = NLMSG_ALIGN(r->header.nlmsg_len);
    if (offset + RTA_SPACE(length) > sizeof r->bytes) return NULL;
    struct rtattr *attribute = (struct rtattr *)(r->bytes + offset);
    attribute->rta_type = type;
    attribute->rta_len = (unsigned short)RTA_LENGTH(length);
    if (length) memcpy(RTA_DATA(attribute), data, length);
    r->header.nlmsg_len = (unsigned)(offset + RTA_SPACE(length));
    return attribute;
}

void netlink_nest_end(struct netlink_request *r, struct rtattr *nest) {
    nest->rta_len = (unsigned short)(r->bytes + r->header.nlmsg_len - (char *)nest);
}

int netlink_exchange(int sock, struct netlink_request *r, void (*on_message)(const struct nlmsghdr *, void *),
                     void *context) {
    static unsigned sequence;
    r->header.nlmsg_seq = ++sequence;
    if (send(sock, r, r->header.nlmsg_len, 0) < 0) return -errno;
    // A dump ends with NLMSG_DONE, anything else with its NLMSG_ERROR (0: the ack), or
    // for a GET without NLM_F_ACK with its one answer.
    int one_answer = !(r->header.nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP));
    char answer[8192];
    for (;;) {
        ssize_t n = recv(sock, answer, sizeof answer, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        for (struct nlmsghdr *h = (struct nlmsghdr *)answer; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != r->header.nlmsg_seq) continue;
            if (h->nlmsg_type == NLMSG_ERROR) return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
            if (h->nlmsg_type == NLMSG_DONE) return 0;
            if (on_message) on_message(h, context);
            if (one_answer) return 0;
        }
    }
}

int netlink_transact(int sock, struct netlink_request *r) { return netlink_exchange(sock, r, NULL, NULL); }

int netlink_route_socket(void) {
    int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) return -errno;
    struct sockaddr_nl address = { .nl_family = AF_NETLINK };
    if (bind(sock, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        close(sock);
        return -saved;
    }
    return sock;
}

int netlink_enter_namespace(int netns_fd, int *home) {
    *home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (*home < 0) return -errno;
    if (setns(netns_fd, CLONE_NEWNET) < 0) {
        int saved = errno;
        close(*home);
        return -saved;
    }
    return 0;
}

void netlink_leave_namespace(int home) {
    if (setns(home, CLONE_NEWNET) < 0) abort();
    close(home);
}
