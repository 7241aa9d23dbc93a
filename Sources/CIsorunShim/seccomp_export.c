// Turns a libseccomp filter into raw BPF in the parent, so the child only has
// to hand it to prctl(): libseccomp's loader allocates, which a forked child must not.
#include "isorun_shim.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int isorun_seccomp_export(scmp_filter_ctx ctx, struct sock_fprog *prog) {
    int fd = memfd_create("isorun-seccomp", MFD_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = seccomp_export_bpf(ctx, fd);
    if (rc < 0) { close(fd); return rc; }
    struct stat st;
    if (fstat(fd, &st) < 0) { rc = -errno; close(fd); return rc; }
    void *buffer = malloc((size_t)st.st_size);
    if (buffer == NULL) { close(fd); return -ENOMEM; }
    ssize_t got = pread(fd, buffer, (size_t)st.st_size, 0);
    close(fd);
    if (got != st.st_size) { free(buffer); return -EIO; }
    prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    prog->filter = buffer;
    return 0;
}

int isorun_kernel_runs_x32(void) {
#if defined(__x86_64__)
    // x32's getpid: the x86_64 number with bit 30 set. A kernel without the ABI says
    // ENOSYS; a seccomp filter isorun itself runs under may say EPERM, and then the
    // calls are no use to a container either.
    return syscall(0x40000000L | SYS_getpid) >= 0;
#else
    return 0;
#endif
}
