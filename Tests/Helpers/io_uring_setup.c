// Asks for an io_uring of four entries and prints what came back: "ring" when the kernel
// made one, otherwise "errno N". Built statically with musl-gcc by SeccompArchitectureTests,
// so that it runs in any rootfs.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    unsigned char params[120];  // struct io_uring_params: the kernel wants it zeroed
    memset(params, 0, sizeof params);
    long fd = syscall(425 /* io_uring_setup */, 4, params);
    if (fd < 0) printf("errno %d\n", errno);
    else printf("ring\n");
    return 0;
}
