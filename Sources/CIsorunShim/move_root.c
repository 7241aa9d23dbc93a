// Entering the rootfs without pivot_root (runc's --no-pivot), for a root that pivot_root
// refuses: an initramfs, whose root mount can be neither moved nor unmounted. The rootfs
// is moved onto / and entered with chroot, as switch_root does. First every mount of the
// container's namespace that is neither the rootfs, nor inside it, nor one of the mounts
// it sits on is detached: a process that got out of the chroot would otherwise find the
// host's other mounts (/proc, /sys, /run, …) still there.
#include "move_root.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/// Undoes mountinfo's octal escapes (space, tab, newline, backslash) in place.
static void unescape(char *path) {
    char *out = path;
    for (char *in = path; *in; in++) {
        if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
            *out++ = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
            in += 3;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

/// A mount point to detach: not the rootfs, not inside it, not on the way to it.
static int lies_outside(const char *mount_point, const char *rootfs) {
    size_t length = strlen(mount_point), rootfs_length = strlen(rootfs);
    if (strcmp(mount_point, "/") == 0) return 0;
    if (strncmp(mount_point, rootfs, rootfs_length) == 0 && (mount_point[rootfs_length] == '\0' || mount_point[rootfs_length] == '/'))
        return 0;
    if (strncmp(rootfs, mount_point, length) == 0 && rootfs[length] == '/') return 0;
    return 1;
}

/// Goes through `fd` (an unread /proc/self/mountinfo) once, detaching (or, with `detach`
/// 0, counting) the mounts that lie outside the rootfs, and closes it. The kernel keeps
/// its place in the list while mounts are detached under it. Returns the count, or -errno.
static int mounts_outside(int fd, const char *rootfs, int detach) {
    char buffer[8192];
    size_t held = 0;
    int count = 0;
    for (;;) {
        ssize_t got = read(fd, buffer + held, sizeof buffer - 1 - held);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int saved = errno;
            close(fd);
            return -saved;
        }
        held += (size_t)got;
        buffer[held] = '\0';
        char *line = buffer;
        char *end;
        while ((end = memchr(line, '\n', held - (size_t)(line - buffer))) != NULL) {
            *end = '\0';
            // "id parent major:minor root mount-point …": the fifth field.
            char *field = line;
            for (int skipped = 0; skipped < 4 && field; skipped++) {
                field = strchr(field, ' ');
                if (field) field++;
            }
            char *field_end = field ? strchr(field, ' ') : NULL;
            if (field_end) {
                *field_end = '\0';
                unescape(field);
                if (lies_outside(field, rootfs)) {
                    count++;
                    // A mount whose parent went first is gone already: EINVAL is no failure.
                    if (detach) umount2(field, MNT_DETACH);
                }
            }
            line = end + 1;
        }
        size_t rest = held - (size_t)(line - buffer);
        if (got == 0 || (rest == sizeof buffer - 1)) break;  // the end, or a line too long to be a mount
        memmove(buffer, line, rest);
        held = rest;
    }
    close(fd);
    return count;
}

int isorun_move_root(const char *rootfs, const char **failed_step) {
    // Both opened now: the host's /proc is among the mounts the first pass detaches.
    int detaching = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    int checking = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    if (detaching < 0 || checking < 0) {
        int saved = errno;
        if (detaching >= 0) close(detaching);
        *failed_step = "open /proc/self/mountinfo";
        return -saved;
    }
    int rc = mounts_outside(detaching, rootfs, 1);
    if (rc < 0) {
        close(checking);
        *failed_step = "read /proc/self/mountinfo";
        return rc;
    }
    rc = mounts_outside(checking, rootfs, 0);
    if (rc != 0) {
        *failed_step = "detach the mounts outside the rootfs";
        return rc < 0 ? rc : -EBUSY;
    }
    if (chdir(rootfs) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0) {
        *failed_step = "move the rootfs onto /";
        return -errno;
    }
    if (chroot(".") < 0 || chdir("/") < 0) {
        *failed_step = "chroot into the rootfs";
        return -errno;
    }
    return 0;
}
