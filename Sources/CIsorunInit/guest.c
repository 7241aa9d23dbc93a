#include "isorun_guest.h"

#include <net/if.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
