// Receiving a descriptor that another process passed over a UNIX socket (SCM_RIGHTS), as
// isorun_send_fd sends it: private to the shim.
#ifndef ISORUN_FD_PASSING_H
#define ISORUN_FD_PASSING_H

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

enum { ISORUN_MAX_PASSED_FDS = 16 };

/// Receives one message into `payload` (its length in `*length`, -1 on error, 0 at EOF)
/// and the descriptors it carried (close-on-exec), up to `max` (at most
/// ISORUN_MAX_PASSED_FDS) into `fds`: how many.
static inline int isorun_receive_fds(int socket, void *payload, size_t size, ssize_t *length, int *fds, int max) {
    char control[CMSG_SPACE(sizeof(int) * ISORUN_MAX_PASSED_FDS)];
    if (max > ISORUN_MAX_PASSED_FDS) max = ISORUN_MAX_PASSED_FDS;
    struct iovec data = { payload, size };
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)max);
    ssize_t n;
    do { n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    *length = n;
    struct cmsghdr *header = n > 0 ? CMSG_FIRSTHDR(&message) : NULL;
    if (header == NULL || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) return 0;
    int count = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (count > max) count = max;
    memcpy(fds, CMSG_DATA(header), sizeof(int) * (size_t)count);
    return count;
}

/// Receives one message into `payload` (its length in `*length`, -1 on error, 0 at EOF)
/// and returns the descriptor it carried (close-on-exec), or -1 when it carried none.
static inline int isorun_receive_fd(int socket, void *payload, size_t size, ssize_t *length) {
    int fd;
    return isorun_receive_fds(socket, payload, size, length, &fd, 1) == 1 ? fd : -1;
}

#endif
