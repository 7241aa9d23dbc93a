// A container's cgroup v1 directories made by the network namespace's helper while the
// container's child makes its mounts (see cgroup_job.h for the protocol).
//
// Why: isorun made them itself before cloning the child, ~0.25 ms of mkdirs and writes on
// the one path every start waits for, while the other CPU idled. isorun sends the helper
// the job as soon as the run is recorded and goes on; the helper starts on it once the
// namespace is made, and the child picks up the result (the `tasks` files, open) just
// before the first mount that shows a cgroup.
#include "isorun_shim.h"
#include "cgroup_job.h"
#include "fd_passing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { JOB_MAX = 64 * 1024 };
_Static_assert(ISORUN_CGROUP_JOB_MAX_BYTES <= JOB_MAX, "every job isorun sends fits the helper's buffer");
_Static_assert(ISORUN_CGROUP_JOB_MAX_TASK_FILES <= ISORUN_MAX_PASSED_FDS, "the child receives every tasks file");

/// The NUL-terminated string at `*at`, moved past; NULL when the job ends inside it.
static const char *next_string(const char **at, const char *end) {
    const char *start = *at;
    const char *nul = memchr(start, '\0', (size_t)(end - start));
    if (nul == NULL) return NULL;
    *at = nul + 1;
    return start;
}

static int write_value(int fd, const char *value) {
    size_t length = strlen(value);
    ssize_t n;
    do { n = write(fd, value, length); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    return (size_t)n == length ? 0 : -EIO;
}

/// Carries out the steps in order until one fails; the `tasks` files go into `fds`.
static struct isorun_cgroup_job_reply run_steps(const char *job, size_t length, int *fds, int *fd_count) {
    struct isorun_cgroup_job_reply reply = { -1, 0 };
    const char *at = job, *end = job + length;
    for (int32_t step = 0; at < end; step++) {
        if (end - at < 2) return (struct isorun_cgroup_job_reply){ step, EPROTO };
        char kind = at[0];
        int values = (unsigned char)at[1];
        at += 2;
        const char *path = next_string(&at, end);
        if (path == NULL) return (struct isorun_cgroup_job_reply){ step, EPROTO };
        int rc = 0;
        switch (kind) {
        case ISORUN_CGROUP_STEP_MKDIR:
            if (mkdir(path, 0755) < 0 && errno != EEXIST) rc = -errno;
            break;
        case ISORUN_CGROUP_STEP_WRITE: {
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0) { rc = -errno; break; }
            for (int i = 0; i < values && rc == 0; i++) {
                const char *value = next_string(&at, end);
                rc = value == NULL ? -EPROTO : write_value(fd, value);
            }
            close(fd);
            values = 0;
            break;
        }
        case ISORUN_CGROUP_STEP_OPEN_TASKS: {
            if (*fd_count >= ISORUN_CGROUP_JOB_MAX_TASK_FILES) { rc = -E2BIG; break; }
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0) rc = -errno;
            else fds[(*fd_count)++] = fd;
            break;
        }
        default:
            rc = -EPROTO;
        }
        if (rc == 0 && values != 0) rc = -EPROTO;
        if (rc < 0) return (struct isorun_cgroup_job_reply){ step, -rc };
    }
    return reply;
}

int isorun_cgroup_job_send(int sock, const void *job, size_t length) {
    ssize_t n;
    do { n = send(sock, job, length, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    return (size_t)n == length ? 0 : -EMSGSIZE;
}

void isorun_cgroup_job_serve(int sock) {
    char job[JOB_MAX];
    ssize_t n;
    do { n = recv(sock, job, sizeof job, MSG_TRUNC); } while (n < 0 && errno == EINTR);
    if (n <= 0) return;  // isorun closed its end: no job
    int fds[ISORUN_CGROUP_JOB_MAX_TASK_FILES];
    int fd_count = 0;
    struct isorun_cgroup_job_reply reply = (size_t)n > sizeof job
        ? (struct isorun_cgroup_job_reply){ 0, EMSGSIZE }
        : run_steps(job, (size_t)n, fds, &fd_count);

    struct iovec data = { &reply, sizeof reply };
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    char control[CMSG_SPACE(sizeof(int) * ISORUN_CGROUP_JOB_MAX_TASK_FILES)];
    if (reply.error == 0 && fd_count > 0) {
        message.msg_control = control;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)fd_count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)fd_count);
        memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)fd_count);
    }
    while (sendmsg(sock, &message, MSG_NOSIGNAL) < 0 && errno == EINTR) {}
    for (int i = 0; i < fd_count; i++) close(fds[i]);
}

int isorun_cgroup_job_collect(int sock, struct isorun_cgroup_job_reply *reply, int *fds, int *fd_count) {
    ssize_t length;
    *fd_count = isorun_receive_fds(sock, reply, sizeof *reply, &length, fds, ISORUN_CGROUP_JOB_MAX_TASK_FILES);
    if (length < 0) return -errno;
    // EOF: the helper died before it answered.
    return length == (ssize_t)sizeof *reply ? 0 : -EPIPE;
}
