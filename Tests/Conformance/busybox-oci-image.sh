#!/usr/bin/env bash
# Writes a one-layer OCI image (image-spec image layout, packed as a tar archive) holding
# Debian's static busybox, for the conformance scripts to import into containerd or podman
# without a registry:
#
#   Tests/Conformance/busybox-oci-image.sh OUT.tar [NAME [CMD_JSON]]
#
# NAME defaults to localhost/isorun-busybox:latest, CMD_JSON (the config's Cmd) to ["sh"]; a
# CRI pod's sandbox ("pause") image needs one that keeps running, e.g. '["sleep","2147483647"]'.
#
# Layout: oci-layout, index.json -> manifest -> config + one uncompressed layer with
# /bin/busybox, symlinks for the usual applets, /etc/passwd and /etc/group, empty /proc /sys
# /dev /tmp /root /run. The layer is reproducible (fixed owner, mtime and order). index.json
# names the image twice: io.containerd.image.name (what `ctr image import` uses) and
# org.opencontainers.image.ref.name (what `podman load` / the oci-archive: transport use).
# Needs busybox-static (installed by the caller), tar, coreutils.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 3 ] || { echo "usage: $0 OUT.tar [NAME [CMD_JSON]]" >&2; exit 2; }
out=$(readlink -f "$1")
name=${2:-localhost/isorun-busybox:latest}
cmd=${3:-'["sh"]'}
[ -x /bin/busybox ] || { echo "$0: /bin/busybox missing (apt-get install busybox-static)" >&2; exit 2; }

work=$(mktemp -d /tmp/isorun-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs lay=$work/layout
arch=$(dpkg --print-architecture)      # amd64, arm64, … are OCI's names too

mkdir -p "$rootfs"/{bin,etc,proc,sys,dev,tmp,root,run} "$lay/blobs/sha256"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh ash echo sleep cat ls ps true false id env hostname kill mount umount \
         grep sed head tail wc mkdir rm touch date uname pwd printf test '['; do
    ln -s busybox "$rootfs/bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$rootfs" \
    -cf "$work/layer.tar" bin etc proc sys dev tmp root run

blob() {   # blob FILE -> prints "sha256:HEX SIZE" and moves FILE into blobs/sha256/
    local h s
    h=$(sha256sum "$1" | cut -d' ' -f1)
    s=$(stat -c %s "$1")
    mv "$1" "$lay/blobs/sha256/$h"
    echo "sha256:$h $s"
}

read -r layer_d layer_s < <(blob "$work/layer.tar")
# The uncompressed layer's digest is also its diff_id.
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"isorun Tests/Conformance/busybox-oci-image.sh"}]}' \
    "$arch" "$cmd" "$layer_d" >"$work/config.json"
read -r cfg_d cfg_s < <(blob "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%s}]}' \
    "$cfg_d" "$cfg_s" "$layer_d" "$layer_s" >"$work/manifest.json"
read -r man_d man_s < <(blob "$work/manifest.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$man_d" "$man_s" "$arch" "$name" "$name" >"$lay/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$lay/oci-layout"
tar --numeric-owner --owner=0 --group=0 -C "$lay" -cf "$out" oci-layout index.json blobs
