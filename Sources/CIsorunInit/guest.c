#define _GNU_SOURCE
#include "isorun_guest.h"

#include <net/if.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

// PID 1 starts with nothing mounted, but the static Swift runtime reads
// /proc/self/exe while it initialises (and aborts without it). This runs before
// the runtime's own constructors (priority 101 is the earliest user priority).
__attribute__((constructor(101))) static void isorun_guest_mount_proc_early(void) {
    if (getpid() != 1 || access("/proc/self/exe", F_OK) == 0) return;
    mkdir("/proc", 0555);
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
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

pid_t isorun_guest_spawn(const struct isorun_guest_process *p, int *step, int *err) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) { *step = ISORUN_GUEST_STEP_EXEC; *err = errno; return -1; }
    pid_t pid = vfork();
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDWR);
        dup2(p->stdin_fd >= 0 ? p->stdin_fd : null_fd, 0);
        dup2(p->stdout_fd >= 0 ? p->stdout_fd : null_fd, 1);
        dup2(p->stderr_fd >= 0 ? p->stderr_fd : null_fd, 2);
        setsid();
        for (int i = 0; i < p->rlimit_count; i++) setrlimit(p->rlimit_resources[i], &p->rlimits[i]);
        if (setgroups(p->group_count, p->groups) != 0 || setgid(p->gid) != 0 || setuid(p->uid) != 0)
            spawn_fail(report[1], ISORUN_GUEST_STEP_CREDENTIALS);
        if (chdir(p->cwd) != 0) spawn_fail(report[1], ISORUN_GUEST_STEP_CHDIR);
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
