#include "isorun_guest.h"

#include <sys/io.h>
#include <sys/reboot.h>
#include <unistd.h>

void isorun_guest_restart(void) {
    sync();
    reboot(RB_AUTOBOOT);
}

void isorun_guest_debug_exit(unsigned char status) {
    if (ioperm(0xf4, 1, 1) != 0) return;
    outb(status, 0xf4);
}
