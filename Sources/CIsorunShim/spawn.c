// The pre-exec path: clone -> wait for the parent -> namespaces -> mounts ->
// pivot_root -> credentials -> capabilities -> seccomp -> exec.
//
// Runs in a forked copy of a possibly multi-threaded process, or (run_at_once) in the
// parent's own memory while the parent sleeps, so the child uses only system calls and
// local buffers: no malloc, no stdio, no locks, no writes to anything but its stack.
#include "isorun_shim.h"
#include "affinity.h"
#include "cgroup_job.h"
#include "copy_up.h"
#include "fd_passing.h"
#include "move_root.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/ioprio.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// linux/sched.h has it from Linux 5.6; older headers do not.
#ifdef CLONE_NEWTIME
#define ISORUN_CLONE_NEWTIME CLONE_NEWTIME
#else
#define ISORUN_CLONE_NEWTIME 0x00000080
#endif

// MARK: - small async-signal-safe helpers

static size_t str_append(char *buf, size_t pos, size_t cap, const char *s) {
    if (s == NULL) s = "(null)";
    while (*s && pos + 1 < cap) buf[pos++] = *s++;
    buf[pos] = '\0';
    return pos;
}

static size_t int_append(char *buf, size_t pos, size_t cap, long value) {
    char digits[24];
    int n = 0;
    unsigned long v = value < 0 ? (unsigned long)(-value) : (unsigned long)value;
    do { digits[n++] = (char)('0' + v % 10); v /= 10; } while (v && n < 23);
    if (value < 0 && pos + 1 < cap) buf[pos++] = '-';
    while (n > 0 && pos + 1 < cap) buf[pos++] = digits[--n];
    buf[pos] = '\0';
    return pos;
}

static int write_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/// Reports `what` and errno `err` to the parent and exits the child.
__attribute__((noreturn)) static void child_fail(int error_fd, int err, const char *what, const char *detail) {
    struct isorun_child_error report;
    memset(&report, 0, sizeof report);
    report.err = err;
    size_t pos = str_append(report.what, 0, sizeof report.what, what);
    if (detail != NULL) {
        pos = str_append(report.what, pos, sizeof report.what, " ");
        str_append(report.what, pos, sizeof report.what, detail);
    }
    write_all(error_fd, &report, sizeof report);
    _exit(125);
}

static int write_file(const char *path, const char *value) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = write_all(fd, value, strlen(value));
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

// MARK: - resolving paths inside the rootfs

/// Opens `path` (absolute inside the container) under `root_fd` with every
/// symlink resolved as if `root_fd` were "/", so a hostile rootfs cannot point
/// a mount target at the host.
static int open_in_root(int root_fd, const char *path, int flags) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    while (*path == '/') path++;
    if (*path == '\0') path = ".";
    int fd;
    do {
        fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/// mkdir -p for `path` inside the rootfs; returns an O_PATH fd of the last directory.
static int mkdir_in_root(int root_fd, const char *path) {
    // Mount points mostly exist already, or only their last component is missing: look
    // the whole path up first, then walk up to the deepest directory that exists.
    int dir = open_in_root(root_fd, path, O_PATH | O_DIRECTORY);
    if (dir >= 0 || errno != ENOENT) return dir;
    char partial[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof partial) { errno = ENAMETOOLONG; return -1; }
    memcpy(partial, path, len + 1);
    size_t existing = len;
    while (dir < 0) {
        char *slash = memrchr(partial, '/', existing);
        existing = slash ? (size_t)(slash - partial) : 0;
        partial[existing] = '\0';
        dir = open_in_root(root_fd, partial, O_PATH | O_DIRECTORY);
        if (dir < 0 && (errno != ENOENT || existing == 0)) return -1;
    }
    // Then make each missing component inside the one before it.
    const char *rest = path + existing;
    for (;;) {
        while (*rest == '/') rest++;
        if (*rest == '\0') return dir;
        size_t n = strcspn(rest, "/");
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) { close(dir); errno = ENAMETOOLONG; return -1; }
        memcpy(name, rest, n);
        name[n] = '\0';
        rest += n;
        int next = -1;
        if (mkdirat(dir, name, 0755) == 0 || errno == EEXIST) next = open_in_root(dir, name, O_PATH | O_DIRECTORY);
        int saved = errno;
        close(dir);
        if (next < 0) { errno = saved; return -1; }
        dir = next;
    }
}

/// The directory the last mount target was made in, kept open: the next target in the
/// same directory (the cgroup hierarchies, the default devices, /dev's symlinks) is one
/// step from it instead of a walk from the root (about 20 fewer path walks for a
/// typical container). It stays valid while every mount lands on a plain child of it
/// (opened beneath it, no symlink followed), which cannot cover it; any other mount
/// makes it forgotten.
struct parent_cache {
    int fd;  // -1 when empty
    char path[PATH_MAX];
};

static void parent_cache_forget(struct parent_cache *cache) {
    if (cache->fd >= 0) close(cache->fd);
    cache->fd = -1;
    cache->path[0] = '\0';
}

/// Absolute, with no empty, "." or ".." component and no trailing slash: two such paths
/// name the same place exactly when they are the same string.
static int is_plain_path(const char *path) {
    if (path[0] != '/' || path[1] == '\0') return 0;
    for (const char *p = path; *p; p++) {
        if (*p != '/') continue;
        if (p[1] == '/' || p[1] == '\0') return 0;
        if (p[1] == '.' && (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))) return 0;
    }
    return 1;
}

/// Splits `path` into its parent directory (created) and returns that fd; `*name` gets
/// the last component. Through `cache` (may be NULL) when it holds that directory; the
/// fd may be the cache's own, so it is given back with put_parent.
static int parent_in_root(int root_fd, const char *path, const char **name, char *buf, struct parent_cache *cache) {
    size_t len = strlen(path);
    if (len >= PATH_MAX) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, len + 1);
    char *slash = strrchr(buf, '/');
    if (slash == NULL) { *name = buf; return open_in_root(root_fd, "/", O_PATH | O_DIRECTORY); }
    *slash = '\0';
    *name = slash + 1;
    const char *parent = buf[0] ? buf : "/";
    int plain = cache != NULL && is_plain_path(path);
    if (plain && cache->fd >= 0 && strcmp(cache->path, parent) == 0) return cache->fd;
    int fd = mkdir_in_root(root_fd, parent);
    if (fd >= 0 && plain) {
        parent_cache_forget(cache);
        cache->fd = fd;
        memcpy(cache->path, parent, strlen(parent) + 1);
    }
    return fd;
}

/// Done with a directory from parent_in_root: closed unless the cache keeps it.
static void put_parent(struct parent_cache *cache, int fd) {
    if (cache == NULL || fd != cache->fd) close(fd);
}

/// The single component `name` beneath `parent` (resolved in the root already), made as
/// a directory or an empty file when missing; -1 when it is a symlink or cannot be opened,
/// and the caller walks the whole path instead.
///
/// Made first, then opened: most targets are missing (everything inside the fresh tmpfs
/// of /dev and of /sys/fs/cgroup), and making one that exists is only an EEXIST, which
/// the kernel reports before a read-only file system's EROFS. Neither mkdirat nor mknodat
/// follows a symlink, and the open after it still refuses one.
static int open_beneath(int parent, const char *name, int as_file) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(O_PATH | O_CLOEXEC | (as_file ? 0 : O_DIRECTORY));
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int made = as_file ? mknodat(parent, name, S_IFREG | 0644, 0) : mkdirat(parent, name, 0755);
    if (made < 0 && errno != EEXIST) return -1;
    return (int)syscall(SYS_openat2, parent, name, &how, sizeof how);
}

/// The target of a mount as an fd: created as a directory or an empty file. `*beneath`
/// tells whether it was opened as a plain child of the cached directory.
static int mount_target_fd(int root_fd, const char *path, int as_file, struct parent_cache *cache, int *beneath) {
    *beneath = 0;
    if (cache != NULL && is_plain_path(path)) {
        char buf[PATH_MAX];
        const char *name;
        int parent = parent_in_root(root_fd, path, &name, buf, cache);
        if (parent >= 0) {
            int fd = open_beneath(parent, name, as_file);
            *beneath = fd >= 0 && parent == cache->fd;
            put_parent(cache, parent);
            if (fd >= 0) return fd;
        }
    }
    if (!as_file) return mkdir_in_root(root_fd, path);
    int existing = open_in_root(root_fd, path, O_PATH);
    if (existing >= 0 || errno != ENOENT) return existing;
    char buf[PATH_MAX];
    const char *name;
    int parent = parent_in_root(root_fd, path, &name, buf, NULL);
    if (parent < 0) return -1;
    // As in open_beneath: EEXIST for anything already there, a symlink included.
    if (mknodat(parent, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST) {
        int saved = errno; close(parent); errno = saved; return -1;
    }
    close(parent);
    return open_in_root(root_fd, path, O_PATH);
}

static void fd_path(int fd, char *buf, size_t cap) {
    size_t pos = str_append(buf, 0, cap, "/proc/self/fd/");
    int_append(buf, pos, cap, fd);
}

/// The flags a read-only remount must keep, or the kernel refuses it in a user namespace.
static unsigned long locked_flags(const char *path) {
    struct statvfs st;
    if (statvfs(path, &st) != 0) return 0;
    unsigned long keep = 0;
    if (st.f_flag & ST_NOSUID) keep |= MS_NOSUID;
    if (st.f_flag & ST_NODEV) keep |= MS_NODEV;
    if (st.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
    if (st.f_flag & ST_NOATIME) keep |= MS_NOATIME;
    if (st.f_flag & ST_NODIRATIME) keep |= MS_NODIRATIME;
    if (st.f_flag & ST_RELATIME) keep |= MS_RELATIME;
    return keep;
}

// MARK: - the steps

static void do_mount_op(int error_fd, int root_fd, const struct isorun_mount_op *op, struct parent_cache *cache);

/// mknod where allowed; in a user namespace, where it is not, the host's node bound
/// onto an empty file instead (a FIFO can always be made).
static void make_device(int error_fd, int root_fd, const struct isorun_mount_op *op, struct parent_cache *cache) {
    char buf[PATH_MAX];
    const char *name;
    int parent = parent_in_root(root_fd, op->target, &name, buf, cache);
    if (parent < 0) child_fail(error_fd, errno, "create parent of device", op->target);
    unsigned int type = op->device_mode & S_IFMT;
    struct stat existing = { 0 };
    int kept = 0;
    int made = mknodat(parent, name, op->device_mode, (dev_t)op->device_number);
    if (made < 0 && errno == EEXIST) {
        // A file already there (in a rootfs's own /dev, not a fresh tmpfs) is never
        // removed: it is the bundle's. The requested device already there is kept.
        kept = fstatat(parent, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 && (existing.st_mode & S_IFMT) == type
            && (type == S_IFIFO || existing.st_rdev == (dev_t)op->device_number);
        if (!kept && op->device_existing_must_match)
            child_fail(error_fd, EEXIST, "a different file is at the device's path", op->target);
        errno = EEXIST;
    }
    if (made < 0 && !kept) {
        // Refused (in a user namespace), a read-only /dev, or a default device's path taken
        // by something else: the host's node bound over it serves the same.
        if (op->source == NULL || (errno != EPERM && errno != EROFS && errno != EEXIST))
            child_fail(error_fd, errno, "mknod", op->target);
        put_parent(cache, parent);
        struct isorun_mount_op bind = *op;
        bind.kind = ISORUN_MOUNT_BIND;
        bind.target_is_file = 1;
        do_mount_op(error_fd, root_fd, &bind, cache);
        return;
    }
    // mknod applied the umask; the spec's mode is exact. A kept node is changed only
    // where it differs (it may sit on a read-only /dev).
    if ((!kept || (existing.st_mode & 07777) != (op->device_mode & 07777))
        && fchmodat(parent, name, op->device_mode & 07777, 0) < 0)
        child_fail(error_fd, errno, "chmod device", op->target);
    if ((!kept || existing.st_uid != op->device_uid || existing.st_gid != op->device_gid)
        && fchownat(parent, name, op->device_uid, op->device_gid, AT_SYMLINK_NOFOLLOW) < 0)
        child_fail(error_fd, errno, "chown device", op->target);
    put_parent(cache, parent);
}

/// Whether a mount's data names a `mode=`.
static int has_mode_option(const char *data) {
    for (const char *p = data; p && *p; p++)
        if ((p == data || p[-1] == ',') && strncmp(p, "mode=", 5) == 0) return 1;
    return 0;
}

/// The data to mount `op` with: its own, after `mode=` of its mount point `point` when
/// there is one. Falls back to the plain data if both do not fit `buffer`.
static const char *tmpfs_data_keeping_mode(const struct isorun_mount_op *op, const struct stat *point,
                                           char *buffer, size_t cap) {
    if (point == NULL) return op->data;
    static const char digits[] = "01234567";
    unsigned mode = point->st_mode & 07777;
    char prefix[16] = "mode=0000";
    for (int i = 8; i >= 5; i--, mode >>= 3) prefix[i] = digits[mode & 7];
    size_t pos = str_append(buffer, 0, cap, prefix);
    if (op->data && op->data[0]) {
        pos = str_append(buffer, pos, cap, ",");
        pos = str_append(buffer, pos, cap, op->data);
    }
    return pos + 1 < cap ? buffer : op->data;
}

/// runtime-spec's recursive options (`rro`, `rnosuid`, …) on the mount at `fd` and every
/// mount below it.
static void set_recursive_attributes(int error_fd, int fd, const struct isorun_mount_op *op) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = op->recursive_attr_set;
    attr.attr_clr = op->recursive_attr_clr;
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
        child_fail(error_fd, errno, "set recursive mount options of", op->target);
}

static void do_mount_op(int error_fd, int root_fd, const struct isorun_mount_op *op, struct parent_cache *cache) {
    char target[64];
    if (op->kind == ISORUN_MOUNT_DEVICE) {
        make_device(error_fd, root_fd, op, cache);
        return;
    }
    if (op->kind == ISORUN_MOUNT_SYMLINK) {
        char buf[PATH_MAX];
        const char *name;
        int parent = parent_in_root(root_fd, op->target, &name, buf, cache);
        if (parent < 0) child_fail(error_fd, errno, "create parent of symlink", op->target);
        if (symlinkat(op->source, parent, name) < 0 && errno != EEXIST)
            child_fail(error_fd, errno, "symlink", op->target);
        put_parent(cache, parent);
        return;
    }
    int beneath;
    int fd = mount_target_fd(root_fd, op->target, op->target_is_file, cache, &beneath);
    // A tmpfs without a mode of its own takes its mount point's (the rootfs's directory,
    // or 0755 as made here), as under runc, not tmpfs's world-writable 1777.
    struct stat point;
    int mode_from_point = fd >= 0 && op->kind == ISORUN_MOUNT_FILESYSTEM && op->fstype && strcmp(op->fstype, "tmpfs") == 0
        && !has_mode_option(op->data) && fstat(fd, &point) == 0 && S_ISDIR(point.st_mode);
    if (fd < 0) child_fail(error_fd, errno, "create mount point", op->target);
    // A mount that did not land on a plain child of the cached directory may cover it.
    if (!beneath) parent_cache_forget(cache);
    fd_path(fd, target, sizeof target);
    if (op->kind == ISORUN_MOUNT_BIND) {
        if (op->source_fd >= 0) {
            if (syscall(SYS_move_mount, op->source_fd, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                child_fail(error_fd, errno, "attach idmapped mount onto", op->target);
        } else if (mount(op->source, target, NULL, op->flags | MS_BIND, NULL) < 0) {
            child_fail(error_fd, errno, "bind mount onto", op->target);
        }
        if (op->remount_flags) {
            // The fd still names the covered inode; reopen to reach the new mount.
            close(fd);
            fd = open_in_root(root_fd, op->target, O_PATH);
            if (fd < 0) child_fail(error_fd, errno, "reopen bind mount", op->target);
            fd_path(fd, target, sizeof target);
            unsigned long flags = MS_BIND | MS_REMOUNT | op->remount_flags | locked_flags(target);
            if (mount(NULL, target, NULL, flags, NULL) < 0)
                child_fail(error_fd, errno, "remount bind mount", op->target);
        }
    } else {
        // tmpcopyup: the directory about to be covered, to copy into the new mount.
        int covered = op->copy_up ? openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (op->copy_up && covered < 0) child_fail(error_fd, errno, "open for tmpcopyup", op->target);
        char data[4096];
        const char *mount_data = tmpfs_data_keeping_mode(op, mode_from_point ? &point : NULL, data, sizeof data);
        if (mount(op->source, target, op->fstype, op->flags, mount_data) < 0)
            child_fail(error_fd, errno, op->fstype ? op->fstype : "mount", op->target);
        if (covered >= 0) {
            int mounted = open_in_root(root_fd, op->target, O_RDONLY | O_DIRECTORY);
            if (mounted < 0) child_fail(error_fd, errno, "open for tmpcopyup", op->target);
            char failed[256];
            int rc = isorun_copy_tree(covered, mounted, failed, sizeof failed);
            if (rc < 0) child_fail(error_fd, -rc, "tmpcopyup into", failed[0] ? failed : op->target);
            close(mounted);
            close(covered);
        }
    }
    if (op->propagation) {
        close(fd);
        fd = open_in_root(root_fd, op->target, O_PATH);
        if (fd < 0) child_fail(error_fd, errno, "reopen mount", op->target);
        fd_path(fd, target, sizeof target);
        if (mount(NULL, target, NULL, op->propagation, NULL) < 0)
            child_fail(error_fd, errno, "set propagation of", op->target);
    }
    if (op->recursive_attr_set || op->recursive_attr_clr) {
        close(fd);
        fd = open_in_root(root_fd, op->target, O_PATH);
        if (fd < 0) child_fail(error_fd, errno, "reopen mount", op->target);
        set_recursive_attributes(error_fd, fd, op);
    }
    close(fd);
}


// MARK: - hooks the child runs itself

/// A state document for hooks, received from the parent after the go-ahead.
struct hook_state {
    const char *bytes;
    size_t length;
};

static int read_exact(int fd, void *buffer, size_t length) {
    size_t got = 0;
    while (got < length) {
        ssize_t n = read(fd, (char *)buffer + got, length - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    return 0;
}

/// Reads one length-prefixed document into fresh anonymous memory (malloc is not
/// safe here).
static struct hook_state receive_hook_state(int error_fd, int sync_fd) {
    struct hook_state state = { NULL, 0 };
    uint32_t length;
    if (read_exact(sync_fd, &length, sizeof length) < 0) _exit(125);
    if (length == 0) return state;
    void *buffer = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buffer == MAP_FAILED) child_fail(error_fd, errno, "map hook state", NULL);
    if (read_exact(sync_fd, buffer, length) < 0) _exit(125);
    state.bytes = buffer;
    state.length = length;
    return state;
}

/// Runs `hooks` in order, each with `state` on its stdin, and fails the setup on the
/// first that cannot start, exits non-zero or outlives its timeout.
static void run_hooks(int error_fd, const char *phase, const struct isorun_hook *hooks, int count,
                      struct hook_state state) {
    for (int i = 0; i < count; i++) {
        const struct isorun_hook *hook = &hooks[i];
        // The state goes in an in-memory file, not a pipe: a hook that never reads its
        // stdin cannot block the setup, however large the state is.
        int input = (int)syscall(SYS_memfd_create, "hook-state", MFD_CLOEXEC);
        if (input < 0) child_fail(error_fd, errno, phase, hook->path);
        if ((state.length > 0 && write_all(input, state.bytes, state.length) < 0) || lseek(input, 0, SEEK_SET) < 0)
            child_fail(error_fd, errno, phase, hook->path);
        // A raw clone like the parent's: glibc's fork would run atfork handlers that may
        // take locks another thread of isorun held at our own clone.
        long pid = syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0) child_fail(error_fd, errno, phase, hook->path);
        if (pid == 0) {
            if (dup2(input, 0) < 0) _exit(127);
            for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            char *const default_argv[] = { (char *)hook->path, NULL };
            char *const no_env[] = { NULL };
            execve(hook->path, hook->argv ? hook->argv : default_argv, hook->envp ? hook->envp : no_env);
            _exit(127);
        }
        close(input);
        int status = 0;
        long waited_ms = 0;
        long limit_ms = hook->timeout_seconds > 0 ? hook->timeout_seconds * 1000L : -1;
        for (;;) {
            pid_t done = waitpid((pid_t)pid, &status, limit_ms < 0 ? 0 : WNOHANG);
            if (done == (pid_t)pid) break;
            if (done < 0 && errno != EINTR) child_fail(error_fd, errno, phase, hook->path);
            if (done == 0) {
                if (waited_ms >= limit_ms) {
                    kill((pid_t)pid, SIGKILL);
                    while (waitpid((pid_t)pid, &status, 0) < 0 && errno == EINTR) {}
                    char what[400];
                    size_t pos = str_append(what, 0, sizeof what, hook->path);
                    str_append(what, pos, sizeof what, ": timed out");
                    child_fail(error_fd, 0, phase, what);
                }
                struct timespec pause = { 0, 1000000 };
                nanosleep(&pause, NULL);
                waited_ms++;
            }
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            char what[400];
            size_t pos = str_append(what, 0, sizeof what, hook->path);
            if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
                pos = str_append(what, pos, sizeof what, ": could not be run (status 127)");
            } else if (WIFEXITED(status)) {
                pos = str_append(what, pos, sizeof what, ": exited with status ");
                int_append(what, pos, sizeof what, WEXITSTATUS(status));
            } else {
                pos = str_append(what, pos, sizeof what, ": killed by signal ");
                int_append(what, pos, sizeof what, WTERMSIG(status));
            }
            child_fail(error_fd, 0, phase, what);
        }
    }
}

/// Tells the parent the container's namespaces and mounts exist, and waits until it
/// has run the runtime-namespace hooks.
static void wait_at_hook_barrier(int error_fd, int sync_fd) {
    struct isorun_child_error report;
    memset(&report, 0, sizeof report);
    report.err = ISORUN_AT_HOOK_BARRIER;
    if (write_all(error_fd, &report, sizeof report) < 0) _exit(125);
    char go;
    if (read_exact(sync_fd, &go, 1) < 0) _exit(125);
}

/// The two states the child's own hooks read, and where it stops for the parent's.
struct hook_plan {
    int sync_fd;
    struct hook_state creating;
    struct hook_state created;
};

/// The point between mounts and pivot_root: the parent's hooks, then createContainer.
static void run_pre_pivot_hooks(int error_fd, const struct isorun_spawn_plan *plan, const struct hook_plan *hooks) {
    if (plan->hook_barrier) wait_at_hook_barrier(error_fd, hooks->sync_fd);
    run_hooks(error_fd, "createContainer hook", plan->create_container_hooks, plan->create_container_hook_count,
              hooks->creating);
}

/// Binds of host paths onto host paths, without a rootfs, in the child's own mount
/// namespace: how the VM mode shows QEMU the bundle's bind sources under one directory
/// it shares with the guest. / becomes a slave first, so nothing reaches the host's
/// mount table and everything goes when the namespace's last process exits.
static void bind_in_own_namespace(int error_fd, const struct isorun_spawn_plan *plan) {
    if (!(plan->clone_flags & CLONE_NEWNS)) child_fail(error_fd, EINVAL, "bind host paths without a mount namespace", NULL);
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) child_fail(error_fd, errno, "make / a slave", NULL);
    for (int i = 0; i < plan->mount_count; i++) {
        const struct isorun_mount_op *op = &plan->mounts[i];
        if (op->kind != ISORUN_MOUNT_BIND) child_fail(error_fd, EINVAL, "a mount other than a bind without a rootfs", op->target);
        if (mount(op->source, op->target, NULL, (op->flags & MS_REC) | MS_BIND, NULL) < 0)
            child_fail(error_fd, errno, "bind mount onto", op->target);
        if (op->remount_flags &&
            mount(NULL, op->target, NULL, MS_BIND | MS_REMOUNT | op->remount_flags | locked_flags(op->target), NULL) < 0)
            child_fail(error_fd, errno, "remount bind mount", op->target);
        if (op->recursive_attr_set || op->recursive_attr_clr) {
            int fd = open(op->target, O_PATH | O_CLOEXEC);
            if (fd < 0) child_fail(error_fd, errno, "open bind mount", op->target);
            set_recursive_attributes(error_fd, fd, op);
            close(fd);
        }
    }
}

/// Joins the cgroups the network namespace's helper made for this child (the plan's
/// `cgroup_job_*`), then makes the cgroup namespace, whose root is the cgroup the process
/// is in when it asks.
static void join_helper_cgroups(int error_fd, const struct isorun_spawn_plan *plan) {
    struct isorun_cgroup_job_reply reply;
    int fds[ISORUN_CGROUP_JOB_MAX_TASK_FILES], count;
    int rc = isorun_cgroup_job_collect(plan->cgroup_job_socket, &reply, fds, &count);
    if (rc < 0) child_fail(error_fd, -rc, "cgroup: no answer from the helper making it", NULL);
    if (reply.error != 0) {
        int step = reply.failed_step;
        child_fail(error_fd, reply.error, "cgroup:",
                   step >= 0 && step < plan->cgroup_job_step_count ? plan->cgroup_job_steps[step] : NULL);
    }
    // The `tasks` steps come last, so descriptor i is step (steps - count + i).
    for (int i = 0; i < count; i++) {
        if (write(fds[i], "0", 1) != 1)
            child_fail(error_fd, errno, "join cgroup", plan->cgroup_job_steps[plan->cgroup_job_step_count - count + i]);
        close(fds[i]);
    }
    if (plan->unshare_cgroup_ns && unshare(CLONE_NEWCGROUP) < 0)
        child_fail(error_fd, errno, "unshare cgroup namespace", NULL);
}

static void setup_rootfs(int error_fd, const struct isorun_spawn_plan *plan, const struct hook_plan *hooks) {
    unsigned long propagation = plan->rootfs_propagation ? plan->rootfs_propagation : (MS_REC | MS_PRIVATE);
    int host = plan->rootfs_in_host_namespace;
    if (!host && mount(NULL, "/", NULL, propagation, NULL) < 0)
        child_fail(error_fd, errno, "make / private", NULL);
    // pivot_root refuses a shared parent mount: with a shared propagation asked for, the
    // mount holding the rootfs becomes private here (only in this mount namespace).
    if (!host && (propagation & MS_SHARED) && plan->rootfs_parent_mount &&
        mount(NULL, plan->rootfs_parent_mount, NULL, MS_PRIVATE, NULL) < 0)
        child_fail(error_fd, errno, "make the rootfs's parent mount private", plan->rootfs_parent_mount);
    if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        child_fail(error_fd, errno, "bind rootfs", plan->rootfs);
    int root_fd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) child_fail(error_fd, errno, "open rootfs", plan->rootfs);
    struct parent_cache cache = { -1, "" };
    int cgroups_pending = plan->cgroup_job_step_count > 0;
    for (int i = 0; i < plan->mount_count; i++) {
        if (cgroups_pending && i == plan->cgroup_join_before_mount) {
            join_helper_cgroups(error_fd, plan);
            cgroups_pending = 0;
        }
        do_mount_op(error_fd, root_fd, &plan->mounts[i], &cache);
    }
    parent_cache_forget(&cache);
    close(root_fd);
    if (cgroups_pending) join_helper_cgroups(error_fd, plan);
    run_pre_pivot_hooks(error_fd, plan, hooks);

    if (chdir(plan->rootfs) < 0) child_fail(error_fd, errno, "chdir", plan->rootfs);
    if (host) {
        if (chroot(".") < 0) child_fail(error_fd, errno, "chroot", plan->rootfs);
        if (chdir("/") < 0) child_fail(error_fd, errno, "chdir", "/");
        goto entered;
    }
    if (plan->no_pivot_root) {
        const char *step = NULL;
        int rc = isorun_move_root(plan->rootfs, &step);
        if (rc < 0) child_fail(error_fd, -rc, step, plan->rootfs);
        goto moved;
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0) child_fail(error_fd, errno, "pivot_root", plan->rootfs);
    // The old root is now stacked under "."; detach it so the host tree is gone.
    if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) < 0) child_fail(error_fd, errno, "make old root slave", NULL);
    if (umount2(".", MNT_DETACH) < 0) child_fail(error_fd, errno, "detach old root", NULL);
    if (chdir("/") < 0) child_fail(error_fd, errno, "chdir", "/");
moved:
    if (plan->rootfs_propagation && mount(NULL, "/", NULL, plan->rootfs_propagation, NULL) < 0)
        child_fail(error_fd, errno, "set rootfs propagation", NULL);
entered:

    for (int i = 0; i < plan->sysctl_count; i++)
        if (write_file(plan->sysctl_paths[i], plan->sysctl_values[i]) < 0)
            child_fail(error_fd, errno, "write sysctl", plan->sysctl_paths[i]);

    for (int i = 0; i < plan->masked_count; i++) {
        const char *path = plan->masked_paths[i];
        struct stat st;
        if (stat(path, &st) < 0) {
            if (errno == ENOENT) continue;
            child_fail(error_fd, errno, "stat masked path", path);
        }
        int rc = S_ISDIR(st.st_mode)
            ? mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
            : mount("/dev/null", path, NULL, MS_BIND, NULL);
        if (rc < 0) child_fail(error_fd, errno, "mask", path);
    }
    for (int i = 0; i < plan->readonly_count; i++) {
        const char *path = plan->readonly_paths[i];
        if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
            if (errno == ENOENT) continue;
            child_fail(error_fd, errno, "bind read-only path", path);
        }
        if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked_flags(path), NULL) < 0)
            child_fail(error_fd, errno, "remount read-only", path);
    }
    if (plan->readonly_root &&
        mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), NULL) < 0)
        child_fail(error_fd, errno, "remount / read-only", NULL);
}

// A new time namespace with its offsets set before anyone is in it (the kernel refuses them
// after): unshare(2) makes it the namespace of this process's children and of this process
// from its next execve, so the workload starts in it. Done while /proc is still the host's,
// where /proc/self is this process whatever its PID namespace.
static void unshare_time_namespace(int error_fd, const char *offsets) {
    if (unshare(ISORUN_CLONE_NEWTIME) < 0) child_fail(error_fd, errno, "unshare time namespace", NULL);
    if (offsets == NULL) return;
    int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0) child_fail(error_fd, errno, "open", "/proc/self/timens_offsets");
    size_t length = strlen(offsets);
    if (write(fd, offsets, length) != (ssize_t)length) child_fail(error_fd, errno, "write clock offsets", "/proc/self/timens_offsets");
    close(fd);
}

static void bring_up_loopback(int error_fd) {
    int rc = isorun_loopback_up();
    if (rc < 0) child_fail(error_fd, -rc, "bring up lo", NULL);
}

/// Loads the filter with the plan's flags. With a listener, the child passes it to isorun
/// and waits until isorun has handed it to the agent (or ends, when it could not): the
/// sendmsg and recvfrom of that exchange are the only system calls between the filter and
/// the agent holding the listener, so validation refuses SCMP_ACT_NOTIFY for them.
static void load_seccomp(int error_fd, const struct isorun_spawn_plan *plan, int listener_socket) {
    unsigned int flags = plan->seccomp_flags;
    if (listener_socket >= 0) flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, plan->seccomp);
    if (listener < 0) child_fail(error_fd, errno, "load seccomp filter", NULL);
    if (listener_socket < 0) return;
    // The listener is close-on-exec; the copy in flight is isorun's.
    if (isorun_send_fd(listener_socket, (int)listener, "seccompFd") < 0)
        child_fail(error_fd, errno, "pass the seccomp listener to isorun", NULL);
    char handed = 0;
    ssize_t n;
    do { n = recv(listener_socket, &handed, 1, 0); } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(125);  // isorun is gone, or could not reach the agent and ends this child
}

static void set_credentials_and_caps(int error_fd, const struct isorun_spawn_plan *plan) {
    if (plan->set_caps) {
        // Dropping from the bounding set needs CAP_SETPCAP, so it comes first. Every
        // capability the kernel knows (libcap counted them) is dropped unread; only a
        // failed drop asks whether it was there at all.
        int known = (int)cap_max_bits();
        for (int cap = 0; cap < known && cap <= 63; cap++) {
            if (plan->bounding_mask & (1ULL << cap)) continue;
            if (cap_drop_bound((cap_value_t)cap) < 0 && prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) {
                char num[8];
                int_append(num, 0, sizeof num, cap);
                child_fail(error_fd, errno, "drop bounding capability", num);
            }
        }
    }
    if (plan->set_user) {
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) child_fail(error_fd, errno, "keep capabilities", NULL);
        if (!plan->keep_groups && syscall(SYS_setgroups, plan->group_count, plan->groups) < 0)
            child_fail(error_fd, errno, "setgroups", NULL);
        if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0)
            child_fail(error_fd, errno, "setresgid", NULL);
        if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
            child_fail(error_fd, errno, "setresuid", NULL);
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) child_fail(error_fd, errno, "reset keep capabilities", NULL);
    }
    if (plan->set_caps) {
        if (cap_set_proc(plan->caps) < 0) child_fail(error_fd, errno, "set capabilities", NULL);
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
            child_fail(error_fd, errno, "clear ambient capabilities", NULL);
        for (int cap = 0; cap <= 63; cap++) {
            if (!(plan->ambient_mask & (1ULL << cap))) continue;
            if (cap_set_ambient((cap_value_t)cap, CAP_SET) < 0) {
                char num[8];
                int_append(num, 0, sizeof num, cap);
                child_fail(error_fd, errno, "raise ambient capability", num);
            }
        }
    }
}

static void exec_workload(int error_fd, const struct isorun_spawn_plan *plan) {
    const char *file = plan->executable ? plan->executable : plan->argv[0];
    if (strchr(file, '/') != NULL || plan->search_path == NULL) {
        execve(file, plan->argv, plan->envp);
        child_fail(error_fd, errno, "exec", file);
    }
    int first_error = ENOENT;
    const char *dir = plan->search_path;
    char candidate[PATH_MAX];
    while (*dir) {
        const char *end = strchr(dir, ':');
        size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
        size_t pos = 0;
        candidate[0] = '\0';
        if (dlen > 0 && dlen < sizeof candidate) {
            memcpy(candidate, dir, dlen);
            candidate[dlen] = '\0';
            pos = str_append(candidate, dlen, sizeof candidate, "/");
        }
        str_append(candidate, pos, sizeof candidate, file);
        execve(candidate, plan->argv, plan->envp);
        if (errno != ENOENT && errno != ENOTDIR && first_error == ENOENT) first_error = errno;
        if (!end) break;
        dir = end + 1;
    }
    child_fail(error_fd, first_error, "exec", file);
}

/// Sets close-on-exec on every descriptor above stderr and the `preserved` after it, and
/// clears it on those; an older kernel (before 5.11 close_range cannot set close-on-exec)
/// gets the same from a walk of /proc/self/fd.
static void close_inherited_descriptors(int preserved) {
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
    int first_closed = 3 + preserved;
    for (int fd = 3; fd < first_closed; fd++) fcntl(fd, F_SETFD, 0);
    if (syscall(SYS_close_range, (unsigned)first_closed, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return;
    char buffer[1024];
    long count;
    while ((count = syscall(SYS_getdents64, dir, buffer, sizeof buffer)) > 0) {
        for (long offset = 0; offset < count;) {
            struct linux_dirent64_view { unsigned long long ino; long long off; unsigned short reclen; unsigned char type; char name[]; };
            struct linux_dirent64_view *entry = (struct linux_dirent64_view *)(buffer + offset);
            int fd = 0;
            for (const char *c = entry->name; *c >= '0' && *c <= '9'; c++) fd = fd * 10 + (*c - '0');
            if (entry->name[0] >= '0' && entry->name[0] <= '9' && fd >= first_closed && fd != dir) fcntl(fd, F_SETFD, FD_CLOEXEC);
            offset += entry->reclen;
        }
    }
    close(dir);
}

/// sched_setaffinity(2) to the listed CPUs; nothing for an empty list.
static void set_cpus(int error_fd, const int *cpus, int count, const char *what) {
    if (count <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < count; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) child_fail(error_fd, errno, what, NULL);
}

/// struct sched_attr as sched_setattr(2) reads it, up to the utilization clamps (the
/// kernel refuses the UTIL_CLAMP flags with a shorter one): glibc 2.36 has neither the
/// structure nor a wrapper.
struct sched_attributes {
    uint32_t size;
    uint32_t policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime;
    uint64_t deadline;
    uint64_t period;
    uint32_t util_min;
    uint32_t util_max;
};

static void set_scheduler(int error_fd, const struct isorun_spawn_plan *plan) {
    // The spec names the clamp flags but gives no values: the full range, 0 to 1024.
    struct sched_attributes attributes = {
        sizeof attributes, plan->sched_policy, plan->sched_flags, plan->sched_nice, plan->sched_priority,
        plan->sched_runtime, plan->sched_deadline, plan->sched_period, 0, 1024,
    };
    if (syscall(SYS_sched_setattr, 0, &attributes, 0U) < 0)
        child_fail(error_fd, errno, "process.scheduler: sched_setattr", NULL);
}

/// Everything the child does, in order. Never returns.
__attribute__((noreturn)) static void child_main(const struct isorun_spawn_plan *plan, int sync_fd, int error_fd,
                                                 int wait_for_release, const cpu_set_t *widen_affinity_to,
                                                 int listener_socket) {
    // Die with the parent from the start, then wait for it to finish its part
    // (uid/gid maps; the cgroup move where clone3 could not place the child and there are
    // no v1 `tasks` files to join). EOF on the pipe means the parent is gone.
    if (plan->parent_death_signal) prctl(PR_SET_PDEATHSIG, plan->parent_death_signal, 0, 0, 0);
    // `isorun start` waits for this lock, taken on its own open of the gate, and so learns
    // when this process has exec'd (the gate is close-on-exec) or died. Taken first, before
    // `create` can return and before any seccomp filter.
    if (plan->start_gate_fd >= 0) {
        fcntl(plan->start_gate_fd, F_SETFD, FD_CLOEXEC);
        flock(plan->start_gate_fd, LOCK_EX);
    }
    if (wait_for_release) {
        char go = 0;
        ssize_t n;
        do { n = read(sync_fd, &go, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(125);
    }
    if (widen_affinity_to && sched_setaffinity(0, sizeof *widen_affinity_to, widen_affinity_to) < 0)
        child_fail(error_fd, errno, "restore CPU affinity", NULL);
    // With initial CPUs but no final ones, the process goes back to the CPUs it would have
    // had (the kernel narrows them to the container's cpuset, as it does any affinity).
    cpu_set_t usual;
    int restore_usual = plan->initial_cpu_count > 0 && plan->final_cpu_count <= 0 &&
                        sched_getaffinity(0, sizeof usual, &usual) == 0;
    set_cpus(error_fd, plan->initial_cpus, plan->initial_cpu_count, "process.execCPUAffinity.initial: sched_setaffinity");
    // Into the cgroups first: before the child can fork, allocate or join a cgroup namespace.
    for (int i = 0; i < plan->cgroup_task_count; i++) {
        if (write(plan->cgroup_task_fds[i], "0", 1) != 1) child_fail(error_fd, errno, "join cgroup", plan->cgroup_task_paths[i]);
        close(plan->cgroup_task_fds[i]);
    }
    set_cpus(error_fd, plan->final_cpus, plan->final_cpu_count, "process.execCPUAffinity.final: sched_setaffinity");
    if (restore_usual && sched_setaffinity(0, sizeof usual, &usual) < 0)
        child_fail(error_fd, errno, "process.execCPUAffinity: restore CPU affinity", NULL);
    if (plan->set_oom_score_adj) {
        char score[16];
        int_append(score, 0, sizeof score, plan->oom_score_adj);
        if (write_file("/proc/self/oom_score_adj", score) < 0)
            child_fail(error_fd, errno, "process.oomScoreAdj: write", "/proc/self/oom_score_adj");
    }
    struct hook_plan hooks = { sync_fd, { NULL, 0 }, { NULL, 0 } };
    if (plan->create_container_hook_count > 0 || plan->start_container_hook_count > 0) {
        hooks.creating = receive_hook_state(error_fd, sync_fd);
        hooks.created = receive_hook_state(error_fd, sync_fd);
    }
    if (plan->stdin_fd > 0 && dup2(plan->stdin_fd, 0) < 0) child_fail(error_fd, errno, "dup2", "stdin");
    if ((plan->new_session || plan->terminal_fd >= 0) && setsid() < 0) child_fail(error_fd, errno, "setsid", NULL);
    if (plan->terminal_fd >= 0) {
        for (int fd = 0; fd <= 2; fd++)
            if (dup2(plan->terminal_fd, fd) < 0) child_fail(error_fd, errno, "dup2", "terminal");
        if (ioctl(0, TIOCSCTTY, 0) < 0) child_fail(error_fd, errno, "set controlling terminal", NULL);
    }
    if (plan->null_stdio) {
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0) child_fail(error_fd, errno, "open", "/dev/null");
        int stdout_fd = plan->stdout_fd >= 0 ? plan->stdout_fd : null_fd;
        int stderr_fd = plan->stderr_fd >= 0 ? plan->stderr_fd : plan->stderr_to_stdout ? stdout_fd : null_fd;
        int targets[3] = { null_fd, stdout_fd, stderr_fd };
        for (int fd = 0; fd <= 2; fd++)
            if (dup2(targets[fd], fd) < 0) child_fail(error_fd, errno, "dup2", "/dev/null");
    }
    // Descriptors isorun inherited without close-on-exec (from whoever started it)
    // must not reach the workload: they can hold a caller's pipe open, or leak access.
    // Marked rather than closed, so the setup below can still use its own.
    close_inherited_descriptors(plan->preserved_fds);
    for (int i = 0; i < plan->kept_fd_count; i++)
        if (fcntl(plan->kept_fds[i], F_SETFD, 0) < 0) child_fail(error_fd, errno, "keep descriptor", NULL);

    for (int i = 0; i < plan->join_count; i++)
        if (setns(plan->joins[i].fd, plan->joins[i].nstype) < 0)
            child_fail(error_fd, errno, "setns", NULL);
    if (plan->unshare_cgroup_ns && plan->cgroup_job_step_count == 0 && unshare(CLONE_NEWCGROUP) < 0)
        child_fail(error_fd, errno, "unshare cgroup namespace", NULL);
    // Before the switch to the user namespace's root: that credential change makes the
    // process undumpable, which hands /proc/self to the host's root and bars the write.
    if (plan->unshare_time_ns) unshare_time_namespace(error_fd, plan->time_offsets);
    if ((plan->clone_flags & CLONE_NEWUSER) && syscall(SYS_setresgid, 0, 0, 0) == 0)
        syscall(SYS_setresuid, 0, 0, 0);
    if (plan->unshare_ipc_ns && unshare(CLONE_NEWIPC) < 0)
        child_fail(error_fd, errno, "unshare IPC namespace", NULL);

    // A kernel without keys (ENOSYS) has no keyring to share, and neither does a caller
    // whose own seccomp filter refuses keyctl (EPERM: isorun inside a container): filters
    // are inherited, so the workload cannot reach any keyring either.
    if (plan->session_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, plan->session_keyring) < 0 &&
        errno != ENOSYS && errno != EPERM)
        child_fail(error_fd, errno, "join a session keyring of its own", plan->session_keyring);
    if (plan->rootfs != NULL) {
        setup_rootfs(error_fd, plan, &hooks);
    } else {
        if (plan->cgroup_job_step_count > 0) join_helper_cgroups(error_fd, plan);
        if (plan->mount_count > 0) bind_in_own_namespace(error_fd, plan);
        run_pre_pivot_hooks(error_fd, plan, &hooks);
    }
    if (plan->bring_up_loopback) bring_up_loopback(error_fd);
    if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
        child_fail(error_fd, errno, "sethostname", plan->hostname);
    if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
        child_fail(error_fd, errno, "setdomainname", plan->domainname);
    if (plan->cwd && chdir(plan->cwd) < 0) child_fail(error_fd, errno, "chdir to process.cwd", plan->cwd);

    for (int i = 0; i < plan->rlimit_count; i++) {
        struct rlimit limit = { (rlim_t)plan->rlimits[i].soft, (rlim_t)plan->rlimits[i].hard };
        if (setrlimit(plan->rlimits[i].resource, &limit) < 0) {
            char num[8];
            int_append(num, 0, sizeof num, plan->rlimits[i].resource);
            child_fail(error_fd, errno, "setrlimit", num);
        }
    }
    if (plan->set_umask) umask(plan->umask);
    if (plan->personality >= 0 && personality((unsigned long)plan->personality) < 0)
        child_fail(error_fd, errno, "personality", NULL);
    // The kernel reads one bit fewer than maxnode says (set_mempolicy(2)).
    if (plan->set_memory_policy &&
        syscall(SYS_set_mempolicy, plan->memory_policy_mode, plan->memory_policy_nodes,
                plan->memory_policy_nodes ? plan->memory_policy_node_bits + 1 : 0) < 0)
        child_fail(error_fd, errno, "linux.memoryPolicy: set_mempolicy", NULL);
    if (plan->io_priority >= 0 && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, plan->io_priority) < 0)
        child_fail(error_fd, errno, "process.ioPriority: ioprio_set", NULL);
    if (plan->set_scheduler) set_scheduler(error_fd, plan);

    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
    // credential change may take away; with it, load as late as possible so the
    // filter need not allow the setup calls.
    if (plan->seccomp && !plan->no_new_privs) load_seccomp(error_fd, plan, listener_socket);
    set_credentials_and_caps(error_fd, plan);
    if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_fail(error_fd, errno, "set no_new_privs", NULL);

    // A credential change clears the parent-death signal; set it again and
    // make sure the parent did not die in between.
    if (plan->parent_death_signal) {
        prctl(PR_SET_PDEATHSIG, plan->parent_death_signal, 0, 0, 0);
        struct pollfd pfd = { sync_fd, POLLIN, 0 };
        if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLHUP | POLLERR))) _exit(125);
    }
    if (plan->seccomp && plan->no_new_privs) load_seccomp(error_fd, plan, listener_socket);

    // Handlers do not survive exec, but ignored signals and the mask would.
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    int gate_fd = plan->start_gate_fd;
    if (gate_fd >= 0) {
        // Created: tell the parent (EOF on the error pipe), then wait for `start`. While
        // it waits, nothing isorun or its caller had open may stay open (a caller's pipe
        // would not see EOF until the container ends): close all but the gate (and the
        // descriptors the caller asked to pass on).
        close(error_fd);
        error_fd = -1;
        unsigned first_closed = 3U + (unsigned)plan->preserved_fds;
        if ((unsigned)gate_fd > first_closed) syscall(SYS_close_range, first_closed, (unsigned)gate_fd - 1, 0U);
        syscall(SYS_close_range, (unsigned)gate_fd + 1, ~0U, 0U);
        char go;
        ssize_t got;
        int flags = fcntl(gate_fd, F_GETFL);
        if (flags >= 0) fcntl(gate_fd, F_SETFL, flags & ~O_NONBLOCK);
        do { got = read(gate_fd, &go, 1); } while (got < 0 && errno == EINTR);
        if (got != 1) _exit(125);
        // From here on a failure (a startContainer hook, exec) is reported into the gate,
        // for `start`, which reads it once the lock above is free.
        error_fd = gate_fd;
    }
    run_hooks(error_fd, "startContainer hook", plan->start_container_hooks, plan->start_container_hook_count,
              hooks.created);
    exec_workload(error_fd, plan);
    _exit(125);
}

// MARK: - parent side

#if defined(__x86_64__)
// clone3 onto a new stack, running fn(arg) there in the child: glibc has no clone3
// wrapper, and a child returning from syscall() on the parent's stack would overwrite the
// frame the sleeping parent returns through. r8 and r9 survive the syscall, so the child
// finds fn and arg there; the kernel starts it at args->stack + args->stack_size.
// Returns the child's pid or -errno, as the raw syscall does.
long isorun_clone3_on_stack(struct clone_args *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl isorun_clone3_on_stack\n"
        ".hidden isorun_clone3_on_stack\n"
        ".type isorun_clone3_on_stack, @function\n"
        "isorun_clone3_on_stack:\n"
        "    movq %rdx, %r8\n"
        "    movq %rcx, %r9\n"
        "    movl $435, %eax\n"          // SYS_clone3
        "    syscall\n"
        "    testq %rax, %rax\n"
        "    jnz 1f\n"
        "    xorl %ebp, %ebp\n"          // the child's outermost frame
        "    movq %r9, %rdi\n"
        "    callq *%r8\n"
        "    movl %eax, %edi\n"
        "    movl $60, %eax\n"           // SYS_exit, should fn ever return
        "    syscall\n"
        "    hlt\n"
        "1:  retq\n"
        ".size isorun_clone3_on_stack, .-isorun_clone3_on_stack\n");
#define ISORUN_HAS_CLONE3_ON_STACK 1
#endif

struct at_once_start {
    const struct isorun_spawn_plan *plan;
    int sync_fds[2];
    int error_fds[2];
    const cpu_set_t *widen_affinity_to;
};

static int at_once_child(void *arg) {
    const struct at_once_start *start = arg;
    // The descriptor table is the child's own copy (no CLONE_FILES).
    close(start->sync_fds[1]);
    close(start->error_fds[0]);
    child_main(start->plan, start->sync_fds[0], start->error_fds[1], 0, start->widen_affinity_to, -1);
}

/// The child's stack for a run-at-once clone: it only needs a few pages (its deepest
/// step holds a handful of PATH_MAX buffers), but untouched pages cost nothing. A guard
/// page below catches an overflow.
enum { AT_ONCE_STACK_SIZE = 512 * 1024, AT_ONCE_GUARD_SIZE = 4096 };

/// Clones a child that runs its plan at once (see run_at_once) and returns when it has
/// exec'd or exited: its pid, or -errno. -ENOSYS where that cannot be done here. The
/// child first takes `widen_affinity_to` as its affinity, unless that is NULL.
static long clone_at_once(const struct isorun_spawn_plan *plan, int sync_pipe[2], int error_pipe[2],
                          const cpu_set_t *widen_affinity_to) {
#ifdef ISORUN_HAS_CLONE3_ON_STACK
    char *mapping = mmap(NULL, AT_ONCE_STACK_SIZE + AT_ONCE_GUARD_SIZE, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED) return -errno;
    if (mprotect(mapping, AT_ONCE_GUARD_SIZE, PROT_NONE) < 0) {
        int saved = errno;
        munmap(mapping, AT_ONCE_STACK_SIZE + AT_ONCE_GUARD_SIZE);
        return -saved;
    }
    struct at_once_start start = { plan, { sync_pipe[0], sync_pipe[1] }, { error_pipe[0], error_pipe[1] },
                                   widen_affinity_to };
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = (uint64_t)plan->clone_flags | CLONE_VM | CLONE_VFORK;
    args.exit_signal = SIGCHLD;
    args.stack = (uint64_t)(uintptr_t)(mapping + AT_ONCE_GUARD_SIZE);
    args.stack_size = AT_ONCE_STACK_SIZE;
    if (plan->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)plan->cgroup_fd;
    }
    long pid = isorun_clone3_on_stack(&args, sizeof args, at_once_child, &start);
    // The child shared this stack until its exec or exit, which CLONE_VFORK waited for.
    munmap(mapping, AT_ONCE_STACK_SIZE + AT_ONCE_GUARD_SIZE);
    return pid;
#else
    (void)plan; (void)sync_pipe; (void)error_pipe; (void)widen_affinity_to;
    return -ENOSYS;
#endif
}

pid_t isorun_spawn_start(const struct isorun_spawn_plan *plan, struct isorun_spawn_handle *handle) {
    int sync_pipe[2], error_pipe[2], listener[2] = { -1, -1 };
    if (pipe2(sync_pipe, O_CLOEXEC) < 0) return -errno;
    if (pipe2(error_pipe, O_CLOEXEC) < 0) {
        int saved = errno;
        close(sync_pipe[0]); close(sync_pipe[1]);
        return -saved;
    }
    if (plan->seccomp_listener && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, listener) < 0) {
        int saved = errno;
        close(sync_pipe[0]); close(sync_pipe[1]); close(error_pipe[0]); close(error_pipe[1]);
        return -saved;
    }
    // Block every signal across clone so no handler of the parent's runs in the child.
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    // A raw clone with no new stack behaves like fork, without glibc's atfork handlers.
    // clone3 can create the child inside its cgroup (v2), so no migration is needed.
    long pid = -1;
    int born_in_cgroup = 0, ran_at_once = 0;
    // A helper making the cgroups and the child setting up must not take turns on one
    // CPU while another idles: with the helper on this CPU, the scheduler often put the
    // child here too (0.2 ms a run lost on average). A child run at once starts on this
    // CPU, which idles while it runs (it inherits this process's affinity for that, and
    // widens it back first thing); the helper goes elsewhere. (isorun gives a helper a job
    // only for a child run at once.)
    cpu_set_t allowed, elsewhere, here;
    int spread = plan->cgroup_job_step_count > 0 && plan->cgroup_job_helper > 0 &&
                 isorun_cpus_elsewhere(&allowed, &elsewhere);
    if (spread) CPU_XOR(&here, &allowed, &elsewhere);
    if (plan->run_at_once && !plan->seccomp_listener) {
        int pinned = spread && sched_setaffinity(plan->cgroup_job_helper, sizeof elsewhere, &elsewhere) == 0 &&
                     sched_setaffinity(0, sizeof here, &here) == 0;
        pid = clone_at_once(plan, sync_pipe, error_pipe, pinned ? &allowed : NULL);
        if (pinned) sched_setaffinity(0, sizeof allowed, &allowed);
        if (pid >= 0) {
            ran_at_once = 1;
            born_in_cgroup = plan->cgroup_fd >= 0;
        } else {
            // An old kernel (no clone3) or another architecture: the waiting child below.
            pid = -1;
        }
    }
    // A waiting child sets itself up while its parent goes on (writing the container's
    // record, for one): on another CPU where there is one. The scheduler tends to queue a
    // new child on its parent's CPU, where the two would take turns. The child widens
    // its affinity back once released, so the workload is not pinned.
    int away = pid < 0 && isorun_cpus_elsewhere(&allowed, &elsewhere);
    if (pid < 0 && plan->cgroup_fd >= 0) {
        struct clone_args args;
        memset(&args, 0, sizeof args);
        args.flags = (uint64_t)plan->clone_flags | CLONE_INTO_CGROUP;
        args.exit_signal = SIGCHLD;
        args.cgroup = (uint64_t)plan->cgroup_fd;
        pid = syscall(SYS_clone3, &args, sizeof args);
        if (pid >= 0) born_in_cgroup = 1;
    }
    if (pid < 0) pid = syscall(SYS_clone, (unsigned long)(plan->clone_flags | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid == 0) {
        close(sync_pipe[1]);
        close(error_pipe[0]);
        if (listener[0] >= 0) close(listener[0]);
        child_main(plan, sync_pipe[0], error_pipe[1], 1, away ? &allowed : NULL, listener[1]);
    }
    if (pid > 0 && away && !ran_at_once) sched_setaffinity((pid_t)pid, sizeof elsewhere, &elsewhere);
    int saved = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(sync_pipe[0]);
    close(error_pipe[1]);
    if (listener[1] >= 0) close(listener[1]);
    if (pid < 0) {
        close(sync_pipe[1]);
        close(error_pipe[0]);
        if (listener[0] >= 0) close(listener[0]);
        return -saved;
    }
    handle->pid = (pid_t)pid;
    handle->sync_fd = sync_pipe[1];
    handle->error_fd = error_pipe[0];
    handle->born_in_cgroup = born_in_cgroup;
    handle->ran_at_once = ran_at_once;
    handle->listener_socket = listener[0];
    handle->seccomp_notify_fd = -1;
    handle->listener_received = 0;
    return (pid_t)pid;
}

/// The child's seccomp listener, or -1 at EOF or on error.
static int receive_listener(int socket) {
    char payload[16];
    ssize_t length;
    return isorun_receive_fd(socket, payload, sizeof payload, &length);
}

/// Waits for the child's seccomp listener or its report, whichever comes first: 1 with
/// the listener in handle->seccomp_notify_fd, 0 when only a report (or EOF) is left. The
/// await after the listener came means the agent has it: the child may go on.
static int await_listener(struct isorun_spawn_handle *handle) {
    if (handle->listener_socket >= 0 && handle->listener_received) {
        char handed = 1;
        ssize_t n;
        do { n = send(handle->listener_socket, &handed, 1, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
        close(handle->listener_socket);
        handle->listener_socket = -1;
        return 0;
    }
    while (handle->listener_socket >= 0) {
        struct pollfd fds[2] = { { handle->listener_socket, POLLIN, 0 }, { handle->error_fd, POLLIN, 0 } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return 0;
        }
        if (fds[0].revents) {
            // A child that failed before its filter closes its end without passing anything.
            int fd = (fds[0].revents & POLLIN) ? receive_listener(handle->listener_socket) : -1;
            if (fd < 0) {
                close(handle->listener_socket);
                handle->listener_socket = -1;
                return 0;
            }
            handle->seccomp_notify_fd = fd;
            handle->listener_received = 1;
            return 1;
        }
        if (fds[1].revents) return 0;
    }
    return 0;
}

/// Reads the child's report: EOF (exec'd or at its gate: 0), the hook barrier (1), or
/// a failure (-1, `error` filled). Closes the pipes unless the child only paused.
static int await_child(struct isorun_spawn_handle *handle, struct isorun_child_error *error) {
    if (await_listener(handle)) return ISORUN_SECCOMP_LISTENER_READY;
    size_t got = 0;
    while (got < sizeof *error) {
        ssize_t n = read(handle->error_fd, (char *)error + got, sizeof *error - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got == sizeof *error && error->err == ISORUN_AT_HOOK_BARRIER) {
        memset(error, 0, sizeof *error);
        return 1;
    }
    close(handle->error_fd);
    close(handle->sync_fd);
    handle->error_fd = handle->sync_fd = -1;
    if (handle->listener_socket >= 0) close(handle->listener_socket);
    handle->listener_socket = -1;
    return got > 0 ? -1 : 0;
}

static int send_to_child(struct isorun_spawn_handle *handle, struct isorun_child_error *error,
                         const void *data, size_t length) {
    if (write_all(handle->sync_fd, data, length) == 0) return 0;
    error->err = errno;
    str_append(error->what, 0, sizeof error->what, "release child");
    close(handle->error_fd);
    close(handle->sync_fd);
    if (handle->listener_socket >= 0) close(handle->listener_socket);
    handle->error_fd = handle->sync_fd = handle->listener_socket = -1;
    return -1;
}

int isorun_spawn_let_go(struct isorun_spawn_handle *handle, struct isorun_child_error *error,
                        const void *hook_states, size_t hook_states_length) {
    char go = 1;
    memset(error, 0, sizeof *error);
    if (handle->ran_at_once) return 0;
    if (send_to_child(handle, error, &go, 1) < 0) return -1;
    if (hook_states_length > 0 && send_to_child(handle, error, hook_states, hook_states_length) < 0) return -1;
    return 0;
}

int isorun_spawn_await(struct isorun_spawn_handle *handle, struct isorun_child_error *error) {
    memset(error, 0, sizeof *error);
    return await_child(handle, error);
}


int isorun_spawn_resume(struct isorun_spawn_handle *handle, struct isorun_child_error *error) {
    char go = 1;
    memset(error, 0, sizeof *error);
    if (send_to_child(handle, error, &go, 1) < 0) return -1;
    int rc = await_child(handle, error);
    return rc == 1 ? -1 : rc;
}

void isorun_spawn_abort(struct isorun_spawn_handle *handle) {
    if (handle->sync_fd >= 0) close(handle->sync_fd);
    if (handle->error_fd >= 0) close(handle->error_fd);
    if (handle->listener_socket >= 0) close(handle->listener_socket);
    handle->sync_fd = handle->error_fd = handle->listener_socket = -1;
    kill(handle->pid, SIGKILL);
    while (waitpid(handle->pid, NULL, 0) < 0 && errno == EINTR) {}
}
