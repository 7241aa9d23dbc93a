// Receiving a descriptor that another process passed over a UNIX socket (SCM_RIGHTS), as
// isorun_send_fd sends it: private to the shim.
#ifndef ISORUN_FD_PASSING_H
#define ISORUN_FD_PASSING_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

/// Receives one message into `payload` (its length in `*length`, -1 on error, 0 at EOF)
/// and returns the descriptor it carried (close-on-exec), or -1 when it carried none.
static inline int isorun_receive_fd(int socket, void *payload, size_t size, ssize_t *length) {
    char control[CMSG_SPACE(sizeof(int))];
    struct iovec data = { payload, size };
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n;
    do { n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    *length = n;
    struct cmsghdr *header = n > 0 ? CMSG_FIRSTHDR(&message) : NULL;
    if (header == NULL || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(header), sizeof fd);
    return fd;
}

#endif
