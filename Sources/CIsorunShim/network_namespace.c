// A network namespace made by a helper process of its own, so that the kernel's ~0.6 ms of
// work creating one runs on another CPU while isorun reads the bundle
// (NetworkNamespaceHeadStart).
//
// Why a forked process and not a thread: while a thread of isorun runs on the other CPU,
// every copy-on-write fault of the main thread (the Swift runtime filling its metadata
// caches as config.json is decoded, ~25 per run) must flush that CPU's TLB with an IPI,
// which is dear under a hypervisor: 0.27 ms of the main thread's CPU per run here. A
// process has its own address space, so the main thread's faults stay local.
#include "isorun_shim.h"
#include "affinity.h"
#include "cgroup_job.h"
#include "fd_passing.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int isorun_loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = 0;
    if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
        rc = -errno;
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) rc = -errno;
    }
    close(sock);
    return rc;
}

// The helper: makes the namespace, brings `lo` up, and sends the namespace's descriptor
// (or -errno) to isorun; the descriptor in flight keeps the namespace alive after the
// helper exits. Then it waits for a container's cgroup job (cgroup_job.c), or for isorun
// to close its end. Only system calls here: the helper is a copy of a process that may
// have had other threads, whose locks it would find taken.
__attribute__((noreturn)) static void helper_main(int sock) {
    int result = unshare(CLONE_NEWNET) < 0 ? -errno : isorun_loopback_up();
    int fd = result < 0 ? -1 : open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (result == 0 && fd < 0) result = -errno;
    if (fd >= 0) {
        isorun_send_fd(sock, fd, "netns");
        close(fd);
        isorun_cgroup_job_serve(sock);
    } else {
        (void)!send(sock, &result, sizeof result, MSG_NOSIGNAL);
    }
    _exit(0);
}

int isorun_network_namespace_start(struct isorun_network_namespace *ns) {
    ns->pid = 0;
    ns->socket = -1;
    ns->result = -EAGAIN;
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0) return -errno;
    // No signal handler of isorun's may run in the helper; it keeps them all blocked.
    // A raw clone, so glibc's fork handlers do not run either. No exit signal: the helper
    // wakes no SIGCHLD handler, and only isorun_network_namespace_release reaps it.
    sigset_t all, old;
    sigfillset(&all);
    // The helper runs on another CPU than isorun's where there is one. The scheduler
    // tends to put a new task on its creator's CPU; then either the helper waits in the
    // queue until isorun blocks (isorun started by vfork, as hyperfine, Go and Python
    // start it) or it preempts isorun, which waits out its ~0.6 ms unshare (started by a
    // shell's fork): 0.5-0.8 ms lost in a third to two thirds of sandbox starts. So isorun
    // moves it out of the queue, and the helper moves itself if it ran first (0.49 ms off
    // the median of 300 interleaved shell-started runs; no change when vfork-started).
    cpu_set_t allowed, elsewhere;
    int away = isorun_cpus_elsewhere(&allowed, &elsewhere);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t parent = getpid();
    long pid = syscall(SYS_clone, 0L, NULL, NULL, NULL, NULL);
    if (pid == 0) {
        // It dies with isorun: a helper still making a killed run's cgroup would race the
        // next run, which removes what the killed run recorded (and left a directory the
        // removal had passed, 2 of 60 runs killed mid-start).
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != parent) _exit(0);
        if (away) sched_setaffinity(0, sizeof elsewhere, &elsewhere);
        close(pair[0]);
        helper_main(pair[1]);
    }
    int saved = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(pair[1]);
    if (pid < 0) {
        close(pair[0]);
        return -saved;
    }
    if (away) sched_setaffinity((pid_t)pid, sizeof elsewhere, &elsewhere);
    ns->pid = (pid_t)pid;
    ns->socket = pair[0];
    return 0;
}

int isorun_network_namespace_finish(struct isorun_network_namespace *ns) {
    if (ns->result != -EAGAIN || ns->socket < 0) return ns->result;
    int reported = -EPIPE;
    ssize_t length;
    char payload[16];
    int fd = isorun_receive_fd(ns->socket, payload, sizeof payload, &length);
    if (fd < 0 && length == sizeof reported) memcpy(&reported, payload, sizeof reported);
    ns->result = fd >= 0 ? fd : reported < 0 ? reported : -EPROTO;
    if (fd < 0) isorun_network_namespace_dismiss(ns);
    return ns->result;
}

void isorun_network_namespace_dismiss(struct isorun_network_namespace *ns) {
    if (ns->socket < 0) return;
    close(ns->socket);
    ns->socket = -1;
}

void isorun_network_namespace_release(struct isorun_network_namespace *ns) {
    isorun_network_namespace_dismiss(ns);
    if (ns->pid <= 0) return;
    while (waitpid(ns->pid, NULL, __WALL) < 0 && errno == EINTR) {}
    ns->pid = 0;
}
