#!/usr/bin/env bash
# Fallback guest kernel: Debian's linux-image-cloud-amd64, unpacked (not installed)
# into ${ISORUN_CACHE:-/var/cache/isorun}/kernel/debian-<version>/ with the modules
# isorun-init must load for it, and made `current`. `make kernel` runs this only
# when build.sh cannot build isorun's own kernel.
#
# That kernel has virtio, erofs and overlay as modules and no virtio-mmio command
# line devices, so isorun boots it on `-M microvm` with ACPI (and without
# noapictimer, which hangs it there); boots take about 2 s instead of 0.4 s under TCG.
set -euo pipefail

log() { printf 'isorun-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cache_root="${ISORUN_CACHE:-/var/cache/isorun}/kernel"
package=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[[ -n "$package" ]] || die "apt knows no linux-image-cloud-amd64 (apt-get update?)"
version=$(apt-cache show "$package" | awk '/^Version:/ { print $2; exit }')
out="$cache_root/debian-$version"

publish() {
    ln -sfn "$(basename "$out")" "$cache_root/current"
    log "NOTICE: using Debian's stock kernel $package $version: isorun's own kernel could not be built (see above); VM boots are slower"
    echo "$out/vmlinuz"
}
if [[ -f "$out/vmlinuz" ]]; then publish; exit 0; fi

mkdir -p "$cache_root"
work=$(mktemp -d "${TMPDIR:-/tmp}/isorun-stock-kernel.XXXXXX")
stage=$(mktemp -d "$cache_root/.tmp.debian.XXXXXX")
trap 'rm -rf "$work" "$stage"' EXIT
chmod 777 "$work"   # apt's download user writes there
log "fetching $package $version"
(cd "$work" && apt-get download -qq "$package")
dpkg-deb -x "$work"/*.deb "$work/x"
release=$(basename "$(find "$work/x/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -1)")
modules="$work/x/lib/modules/$release/kernel"

cp "$(find "$work/x/boot" -name 'vmlinuz-*' | head -1)" "$stage/vmlinuz"
mkdir "$stage/modules"
# Dependencies first (from each module's modinfo "depends="); plain .ko is what the
# kernel loads, compressed ones are unpacked here.
for module in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_mmio \
              drivers/char/virtio_console drivers/block/virtio_blk lib/libcrc32c \
              fs/erofs/erofs fs/overlayfs/overlay; do
    name=$(basename "$module").ko
    if [[ -f "$modules/$module.ko" ]]; then cp "$modules/$module.ko" "$stage/modules/$name"
    elif [[ -f "$modules/$module.ko.xz" ]]; then xz -dc "$modules/$module.ko.xz" >"$stage/modules/$name"
    elif [[ -f "$modules/$module.ko.zst" ]]; then zstd -qdc "$modules/$module.ko.zst" >"$stage/modules/$name"
    else die "$package has no $module module"
    fi
    echo "$name" >>"$stage/modules/order"
done
printf '%s %s\n' "$package" "$version" >"$stage/source-version"
chmod 0755 "$stage"
rm -rf "$out"
mv -T "$stage" "$out"
publish
