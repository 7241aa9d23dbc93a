#!/usr/bin/env bash
# Build the isorun guest kernel (uncompressed vmlinux, booted through PVH by
# QEMU -M microvm) from Debian's linux-source-6.1: `make tinyconfig`, then the
# fragment isorun-guest.config merged on top.
#
# Output is cached under ${ISORUN_CACHE:-/var/cache/isorun}/kernel/<key>/, where
# key = sha256(fragment + this script + linux-source package version). A cache
# hit builds nothing. Progress goes to stderr; the last line on stdout is the
# path of the vmlinux.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
fragment="$here/isorun-guest.config"
src_pkg=linux-source-6.1
tarball=/usr/src/linux-source-6.1.tar.xz
deps=("$src_pkg" build-essential bc flex bison libelf-dev xz-utils)

build_name=isorun-kernel
# shellcheck source=../build-cache.sh
source "$here/../build-cache.sh"

[[ "$(uname -m)" == x86_64 ]] || die "only x86_64 hosts are supported (no cross build)"
[[ -f "$fragment" ]] || die "missing $fragment"

install_missing "${deps[@]}"
[[ -f "$tarball" ]] || die "$tarball not found (is $src_pkg installed?)"

src_version="$(dpkg-query -W -f='${Version}' "$src_pkg")"
# Bump when a change to the build steps below changes the kernel they produce;
# edits that do not (messages, cleanup) then cost no rebuild.
recipe=2
# Small source patches (patches/*.patch, applied in name order with patch -p1).
patches=("$here"/patches/*.patch)
[[ -e "${patches[0]}" ]] || patches=()
key="$(printf 'recipe %s\n%s %s\n' "$recipe" "$src_pkg" "$src_version" | cache_key "$fragment" ${patches[@]+"${patches[@]}"})"
cache_root="${ISORUN_CACHE:-/var/cache/isorun}/kernel"
out="$cache_root/$key"
# isorun boots <cache>/kernel/current/vmlinux.
cache_hit_or_lock "$cache_root" "$key" vmlinux "$src_pkg $src_version"

cache_workspaces kernel "$cache_root" "$key"

start=$SECONDS
log "building $src_pkg $src_version, key $key"
log "extracting $tarball"
tar -xf "$tarball" -C "$work" --strip-components=1
cd "$work"
for p in ${patches[@]+"${patches[@]}"}; do
    log "applying $(basename "$p")"
    patch -p1 --forward --quiet < "$p" >&2 || die "patch $(basename "$p") failed"
done

# The compiler's chatter goes to a log, shown only when a step fails.
kmake() {
    make ARCH=x86_64 KBUILD_BUILD_USER=isorun KBUILD_BUILD_HOST=isorun "$@" >>"$work/build.log" 2>&1 \
        || { tail -40 "$work/build.log" >&2; die "make $* failed"; }
}

kmake tinyconfig
scripts/kconfig/merge_config.sh -m .config "$fragment" >>"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; die "merge_config.sh failed"; }
kmake olddefconfig

# Every option the fragment names must have survived Kconfig dependency
# resolution exactly as written; a silently dropped option is a broken guest.
bad=()
while IFS= read -r line; do
    case "$line" in
        CONFIG_*=*)
            grep -qxF -- "$line" .config || {
                got="$(grep -E "^(# )?${line%%=*}[= ]" .config || true)"
                bad+=("$line (got: ${got:-absent})")
            } ;;
        "# CONFIG_"*" is not set")
            sym="${line#\# }"; sym="${sym%% *}"
            if grep -qE "^$sym=" .config; then
                bad+=("$line (got: $(grep -E "^$sym=" .config))")
            fi ;;
    esac
done < "$fragment"
if ((${#bad[@]})); then
    log "these fragment options did not end up as requested:"
    printf '  %s\n' "${bad[@]}" >&2
    die "config check failed (${#bad[@]} option(s))"
fi
log "config check passed"

log "compiling vmlinux with $(nproc) jobs (a few minutes)"
kmake -j"$(nproc)" vmlinux

# Debug info only grows the file; QEMU loads the PT_LOAD segments and reads
# the PVH entry from the ELF note, both of which strip keeps.
if readelf -S --wide vmlinux | grep -q '\.debug_'; then
    objcopy --strip-debug vmlinux
fi
strip --strip-all vmlinux

cp vmlinux "$stage/vmlinux"
cp .config "$stage/config"
cp System.map "$stage/System.map"   # to decode raw panic addresses
printf '%s %s\n' "$src_pkg" "$src_version" > "$stage/source-version"
chmod 0755 "$stage"
mv -T "$stage" "$out"

log "built in $((SECONDS - start))s: $(stat -c %s "$out/vmlinux") bytes"
cache_publish "$cache_root" "$key" vmlinux
