// runc's and crun's `tmpcopyup`: a tmpfs mounted over a directory of the rootfs starts with
// that directory's contents (podman asks for it on every --tmpfs). Runs in the container's
// child between clone and exec, so it allocates nothing: directory entries are read with
// getdents64 into a buffer on the stack, one per level of the tree.
#include "copy_up.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/// Deeper trees are refused rather than risk the child's stack (~2.3 KiB per level).
enum { MAX_DEPTH = 48 };

struct linux_dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int copy_contents(int from, int to) {
    struct stat st;
    if (fstat(from, &st) < 0) return -errno;
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t sent = sendfile(to, from, NULL, left > (1 << 30) ? (1 << 30) : (size_t)left);
        if (sent < 0 && errno == EINTR) continue;
        if (sent < 0) return -errno;
        if (sent == 0) break;  // the file shrank meanwhile
        left -= sent;
    }
    return 0;
}

/// Owner and times of `name` in `to` as `st` has them (the mode is given at creation, but
/// for a directory, whose umask-reduced mode is set here too).
static int settle(int to, const char *name, const struct stat *st) {
    if (fchownat(to, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
    if (!S_ISLNK(st->st_mode) && fchmodat(to, name, st->st_mode & 07777, 0) < 0) return -errno;
    struct timespec times[2] = { st->st_atim, st->st_mtim };
    if (utimensat(to, name, times, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
    return 0;
}

struct failure { char *name; unsigned long cap; };

static int copy_entry(int from, int to, const char *name, int depth, struct failure *failed);

static int copy_level(int from, int to, int depth, struct failure *failed) {
    if (depth > MAX_DEPTH) return -ELOOP;
    char buffer[2048] __attribute__((aligned(8)));
    for (;;) {
        long count = syscall(SYS_getdents64, from, buffer, sizeof buffer);
        if (count < 0) return -errno;
        if (count == 0) return 0;
        for (long offset = 0; offset < count;) {
            struct linux_dirent64 *entry = (struct linux_dirent64 *)(buffer + offset);
            offset += entry->d_reclen;
            const char *name = entry->d_name;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
            int rc = copy_entry(from, to, name, depth, failed);
            if (rc < 0) {
                // The deepest entry names the failure; the levels above leave it.
                if (failed->name[0] == '\0' && failed->cap > 0) {
                    strncpy(failed->name, name, failed->cap - 1);
                    failed->name[failed->cap - 1] = '\0';
                }
                return rc;
            }
        }
    }
}

static int copy_entry(int from, int to, const char *name, int depth, struct failure *failed) {
    struct stat st;
    if (fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return -errno;
    int rc = 0;
    switch (st.st_mode & S_IFMT) {
    case S_IFDIR: {
        if (mkdirat(to, name, 0700) < 0) return -errno;
        int source = openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (source < 0) return -errno;
        int target = openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0) { rc = -errno; close(source); return rc; }
        rc = copy_level(source, target, depth + 1, failed);
        close(source);
        close(target);
        break;
    }
    case S_IFREG: {
        int source = openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (source < 0) return -errno;
        int target = openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (target < 0) { rc = -errno; close(source); return rc; }
        rc = copy_contents(source, target);
        close(source);
        close(target);
        break;
    }
    case S_IFLNK: {
        char link[4096];
        ssize_t length = readlinkat(from, name, link, sizeof link - 1);
        if (length < 0) return -errno;
        link[length] = '\0';
        if (symlinkat(link, to, name) < 0) return -errno;
        break;
    }
    case S_IFIFO: case S_IFCHR: case S_IFBLK:
        if (mknodat(to, name, st.st_mode & (S_IFMT | 07777), st.st_rdev) < 0) return -errno;
        break;
    default:
        return 0;  // a socket belongs to the process that bound it, not to a copy
    }
    return rc < 0 ? rc : settle(to, name, &st);
}

int isorun_copy_tree(int from, int to, char *failed, unsigned long cap) {
    struct failure failure = { failed, cap };
    if (cap > 0) failed[0] = '\0';
    return copy_level(from, to, 0, &failure);
}
