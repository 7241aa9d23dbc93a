// statfs(2), which Swift's Glibc module does not export.
#include "isorun_shim.h"

#include <errno.h>
#include <sched.h>
#include <sys/vfs.h>

long isorun_filesystem_magic(const char *path) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -errno;
    return (long)info.f_type;
}

int isorun_setns(int fd, int nstype) {
    return setns(fd, nstype) == 0 ? 0 : -errno;
}
