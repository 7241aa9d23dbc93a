#!/usr/bin/env bash
# Build the QEMU isorun runs its VMs in: Debian's own source of the installed
# qemu-system-x86 (same version, same security fixes), configured for one machine
# (microvm) with only the devices isorun attaches, TCG and KVM, plus patches/*.patch.
#
# Why: Debian's qemu-system-x86_64 links 51 libraries and every board and device;
# each idle VM held ~30 MiB of QEMU's code, libraries and copies of the guest kernel
# and initramfs (see the README's VM section). The firmware (qboot, pvh.bin) still
# comes from Debian's qemu-system-data.
#
# Output is cached under ${ISORUN_CACHE:-/var/cache/isorun}/qemu/<key>/, where
# key = sha256(devices.mak + patches + recipe number + QEMU source version); `current`
# points at the last good build. isorun uses current/bin/qemu-system-x86_64 when it
# exists and the system's qemu-system-x86_64 otherwise. Progress goes to stderr; the
# last line on stdout is the path of the binary.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
devices="$here/devices.mak"
binary_pkg=qemu-system-x86
deps=(dpkg-dev build-essential ninja-build meson pkg-config python3 xz-utils
      libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev libcap-ng-dev libattr1-dev libseccomp-dev "$binary_pkg")
src_base=/etc/apt/sources.list.d/isorun-debian-src

build_name=isorun-qemu
# shellcheck source=../build-cache.sh
source "$here/../build-cache.sh"

[[ "$(uname -m)" == x86_64 ]] || die "only x86_64 hosts are supported"
[[ -f "$devices" ]] || die "missing $devices"

install_missing "${deps[@]}"

# The source of the QEMU Debian installed, e.g. 1:7.2+dfsg-7+deb12u18.
version="$(dpkg-query -W -f='${source:Version}' "$binary_pkg")"
# Bump when a change to the steps below changes the binary they produce.
recipe=3
patches=("$here"/patches/*.patch)
[[ -e "${patches[0]}" ]] || patches=()
key="$(printf 'recipe %s\nqemu %s\n' "$recipe" "$version" | cache_key "$devices" ${patches[@]+"${patches[@]}"})"
cache_root="${ISORUN_CACHE:-/var/cache/isorun}/qemu"
out="$cache_root/$key"
cache_hit_or_lock "$cache_root" "$key" bin/qemu-system-x86_64 "qemu $version"

# apt-get source needs deb-src entries: a copy of each entry this system installs
# Debian's packages of this release from (its -updates and -security included), with
# the type changed and everything else (mirror, Signed-By) kept.
deb_src_copy() { # sources-entry as apt names it: FILE:N (N-th stanza, or line of a .list)
    local file=${1%:*} n=${1##*:}
    case $file in
        *.sources) awk -v n="$n" 'BEGIN { RS = ""; FS = "\n" } NR == n {
                       for (i = 1; i <= NF; i++) if ($i !~ /^#/) print ($i ~ /^Types:/ ? "Types: deb-src" : $i)
                       print "" }' "$file" >>"$src_base.sources" ;;
        *) sed -n "${n}s/^[[:space:]]*deb[[:space:]]/deb-src /p" "$file" >>"$src_base.list" ;;
    esac
}
ensure_source_entries() {
    apt-get source --print-uris -qq "qemu=$version" 2>/dev/null | grep -q "^'" && return 0
    local codename entry
    codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
    [[ -n $codename ]] || die "no VERSION_CODENAME in /etc/os-release"
    rm -f "$src_base.sources" "$src_base.list"
    for entry in $(apt-get indextargets --format '$(TARGET_OF) $(ORIGIN) $(RELEASE) $(SOURCESENTRY)' \
            | awk -v c="$codename" '$1 == "deb" && $2 == "Debian" && ($3 == c || index($3, c "-") == 1) { print $4 }' \
            | sort -u); do
        deb_src_copy "$entry"
    done
    [[ -s "$src_base.sources" || -s "$src_base.list" ]] || die "apt installs nothing from Debian $codename: no deb-src entries to derive"
    log "deb-src entries -> $src_base.{sources,list}"
    apt-get update -qq >&2
}

cache_workspaces qemu "$cache_root" "$key"

start=$SECONDS
log "building qemu $version, key $key"
ensure_source_entries
# apt-get source verifies what it downloads against the signed Sources index.
(cd "$work" && apt-get source -qq "qemu=$version" >"$work/source.log" 2>&1) \
    || { tail -5 "$work/source.log" >&2; die "apt-get source qemu=$version failed"; }
src="$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -1)"
[[ -n $src ]] || die "apt-get source left no qemu-* directory"
cd "$src"
for p in ${patches[@]+"${patches[@]}"}; do
    log "applying $(basename "$p")"
    patch -p1 --forward --quiet < "$p" >&2 || die "patch $(basename "$p") failed"
done
cp "$devices" configs/devices/x86_64-softmmu/isorun.mak

mkdir build && cd build
# --prefix=/usr: QEMU finds its firmware relative to the binary (../share/qemu),
# which the output directory links to Debian's /usr/share/qemu.
../configure --prefix=/usr --target-list=x86_64-softmmu --enable-tcg --enable-kvm \
    --without-default-features --without-default-devices --with-devices-x86_64=isorun \
    --enable-virtfs --enable-attr --enable-cap-ng --enable-seccomp \
    --disable-docs --disable-user --disable-tools --disable-install-blobs --audio-drv-list= \
    --with-pkgversion="isorun's microvm build of Debian $version" \
    >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; die "configure failed"; }
log "compiling with $(nproc) jobs (about 4 minutes on 2 cores)"
ninja -j"$(nproc)" qemu-system-x86_64 >"$work/build.log" 2>&1 \
    || { grep -B2 -A10 -m1 'FAILED' "$work/build.log" >&2 || tail -30 "$work/build.log" >&2; die "build failed"; }

mkdir -p "$stage/bin" "$stage/share"
strip -o "$stage/bin/qemu-system-x86_64" qemu-system-x86_64
ln -s /usr/share/qemu "$stage/share/qemu"
printf 'qemu %s\n' "$version" > "$stage/source-version"
# The devices isorun's command line attaches (Sources/IsorunVM/QemuCommandLine.swift).
have="$("$stage/bin/qemu-system-x86_64" -device help 2>&1)"
for device in virtio-serial-device virtserialport virtio-balloon-device virtio-blk-device virtio-9p-device virtio-net-device; do
    grep -q "\"$device\"" <<<"$have" || die "the built QEMU lacks $device"
done
# isorun confines every VM's QEMU with its own seccomp filter (-sandbox, see QemuCommandLine).
"$stage/bin/qemu-system-x86_64" -sandbox on -version >/dev/null 2>&1 || die "the built QEMU lacks -sandbox (seccomp)"
# What isorun may ask of this build (a build of an earlier recipe has no such file).
printf 'sandbox\n' > "$stage/features"
# A bundle's network interfaces reach the guest through tap descriptors isorun opens.
"$stage/bin/qemu-system-x86_64" -M microvm -netdev help 2>&1 | grep -qx tap || die "the built QEMU lacks the tap netdev"
chmod 0755 "$stage"
mv -T "$stage" "$out"

log "built in $((SECONDS - start))s: $(stat -c %s "$out/bin/qemu-system-x86_64") bytes"
cache_publish "$cache_root" "$key" bin/qemu-system-x86_64
