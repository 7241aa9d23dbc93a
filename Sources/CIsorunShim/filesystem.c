// statfs(2), setns(2) and memfd_create(2), which Swift's Glibc module does not export.
#include "isorun_shim.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

long isorun_filesystem_magic(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -errno;
    return (long)info.f_type;
}

int isorun_setns(int fd, int nstype) {
    return setns(fd, nstype) == 0 ? 0 : -errno;
}

int isorun_memfd_create(const char *name) {
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}
