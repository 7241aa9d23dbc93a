// Entering the rootfs without pivot_root (move_root.c): private to the shim.
#ifndef ISORUN_MOVE_ROOT_H
#define ISORUN_MOVE_ROOT_H

/// Detaches every mount outside `rootfs` (an absolute path, itself a mount point), moves
/// `rootfs` onto / and chroots into it. 0, or -errno with `failed_step` naming the step.
int isorun_move_root(const char *rootfs, const char **failed_step);

#endif
