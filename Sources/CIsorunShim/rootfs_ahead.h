// The helper's side of the rootfs made ahead (rootfs_ahead.c): private to the shim.
#ifndef ISORUN_ROOTFS_AHEAD_H
#define ISORUN_ROOTFS_AHEAD_H

/// Called by the network namespace's helper once it has sent the namespace: makes the
/// rootfs if isorun sends a plan for it, and sends back its mount namespace.
void isorun_serve_rootfs_ahead(int sock);

#endif
