// Calls getpid by its x32 number (the x86_64 one with bit 30 set) and prints what came
// back: "pid" on a kernel that runs x32 calls, otherwise "errno N". Built statically
// with musl-gcc by SeccompArchitectureTests, so that it runs in any rootfs.
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    long result = syscall(0x40000000L | SYS_getpid);
    if (result < 0) printf("errno %d\n", errno);
    else printf("pid\n");
    return 0;
}
