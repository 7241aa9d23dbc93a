// Pseudo-terminals and descriptor passing for `create` and `exec --console-socket`.
#include "isorun_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

// The multiplexer at dev/ptmx beneath `root`, as the container resolves it: its symlinks
// cannot leave the directory (RESOLVE_IN_ROOT), and the file is opened read-write only
// once it is known to be a multiplexer (char 5:2), so that an image's /dev/ptmx pointing
// at some other device node cannot make isorun open that device on the host.
static int open_multiplexer_beneath(const char *root) {
    int directory = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (directory < 0) return -errno;
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    int found = (int)syscall(SYS_openat2, directory, "dev/ptmx", &how, sizeof how);
    int saved = errno;
    close(directory);
    if (found < 0) return -saved;
    struct stat status;
    if (fstat(found, &status) < 0 || !S_ISCHR(status.st_mode) || major(status.st_rdev) != 5 || minor(status.st_rdev) != 2) {
        close(found);
        return -ENXIO;
    }
    char reopen[64];
    snprintf(reopen, sizeof reopen, "/proc/self/fd/%d", found);
    int master = open(reopen, O_RDWR | O_NOCTTY | O_CLOEXEC);
    saved = errno;
    close(found);
    return master < 0 ? -saved : master;
}

int isorun_open_pty(const char *root, unsigned short rows, unsigned short columns, int *replica, char *replica_path,
                    size_t path_size) {
    int master = root ? open_multiplexer_beneath(root) : open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return root ? master : -errno;
    int unlock = 0, number = -1;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &number) < 0) {
        int saved = errno;
        close(master);
        return -saved;
    }
    if (rows > 0 && columns > 0) {
        struct winsize size = { .ws_row = rows, .ws_col = columns };
        ioctl(master, TIOCSWINSZ, &size);
    }
    // The replica opened through the master (TIOCGPTPEER) is the one paired with it
    // even if /dev/pts is not the devpts instance ptmx belongs to.
    int fd = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        close(master);
        return -saved;
    }
    *replica = fd;
    snprintf(replica_path, path_size, "/dev/pts/%d", number);
    return master;
}

int isorun_window_size(int fd, unsigned short *rows, unsigned short *columns) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) < 0) return -errno;
    *rows = size.ws_row;
    *columns = size.ws_col;
    return 0;
}

int isorun_send_fd(int socket, int fd, const char *name) {
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec data = { (void *)name, strlen(name) };
    struct msghdr message = { 0 };
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &fd, sizeof(int));
    ssize_t sent;
    do { sent = sendmsg(socket, &message, 0); } while (sent < 0 && errno == EINTR);
    return sent < 0 ? -errno : 0;
}
