// Turns a libseccomp filter into raw BPF in the parent, so the child only has
// to hand it to prctl(): libseccomp's loader allocates, which a forked child must not.
#include "isorun_shim.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
