// A network namespace made on a thread of its own, so that the kernel's ~0.6 ms of work
// creating one runs on another CPU while isorun reads the bundle (NetworkNamespaceHeadStart).
#include "isorun_shim.h"
#include "affinity.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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

// unshare() moves only the calling thread; the thread then ends and the descriptor
// is all that keeps the namespace alive.
static void *prepare(void *argument) {
    struct isorun_network_namespace *ns = argument;
    if (unshare(CLONE_NEWNET) < 0) {
        ns->result = -errno;
        return NULL;
    }
    int rc = isorun_loopback_up();
    if (rc < 0) {
        ns->result = rc;
        return NULL;
    }
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ns->result = fd < 0 ? -errno : fd;
    return NULL;
}

// The head start is only worth having on another CPU. Left to itself the scheduler often
// queues a new thread on its creator's CPU (when the other is busy for a moment, e.g. with
// the previous container's teardown), and then the thread runs only once the creator
// waits for it: measured here in a third of sandbox starts, 0.5-0.8 ms each. So the
// thread may run anywhere the caller may except the CPU the caller is on, when there is
// such a CPU.
static void away_from_this_cpu(pthread_attr_t *attributes) {
    cpu_set_t allowed, elsewhere;
    if (isorun_cpus_elsewhere(&allowed, &elsewhere)) pthread_attr_setaffinity_np(attributes, sizeof elsewhere, &elsewhere);
}

int isorun_network_namespace_start(struct isorun_network_namespace *ns) {
    ns->result = -EAGAIN;
    // The thread takes no signals: isorun's handlers belong to the thread that waits.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attributes;
    int rc = pthread_attr_init(&attributes);
    if (rc == 0) {
        away_from_this_cpu(&attributes);
        rc = pthread_create(&ns->thread, &attributes, prepare, ns);
        pthread_attr_destroy(&attributes);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -rc;
}

int isorun_network_namespace_finish(struct isorun_network_namespace *ns) {
    pthread_join(ns->thread, NULL);
    return ns->result;
}
