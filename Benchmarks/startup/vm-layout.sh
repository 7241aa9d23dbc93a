#!/usr/bin/env bash
# Where the initramfs stops paying: boot-to-exit of `isorun --mode vm ... -- true` with the
# rootfs in the initramfs vs on an erofs disk, for hello's rootfs padded with incompressible
# data to each size in SIZES_MIB. The result chose GuestImageCache.initramfsLimitBytes.
#
# Environment: SIZES_MIB (default "8 32 64"), RUNS (default 8), ISORUN (default
# .build/release/isorun). Needs root, hyperfine, python3, the guest kernel (make kernel).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
isorun=$(realpath "${ISORUN:-$repo/.build/release/isorun}")
runs=${RUNS:-8}
tmp=$(mktemp -d /tmp/isorun-layout.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for mib in ${SIZES_MIB:-8 32 64}; do
    bundle=$tmp/pad-$mib
    mkdir -p "$bundle"
    cp -a "$repo/Bundles/hello.bundle/rootfs" "$bundle/rootfs"
    head -c "${mib}M" /dev/urandom >"$bundle/rootfs/pad.bin"
    cp "$repo/Bundles/hello.bundle/config.json" "$bundle/config.json"
    for layout in initramfs disk; do "$isorun" --mode vm --vm-root "$layout" "$bundle" -- true; done  # build the images
    hyperfine -N --warmup 1 --runs "$runs" --time-unit millisecond \
        -n "$mib MiB in the initramfs" "$isorun --mode vm --vm-root initramfs $bundle -- true" \
        -n "$mib MiB on an erofs disk" "$isorun --mode vm --vm-root disk $bundle -- true"
done
