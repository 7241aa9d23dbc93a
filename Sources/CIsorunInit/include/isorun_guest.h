// The few guest-side calls Swift's Glibc module does not offer.
#ifndef ISORUN_GUEST_H
#define ISORUN_GUEST_H

/// Syncs and restarts the machine. isorun always starts QEMU with -no-reboot,
/// so a restart ends QEMU; unlike power-off it needs no ACPI in the guest
/// kernel (without a power-off driver the kernel would only halt).
/// Returns only if the kernel refused.
void isorun_guest_restart(void);

/// Writes `status` to QEMU's isa-debug-exit port (0xf4), which ends QEMU with
/// (status << 1) | 1: a last resort when restarting failed.
/// Returns if the port cannot be reached (no such device, or no ioperm).
void isorun_guest_debug_exit(unsigned char status);

/// Brings the loopback interface up (the kernel starts it down): services in the
/// guest listen on 127.0.0.1. Returns 0, or -1 with errno set.
int isorun_guest_loopback_up(void);

#endif
