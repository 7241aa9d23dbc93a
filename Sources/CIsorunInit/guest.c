#define _GNU_SOURCE
#include "isorun_guest.h"

#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/reboot.h>
#include <unistd.h>

void isorun_guest_restart(void) {
    sync();
    reboot(RB_AUTOBOOT);
}

void isorun_guest_debug_exit(unsigned char status) {
    if (ioperm(0xf4, 1, 1) != 0) return;
    outb(status, 0xf4);
}

int isorun_guest_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &request);
    if (rc == 0) {
        request.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &request);
    }
    close(fd);
    return rc;
}

int isorun_guest_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

__attribute__((noreturn)) static void spawn_fail(int report_fd, int step) {
    int report[2] = { step, errno };
    (void)!write(report_fd, report, sizeof report);
    _exit(127);
}

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

int isorun_guest_open_pty(unsigned short rows, unsigned short columns, int *replica) {
    int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return -1;
    int unlock = 0;
    struct winsize size = { rows, columns, 0, 0 };
    int peer = -1;
    if (ioctl(master, TIOCSPTLCK, &unlock) != 0 || ((rows || columns) && ioctl(master, TIOCSWINSZ, &size) != 0)
        || (peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
        int saved = errno;
        close(master);
        errno = saved;
        return -1;
    }
    *replica = peer;
    return master;
}

void isorun_guest_set_window_size(int master, unsigned short rows, unsigned short columns) {
    struct winsize size = { rows, columns, 0, 0 };
    ioctl(master, TIOCSWINSZ, &size);
}

int isorun_guest_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int isorun_guest_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int isorun_guest_memory_file(const void *contents, size_t length) {
    int fd = memfd_create("isorun", MFD_CLOEXEC);
    if (fd < 0) return -1;
    const char *p = contents;
    size_t left = length;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int saved = errno; close(fd); errno = saved; return -1; }
        p += n;
        left -= (size_t)n;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) { int saved = errno; close(fd); errno = saved; return -1; }
    return fd;
}

static int load_seccomp_filter(const struct isorun_guest_process *p) {
    struct sock_fprog program = { (unsigned short)p->seccomp_instruction_count, (struct sock_filter *)p->seccomp_program };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &program);
}

/// Needs CAP_SETPCAP, so it runs while the process is still root with every capability.
static int drop_bounding_capabilities(uint64_t keep) {
    for (int cap = 0; cap < 64; cap++) {
        if (keep & (UINT64_C(1) << cap)) continue;
        if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return -1;
    }
    return 0;
}

static int set_capabilities(const struct isorun_guest_process *p) {
    struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2] = {
        { (uint32_t)p->cap_effective, (uint32_t)p->cap_permitted, (uint32_t)p->cap_inheritable },
        { (uint32_t)(p->cap_effective >> 32), (uint32_t)(p->cap_permitted >> 32), (uint32_t)(p->cap_inheritable >> 32) },
    };
    if (syscall(SYS_capset, &header, data) != 0) return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -1;
    for (int cap = 0; cap < 64; cap++)
        if ((p->cap_ambient & (UINT64_C(1) << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0)
            return -1;
    return 0;
}

/// sched_setattr(2), which musl and glibc leave unwrapped; its attribute block as the
/// kernel reads it, up to the utilization clamps (full range: the spec gives no values).
static int set_scheduler(const struct isorun_guest_process *p) {
    struct { uint32_t size, policy; uint64_t flags; int32_t nice; uint32_t priority;
             uint64_t runtime, deadline, period; uint32_t util_min, util_max; } attributes = {
        sizeof attributes, p->sched_policy, p->sched_flags, p->sched_nice, p->sched_priority,
        p->sched_runtime, p->sched_deadline, p->sched_period, 0, 1024,
    };
    return (int)syscall(SYS_sched_setattr, 0, &attributes, 0U);
}

static int write_oom_score(const char *score) {
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(score);
    int ok = write(fd, score, length) == (ssize_t)length;
    close(fd);
    return ok ? 0 : -1;
}

/// Set once init has a time namespace waiting for its children: the kernel refuses
/// CLONE_VM children then (EINVAL), so they are forked instead of vforked.
static int time_namespace_pending;

pid_t isorun_guest_spawn(const struct isorun_guest_process *p, int *step, int *err) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) { *step = ISORUN_GUEST_STEP_EXEC; *err = errno; return -1; }
    pid_t pid = time_namespace_pending ? fork() : vfork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        dup2(p->stdin_fd >= 0 ? p->stdin_fd : null_fd, 0);
        dup2(p->stdout_fd >= 0 ? p->stdout_fd : null_fd, 1);
        dup2(p->stderr_fd >= 0 ? p->stderr_fd : null_fd, 2);
        setsid();
        // With a terminal as stdin (process.terminal), it becomes the controlling one.
        if (isatty(0)) ioctl(0, TIOCSCTTY, 0);
        for (int i = 0; i < p->rlimit_count; i++) setrlimit(p->rlimit_resources[i], &p->rlimits[i]);
        if (p->umask >= 0) umask((mode_t)p->umask);
        if (p->oom_score_adj && write_oom_score(p->oom_score_adj) != 0) spawn_fail(report[1], ISORUN_GUEST_STEP_OOM_SCORE);
        if (p->io_priority >= 0 && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, p->io_priority) != 0)
            spawn_fail(report[1], ISORUN_GUEST_STEP_IO_PRIORITY);
        if (p->set_scheduler && set_scheduler(p) != 0) spawn_fail(report[1], ISORUN_GUEST_STEP_SCHEDULER);
        // The same order as the sandbox's C shim (spawn.c), so a bundle behaves the same.
        if (p->seccomp_program && !p->no_new_privs && load_seccomp_filter(p) != 0)
            spawn_fail(report[1], ISORUN_GUEST_STEP_SECCOMP);
        if (p->set_caps && (drop_bounding_capabilities(p->cap_bounding) != 0 || prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0))
            spawn_fail(report[1], ISORUN_GUEST_STEP_CAPABILITIES);
        if (setgroups(p->group_count, p->groups) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0)
            spawn_fail(report[1], ISORUN_GUEST_STEP_CREDENTIALS);
        if (chdir(p->cwd) != 0) spawn_fail(report[1], ISORUN_GUEST_STEP_CHDIR);
        if (p->set_caps && (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0 || set_capabilities(p) != 0))
            spawn_fail(report[1], ISORUN_GUEST_STEP_CAPABILITIES);
        if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            spawn_fail(report[1], ISORUN_GUEST_STEP_NO_NEW_PRIVS);
        if (p->seccomp_program && p->no_new_privs && load_seccomp_filter(p) != 0)
            spawn_fail(report[1], ISORUN_GUEST_STEP_SECCOMP);
        int first = ENOENT;
        for (int i = 0; i < p->candidate_count; i++) {
            execve(p->candidates[i], p->argv, p->envp);
            if (errno != ENOENT && errno != ENOTDIR && first == ENOENT) first = errno;
        }
        errno = first;
        spawn_fail(report[1], ISORUN_GUEST_STEP_EXEC);
    }
    int saved = errno;
    close(report[1]);
    if (pid < 0) { close(report[0]); *step = ISORUN_GUEST_STEP_EXEC; *err = saved; return -1; }
    int failure[2];
    ssize_t n;
    do { n = read(report[0], failure, sizeof failure); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof failure) {
        waitpid(pid, NULL, 0);
        *step = failure[0];
        *err = failure[1];
        return -1;
    }
    return pid;
}

int isorun_guest_load_module(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = (int)syscall(SYS_finit_module, fd, "", 0);
    int saved = errno;
    close(fd);
    if (rc != 0 && saved == EEXIST) return 0;
    errno = saved;
    return rc;
}

/// mkdir -p of `path`'s parents (and of `path` itself unless `leaf_is_file`, which gets
/// an empty file): the mount point of a bind the image did not have.
static int make_mount_point(const char *path, int leaf_is_file) {
    struct stat info;
    // Present already: nothing to make, which a read-only root would refuse anyway.
    if (stat(path, &info) == 0) return 0;
    char buffer[4096];
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof buffer) { errno = ENAMETOOLONG; return -1; }
    memcpy(buffer, path, length + 1);
    for (char *slash = strchr(buffer + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (stat(buffer, &info) != 0 && mkdir(buffer, 0755) != 0 && errno != EEXIST) return -1;
        *slash = '/';
    }
    if (!leaf_is_file) return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

int isorun_guest_bind(const char *source, const char *target, int target_is_file, unsigned long flags,
                      const char **failed_step) {
    if (make_mount_point(target, target_is_file) != 0) { *failed_step = "create mount point"; return -1; }
    if (mount(source, target, NULL, MS_BIND | MS_REC, NULL) != 0) { *failed_step = "bind"; return -1; }
    if (flags && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | flags, NULL) != 0) {
        *failed_step = "remount";
        return -1;
    }
    return 0;
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int isorun_guest_unshare_time(const char *offsets) {
    if (unshare(CLONE_NEWTIME) < 0) return -1;
    time_namespace_pending = 1;
    size_t length = strlen(offsets);
    if (length == 0) return 0;
    // The offsets can be set only until the first process enters the namespace: now.
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t written = write(fd, offsets, length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)length ? 0 : -1;
}
