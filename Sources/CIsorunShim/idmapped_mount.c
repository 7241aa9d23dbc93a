// Idmapped bind mounts, prepared by the parent: a detached copy of the source mount whose
// file owners are shown through a user namespace made for the purpose. The parent does it
// because MOUNT_ATTR_IDMAP needs CAP_SYS_ADMIN in the user namespace that owns the source
// mount (the host's), which a child in a new user namespace has lost; the child only
// attaches the tree (move_mount) inside its own mount namespace.
#include "isorun_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t length = strlen(text);
    ssize_t written = write(fd, text, length);
    int saved = errno;
    close(fd);
    errno = saved;
    return written == (ssize_t)length ? 0 : -1;
}

// A user namespace with these maps, held by a child that waits on a pipe until the
// namespace is open here. The child is a raw clone: glibc's fork would run atfork
// handlers that may take locks another thread of isorun holds.
static int user_namespace_with_maps(const char *uid_map, const char *gid_map, const char **failed) {
    int gate[2];
    if (pipe2(gate, O_CLOEXEC) < 0) { *failed = "pipe"; return -1; }
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid < 0) {
        int saved = errno;
        close(gate[0]);
        close(gate[1]);
        errno = saved;
        *failed = "clone a user namespace";
        return -1;
    }
    if (pid == 0) {
        char byte;
        close(gate[1]);
        while (read(gate[0], &byte, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    close(gate[0]);
    char path[64];
    int fd = -1;
    snprintf(path, sizeof path, "/proc/%ld/uid_map", pid);
    if (write_file(path, uid_map) < 0) { *failed = "write uid_map of the mount's user namespace"; goto done; }
    snprintf(path, sizeof path, "/proc/%ld/gid_map", pid);
    if (write_file(path, gid_map) < 0) { *failed = "write gid_map of the mount's user namespace"; goto done; }
    snprintf(path, sizeof path, "/proc/%ld/ns/user", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) *failed = "open the mount's user namespace";
done:;
    int saved = errno;
    close(gate[1]);  // the child ends
    while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {}
    errno = saved;
    return fd;
}

int isorun_idmapped_tree(const char *source, const char *uid_map, const char *gid_map, int recursive_bind,
                         int recursive_idmap, const char **failed) {
    int userns = user_namespace_with_maps(uid_map, gid_map, failed);
    if (userns < 0) return -1;
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, source,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive_bind ? AT_RECURSIVE : 0));
    if (tree < 0) {
        *failed = "open_tree";
    } else {
        struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)userns };
        if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive_idmap ? AT_RECURSIVE : 0), &attr,
                    sizeof attr) < 0) {
            *failed = "mount_setattr(MOUNT_ATTR_IDMAP)";
            int saved = errno;
            close(tree);
            errno = saved;
            tree = -1;
        }
    }
    int saved = errno;
    close(userns);
    errno = saved;
    return tree;
}
