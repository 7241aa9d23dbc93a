#!/usr/bin/env bash
# Startup benchmark: how long one short-lived workload takes from exec to exit under
# isorun (bare and sandbox), bubblewrap and runc, against running /bin/true directly,
# all on the same busybox bundle; then the resident memory of each runtime's process
# that stays alive next to a running workload. Called by `make bench`.
#
# Environment: RUNS (timed runs per command, default 100), OUT (result directory,
# default Benchmarks/results/startup-<date>), ISORUN (binary, default
# .build/release/isorun), BUNDLE (default Bundles/hello.bundle), GAP_MS (idle pause
# before each timed run, default 0), CHECK=1 to exit 1 when a target is missed.
# Needs root, hyperfine, bwrap, runc and python3.
set -euo pipefail
set -f   # command lines below are split on spaces on purpose; never glob them

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

runs=${RUNS:-100}
out=${OUT:-Benchmarks/results/startup-$(date +%Y%m%d-%H%M%S)}
isorun=${ISORUN:-.build/release/isorun}
bundle=${BUNDLE:-Bundles/hello.bundle}
gap_ms=${GAP_MS:-0}
check=${CHECK:-0}

die() { echo "startup bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (sandbox mode, bwrap's namespaces and runc need it)"
for tool in hyperfine bwrap runc python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install -y hyperfine bubblewrap runc python3)"
done
case $runs in ''|*[!0-9]*|0) die "RUNS must be a positive integer, got '$runs'" ;; esac
case $gap_ms in ''|*[!0-9]*) die "GAP_MS must be a whole number of milliseconds, got '$gap_ms'" ;; esac
[ -x "$isorun" ] || die "$isorun is not an executable (make release, or set ISORUN)"
[ -f "$bundle/config.json" ] || die "$bundle/config.json not found (set BUNDLE)"
Bundles/build-rootfs.sh "$bundle"   # skips the work when the rootfs is current

isorun=$(realpath "$isorun")
bundle=$(realpath "$bundle")
rootfs=$(python3 -c 'import json, os, sys
print(os.path.join(sys.argv[1], json.load(open(sys.argv[1] + "/config.json"))["root"]["path"]))' "$bundle")
rootfs=$(realpath "$rootfs")
mkdir -p "$out"
out=$(realpath "$out")
tmp=$(mktemp -d /tmp/isorun-startup.XXXXXX)
runc_root=$tmp/runc-state
container=isorun-bench-$$

# hyperfine -N splits command lines itself, and so does this script.
for path in "$isorun" "$bundle" "$rootfs" "$tmp"; do
    case $path in *[[:space:]\'\"\\]*) die "paths with spaces or quotes are not supported: '$path'" ;; esac
done

background=()
cleanup() {
    for pid in "${background[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    if [ -d "$runc_root" ]; then
        for id in $(runc --root "$runc_root" list -q 2>/dev/null); do
            runc --root "$runc_root" delete --force "$id" >/dev/null 2>&1 || true
        done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A runc bundle: the benchmarked bundle's config with process.args replaced, and root.path
# pointing at the same rootfs, so runc and isorun start the very same files.
make_runc_bundle() {  # <dir> <arg>...
    local dir=$1; shift
    mkdir -p "$dir"
    python3 - "$bundle/config.json" "$rootfs" "$dir/config.json" "$@" <<'PY'
import json, sys
source, rootfs, target, *args = sys.argv[1:]
with open(source) as f:
    config = json.load(f)
config["process"]["args"] = args
config["process"]["terminal"] = False
config["root"]["path"] = rootfs
with open(target, "w") as f:
    json.dump(config, f, indent=2)
PY
}
make_runc_bundle "$tmp/runc-true" /bin/true
make_runc_bundle "$tmp/runc-false" /bin/false
make_runc_bundle "$tmp/runc-sleep" sleep 5

command_for() {  # <peer> <true|false>: the command line timed for that peer
    case $1 in
        true)    echo "/bin/$2" ;;
        bare)    echo "$isorun --mode bare $bundle -- /bin/$2" ;;
        sandbox) echo "$isorun --mode sandbox $bundle -- /bin/$2" ;;
        bwrap)   echo "bwrap --unshare-all --ro-bind $rootfs / --proc /proc --dev /dev /bin/$2" ;;
        runc)    echo "runc --root $runc_root run --bundle $tmp/runc-$2 $container" ;;
    esac
}
peers="true bare sandbox bwrap runc"

# Every timed program's file is read into the page cache the same way, as `make release`
# does for isorun: in 2 MiB folios where the filesystem allows it, so that code is mapped
# a folio at a time. A binary mapped by a running process (a container left running from
# isorun) keeps its old folios, which added ~45 page faults to every isorun command here;
# and runc's and bwrap's binaries deserve the same treatment as isorun's.
for program in "$isorun" "$(command -v runc)" "$(command -v bwrap)" /bin/true "$rootfs/bin/true"; do
    python3 "$repo/scripts/release/cache-in-huge-folios.py" "$(realpath "$program")" || true
done

# Each peer must pass the workload's exit status through: /bin/false gives 1 and /bin/true
# gives 0. That proves a timed run really started the workload rather than failing early.
echo "checking that every command runs and reports the workload's exit status..."
for peer in $peers; do
    for program in true false; do
        want=0; [ "$program" = true ] || want=1
        status=0
        $(command_for "$peer" "$program") >"$tmp/check.out" 2>&1 || status=$?
        if [ "$status" != "$want" ]; then
            cat "$tmp/check.out" >&2
            die "$(command_for "$peer" "$program") exited $status, expected $want"
        fi
    done
done

{
    echo "date:       $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel:     $(uname -r)"
    echo "cpus:       $(nproc)"
    echo "cgroups:    /sys/fs/cgroup is $(stat -fc %T /sys/fs/cgroup)$([ -d /sys/fs/cgroup/unified ] && echo ' (hybrid: v1 controllers + unified)')"
    echo "isorun:     $isorun ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo 'no git')$([ -n "$(git -C "$repo" status --porcelain -- Sources Package.swift 2>/dev/null)" ] && echo ', modified sources'))"
    echo "hyperfine:  $(hyperfine --version)"
    echo "bwrap:      $(bwrap --version)"
    echo "runc:       $(runc --version | head -1)"
    echo "bundle:     $bundle"
    echo "runs:       $runs per command in two passes (the second in reverse order), each after 5 warm-up runs, $gap_ms ms idle before each"
} >"$out/environment.txt"

# With GAP_MS, the system idles before each run, as it does between container starts in
# practice; back-to-back runs can share kernel state (see README.md, cgroup v1).
pause=()
[ "$gap_ms" = 0 ] || pause=(--prepare "sleep $(awk -v ms="$gap_ms" 'BEGIN { printf "%.3f", ms / 1000 }')")
# hyperfine times one command after another, and this host's speed drifts by a fifth within
# minutes: a first pass in one order and a second in the reverse one give every command the
# same share of a slow or fast spell. merge_passes.py pools each command's runs.
names=("/bin/true" "isorun bare" "isorun sandbox" "bwrap" "runc")
peer_of=([0]=true [1]=bare [2]=sandbox [3]=bwrap [4]=runc)
time_pass() {  # <pass number> <runs> <index>...: one hyperfine run over those commands
    local pass=$1 count=$2; shift 2
    local arguments=()
    for i in "$@"; do arguments+=(-n "${names[$i]}" "$(command_for "${peer_of[$i]}" true)"); done
    echo "pass $pass: $count runs of each command..."
    hyperfine -N --warmup 5 --runs "$count" --time-unit millisecond "${pause[@]}" \
        --export-json "$out/pass-$pass.json" --export-markdown "$out/pass-$pass.md" \
        "${arguments[@]}" | tee "$out/hyperfine-pass-$pass.txt"
}
first=$(( (runs + 1) / 2 )); second=$(( runs / 2 ))
time_pass 1 "$first" 0 1 2 3 4
passes=("$out/pass-1.json")
if [ "$second" -gt 0 ]; then
    time_pass 2 "$second" 4 3 2 1 0
    passes+=("$out/pass-2.json")
fi
python3 "$repo/Benchmarks/startup/merge_passes.py" "${passes[@]}" >"$out/startup.json"

# Resident memory of the process each runtime keeps next to the workload (isorun's
# supervisor, `runc run`, bwrap's outer process), sampled once the workload is running.
echo "sampling resident memory next to a running 'sleep 5'..."
rss_labels=("isorun sandbox" "isorun bare" "runc" "bwrap")
"$isorun" --mode sandbox "$bundle" -- sleep 5 2>"$tmp/rss-0.err" & background+=($!)
"$isorun" --mode bare "$bundle" -- sleep 5 2>"$tmp/rss-1.err" & background+=($!)
runc --root "$runc_root" run --bundle "$tmp/runc-sleep" "$container-rss" </dev/null 2>"$tmp/rss-2.err" & background+=($!)
bwrap --unshare-all --ro-bind "$rootfs" / --proc /proc --dev /dev sleep 5 2>"$tmp/rss-3.err" & background+=($!)
sleep 1
printf 'process\tpid\tVmRSS_kB\tRssAnon_kB\tRssFile_kB\tThreads\n' >"$out/rss.tsv"
for i in "${!background[@]}"; do
    pid=${background[$i]}
    fields=$(awk '/^(VmRSS|RssAnon|RssFile|Threads):/ { v[$1] = $2 }
                  END { printf "%s\t%s\t%s\t%s", v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["Threads:"] }' \
             "/proc/$pid/status" 2>/dev/null) || fields=""
    [ -n "$fields" ] || { cat "$tmp/rss-$i.err" >&2; die "${rss_labels[$i]} (pid $pid) exited before its memory was sampled"; }
    printf '%s\t%s\t%s\n' "${rss_labels[$i]}" "$pid" "$fields" >>"$out/rss.tsv"
done
for i in "${!background[@]}"; do
    status=0; wait "${background[$i]}" || status=$?
    [ "$status" = 0 ] || { cat "$tmp/rss-$i.err" >&2; die "${rss_labels[$i]} running 'sleep 5' exited $status"; }
done
background=()

python3 "$repo/Benchmarks/startup/summarize.py" "$out" "$check" | tee "$out/summary.txt"
