#!/usr/bin/env bash
# VM startup benchmark: boot-to-exit of `isorun --mode vm` on the hello bundle, in one
# hyperfine run beside
#   - "qemu, same kernel+initramfs": the QEMU isorun runs, started by hand with isorun's
#     guest kernel, the very initramfs isorun built and the same TCG flags, whose init is
#     `busybox reboot -f` (the floor for this kernel: no isorun on either side, no virtio
#     ports, no protocol);
#   - "qemu -M pc, Debian kernel": a stock boot (Debian's QEMU) of Debian's
#     linux-image-cloud-amd64 to a busybox init that reboots at once (the reference the
#     targets are stated against);
# then the resident memory of QEMU and of isorun's supervisor next to an idle VM.
#
# Environment: RUNS (default 10), OUT (default Benchmarks/results/vm-<date>), ISORUN
# (default .build/release/isorun), CHECK=1 to exit 1 when a target is missed.
# Needs root, hyperfine, qemu-system-x86_64, the guest kernel (make kernel), python3.
set -euo pipefail
set -f

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
runs=${RUNS:-10}
out=${OUT:-Benchmarks/results/vm-$(date +%Y%m%d-%H%M%S)}
isorun=$(realpath "${ISORUN:-.build/release/isorun}")
bundle=$(realpath Bundles/hello.bundle)
cache=${ISORUN_CACHE:-/var/cache/isorun}
check=${CHECK:-0}

die() { echo "vm bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root"
for tool in hyperfine qemu-system-x86_64 python3 cpio; do
    command -v "$tool" >/dev/null || die "$tool not found (make deps)"
done
kernel=$(realpath "$cache/kernel/current/vmlinux" 2>/dev/null) || die "no guest kernel (make kernel)"
[ -x "$isorun" ] || die "$isorun is not an executable (make release)"
case $runs in ''|*[!0-9]*|0) die "RUNS must be a positive integer, got '$runs'" ;; esac

tmp=$(mktemp -d /tmp/isorun-vmbench.XXXXXX)
background=()
cleanup() {
    for pid in "${background[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Debian's cloud kernel, unpacked from its .deb (installing it would run initramfs and
# bootloader hooks on this host for nothing).
debian_kernel_dir=$cache/debian-kernel
debian_kernel=$(find "$debian_kernel_dir/boot" -name 'vmlinuz-*' 2>/dev/null | head -1 || true)
if [ -z "$debian_kernel" ]; then
    echo "fetching linux-image-cloud-amd64 for the stock-boot reference..."
    mkdir -p "$tmp/deb" "$debian_kernel_dir/boot"
    chmod 777 "$tmp/deb"   # apt's download user writes there
    (cd "$tmp/deb" && apt-get download -qq "$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')")
    dpkg-deb -x "$(find "$tmp/deb" -name '*.deb' | head -1)" "$tmp/deb/x"
    find "$tmp/deb/x/boot" -name 'vmlinuz-*' -exec cp {} "$debian_kernel_dir/boot/" \;
    debian_kernel=$(find "$debian_kernel_dir/boot" -name 'vmlinuz-*' | head -1)
    [ -n "$debian_kernel" ] || die "no vmlinuz in linux-image-cloud-amd64"
fi

# isorun builds (and caches) the initramfs on its first run; the hand-started QEMU boots
# that same file.
"$isorun" --mode vm "$bundle" -- true || die "isorun --mode vm failed"
debug=$("$isorun" --debug --mode vm "$bundle" -- true 2>&1)
initramfs=$(sed -n 's/.* -initrd \([^ ]*\) .*/\1/p' <<<"$debug" | head -1)
[ -f "$initramfs" ] || die "could not find the initramfs isorun used"
# The QEMU isorun ran (its own build from Guest/qemu, else the system's): the by-hand
# boot uses the same binary, so the difference between the two stays isorun's own cost.
qemu=$(sed -n 's/.*vm: \([^ ]*qemu-system-x86_64\) -M .*/\1/p' <<<"$debug" | head -1)
[ -n "$qemu" ] || die "could not find the QEMU isorun ran"
tsc_khz=$(awk -F: '/^cpu MHz/ { printf "%d", $2 * 1000; exit }' /proc/cpuinfo)

# A minimal busybox initramfs for the Debian kernel: /init reboots at once.
mkdir -p "$tmp/stock/bin" "$tmp/stock/proc"
cp /bin/busybox "$tmp/stock/bin/busybox"
printf '#!/bin/busybox sh\n/bin/busybox reboot -f\n' >"$tmp/stock/init"
chmod 755 "$tmp/stock/init"
(cd "$tmp/stock" && find . | cpio -o -H newc --quiet >"$tmp/stock.cpio")

same_kernel="$qemu -M microvm,acpi=off -accel tcg -cpu max,-erms,-fsrm -m 128 -smp 1 -nodefaults -no-user-config -display none -no-reboot -serial none -kernel $kernel -initrd $initramfs -append console=ttyS0_quiet_panic=-1_reboot=t_tsc_early_khz=${tsc_khz}_noapictimer_noreplace-smp_rdinit=/bin/busybox_--_reboot_-f"
stock="qemu-system-x86_64 -M pc -accel tcg -m 256 -nodefaults -no-user-config -display none -no-reboot -serial none -kernel $debian_kernel -initrd $tmp/stock.cpio -append console=ttyS0_quiet_panic=-1_rdinit=/init"

# hyperfine -N splits on spaces; the kernel command line needs them, so it goes in a
# one-line wrapper script per peer.
for name in same_kernel stock; do
    line=${!name}
    append=${line##*-append }
    printf '#!/bin/sh\nexec %s -append "%s"\n' "${line% -append *}" "${append//_/ }" >"$tmp/$name.sh"
    chmod +x "$tmp/$name.sh"
    timeout 60 "$tmp/$name.sh" || die "$name boot failed: $(cat "$tmp/$name.sh")"
done

mkdir -p "$out"
out=$(realpath "$out")
cp "$tmp/same_kernel.sh" "$out/qemu-same-kernel.sh"
cp "$tmp/stock.sh" "$out/qemu-stock.sh"
{
    echo "date:        $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host kernel: $(uname -r), $(nproc) cpus"
    echo "accelerator: $(sed -n 's/.*vm: accelerator \([a-z]*\).*/\1/p' <<<"$debug" | head -1)"
    echo "qemu:        $qemu: $("$qemu" --version | head -1)"
    echo "stock qemu:  $(command -v qemu-system-x86_64): $(qemu-system-x86_64 --version | head -1)"
    echo "guest:       $kernel ($(stat -c %s "$kernel") bytes)"
    echo "initramfs:   $initramfs ($(stat -c %s "$initramfs") bytes)"
    echo "debian:      $debian_kernel"
    echo "isorun:      $isorun ($(git rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
    echo "runs:        $runs per command after 2 warm-up runs"
} >"$out/environment.txt"

echo "timing $runs boots of each..."
hyperfine -N --warmup 2 --runs "$runs" --time-unit millisecond \
    --export-json "$out/vm.json" --export-markdown "$out/vm.md" \
    -n "isorun vm" "$isorun --mode vm $bundle -- /bin/true" \
    -n "qemu, same kernel+initramfs" "$tmp/same_kernel.sh" \
    -n "qemu -M pc, Debian kernel" "$tmp/stock.sh" | tee "$out/hyperfine.txt"

echo "sampling resident memory next to an idle VM (sleep 8 in the guest)..."
"$isorun" --mode vm "$bundle" -- sleep 8 >/dev/null 2>"$tmp/idle.err" & background+=($!)
supervisor=${background[0]}
sleep 5
qemu=$(pgrep -P "$supervisor" qemu-system || true)
[ -n "$qemu" ] || { cat "$tmp/idle.err" >&2; die "no QEMU under isorun (pid $supervisor)"; }
printf 'process\tpid\tVmRSS_kB\tRssAnon_kB\tRssFile_kB\tPss_kB\n' >"$out/rss.tsv"
for entry in "QEMU:$qemu" "isorun supervisor:$supervisor"; do
    pid=${entry##*:}
    printf '%s\t%s\t%s\t%s\n' "${entry%%:*}" "$pid" "$(awk '/^(VmRSS|RssAnon|RssFile):/ { v[$1] = $2 }
        END { printf "%s\t%s\t%s", v["VmRSS:"], v["RssAnon:"], v["RssFile:"] }' "/proc/$pid/status")" \
        "$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup")" >>"$out/rss.tsv"
done
wait "$supervisor" || die "the idle VM run failed: $(cat "$tmp/idle.err")"
background=()

python3 "$repo/Benchmarks/startup/summarize_vm.py" "$out" "$check" | tee "$out/summary.txt"
