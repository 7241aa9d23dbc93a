#!/usr/bin/env bash
# Does podman drive isorun the way it drives runc?
#
#   Tests/Conformance/podman.sh ISORUN_BINARY
#
# Run as root on Debian 12. It installs podman (Debian's 4.3, without recommends), runc and
# busybox-static from apt when they are missing, keeps all of podman's state in one temp dir
# (--root/--runroot/--tmpdir, vfs storage, cgroupfs manager, file events, a private
# containers.conf and CNI config dir), loads a one-layer OCI image built from Debian's static
# busybox (busybox-oci-image.sh beside this file) with `podman load`, and then runs the same
# steps with runc (the control) and with isorun, as `podman --runtime WRAPPER`:
#
#   fg        podman run --rm --network none IMAGE sh -c 'echo hello; exit 3'  -> "hello", exit 3
#   vm        (isorun only) the same in a micro-VM (--annotation io.isorun.mode=vm) with a -v volume
#             -> guest kernel; podman's /etc/hostname, /etc/hosts and the volume seen in the guest
#   net       podman run --rm --network isorun-pm-net (a CNI bridge network of this script's own)
#             -> the container reaches an HTTP server on the host through the bridge's gateway
#   vm-net    (isorun only) the same in a micro-VM: the guest has the container's eth0
#   bg-run    podman run -d … sleep 1000 -> "Up" in podman ps; `RUNTIME state` agrees on the pid
#   bg-kill   podman kill --signal TERM, then podman kill (SIGKILL) if still up -> Exited
#   bg-delete podman rm
#   leftovers no process, conmon, cgroup, mount or runtime state left for either container
# plus extras that do not decide the exit status unless STRICT_EXTRAS=1: podman pause/unpause
# (runtime pause/resume) and podman exec (runtime exec).
#
# The wrapper given as --runtime logs argv, cwd, parent and exit status of every runtime call
# and puts the runtime's state under the temp dir (--root, added when podman passes none:
# `podman container cleanup`, started by conmon when the container exits, drops
# --runtime-flag, so --runtime-flag root=… would leak state into the default root).
#
# Environment: KEEP_LOGS=DIR, RUNTIMES="runc isorun", STEP_TIMEOUT=60, STRICT_EXTRAS=1 (as in
# containerd.sh), ISORUN_CACHE (passed on to isorun). Exit status: 0 all isorun and runc steps
# passed, 1 a step failed, 2 setup.
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
check_arguments "$0" "$@"

RUNTIMES=${RUNTIMES:-"runc isorun"}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
IMAGE=localhost/isorun-busybox:latest
T0=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
# 1. Packages (podman pulls in conmon and containers-common).
# ---------------------------------------------------------------------------------------------
need=()
command -v podman >/dev/null && command -v conmon >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# CNI's bridge and host-local plugins, for the steps on a network of this script's own.
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
install_packages "${need[@]}"

# ---------------------------------------------------------------------------------------------
# 2. Private workspace, cleanup on every exit path.
# ---------------------------------------------------------------------------------------------
T=$(mktemp -d /tmp/isorun-podman.XXXXXX)
IDS=()       # container names this run created
# Things podman may create outside --root that we remove again if they were not there before:
# its blob-info cache (podman load writes /var/lib/containers/cache whatever --root says) and
# the cgroupfs parent of its containers.
PRE_EXISTING=()
for p in /var/lib/containers /sys/fs/cgroup/memory/libpod_parent /var/lib/cni; do
    [ -e "$p" ] && PRE_EXISTING+=("$p")
done
pre_existed() { local p; for p in "${PRE_EXISTING[@]}"; do [ "$p" = "$1" ] && return 0; done; return 1; }

export CONTAINERS_CONF=$T/containers.conf
# podman with every piece of state under $T
pm() {
    timeout "$STEP_TIMEOUT" podman --root "$T/storage" --runroot "$T/runroot" --tmpdir "$T/tmp" \
        --storage-driver vfs --cgroup-manager cgroupfs --events-backend file "$@"
}


cleanup() {
    local rc=$? pid m c rt
    trap - EXIT INT TERM
    set +e
    if [ -n "${KEEP_LOGS:-}" ]; then
        mkdir -p "$KEEP_LOGS"; cp -r "$T"/logs "$KEEP_LOGS"/ 2>/dev/null; echo "logs kept in $KEEP_LOGS"
    fi
    # Containers podman still knows (each with the runtime it was created with).
    for rt in $RUNTIMES; do
        [ -x "$T/bin/$rt-wrap" ] && timeout 30 podman --root "$T/storage" --runroot "$T/runroot" \
            --tmpdir "$T/tmp" --storage-driver vfs --cgroup-manager cgroupfs --events-backend file \
            --runtime "$T/bin/$rt-wrap" rm -af -t 0 >/dev/null 2>&1
    done
    # Anything still running from this run: conmon and runtimes (argv has $T), container
    # processes (in cgroups named after the container ids).
    for pid in $(pids_matching "$T"); do kill -KILL "$pid" 2>/dev/null; done
    for c in $(find /sys/fs/cgroup/*/libpod_parent -name cgroup.procs 2>/dev/null); do
        for id in $(cat "$T/ids" 2>/dev/null); do
            case $c in *"$id"*) for pid in $(cat "$c"); do kill -KILL "$pid" 2>/dev/null; done ;; esac
        done
    done
    sleep 0.3
    unmount_under "$T"
    for id in $(cat "$T/ids" 2>/dev/null); do
        find /sys/fs/cgroup/ -depth -mindepth 2 -maxdepth 4 -type d -name "*$id*" -exec rmdir {} \; 2>/dev/null
    done
    [ -n "${BRIDGE:-}" ] && ip link del "$BRIDGE" 2>/dev/null
    pre_existed /var/lib/cni || rm -rf /var/lib/cni   # CNI's result cache
    pre_existed /sys/fs/cgroup/memory/libpod_parent || {
        rmdir /sys/fs/cgroup/*/libpod_parent/conmon /sys/fs/cgroup/*/libpod_parent 2>/dev/null; }
    pre_existed /var/lib/containers || rm -rf /var/lib/containers
    rm -rf "$T"
    awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "total time: %.1f s\n", b - a}'
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$T/bin" "$T/logs" "$T/tmp" "$T/cni" "$T/runtime-root"
copy_runtime_binaries "$T/bin"

# containers.conf: cgroupfs and file events (no systemd or journald here), a private CNI config
# dir. default_ulimits: as root podman asks for RLIMIT_NOFILE and RLIMIT_NPROC far above the
# current hard limits (nofile 1048576); raising a hard limit needs CAP_SYS_RESOURCE, which some
# hosts (this sandbox's root included) lack, and runc then fails at create with "error setting
# rlimit type 7: operation not permitted". Lower limits can always be set.
cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[network]
network_config_dir = "$T/cni"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

# A CNI bridge network of our own, and an HTTP server on the host for containers to reach
# through its gateway.
BRIDGE=isorun-pm-br
NET_GATEWAY=10.215.77.1
write_bridge_network "$T/cni/isorun-pm-net.conflist" isorun-pm-net "$BRIDGE" 10.215.77 "$T/ipam"
PROBE_PORT=$(start_probe_server "$T/www")
# busybox's nc: Debian's static busybox wget crashes in glibc's resolver.
PROBE="printf 'GET /probe HTTP/1.0\\r\\n\\r\\n' | nc -w 20 $NET_GATEWAY $PROBE_PORT | tail -n 1"

make_wrapper() {   # make_wrapper NAME REAL_BINARY
    local name=$1 real=$2 cache=
    mkdir -p "$T/runtime-root/$name"
    # podman and conmon start the runtime with an environment of their own: a cache
    # directory this script was given (the VM steps' guest kernel) would not reach isorun.
    if [ -n "${ISORUN_CACHE:-}" ]; then cache="export ISORUN_CACHE=$(printf %q "$ISORUN_CACHE")"; fi
    cat >"$T/bin/$name-wrap" <<EOF
#!/bin/bash
# Logs each call podman/conmon makes, then runs $real with the same argv (plus a private --root).
log=$T/logs/$name-calls.log
$cache
root=(--root "$T/runtime-root/$name")
for a in "\$@"; do case \$a in --root|--root=*) root=() ;; esac; done
{ printf '%s pid=%s parent=%s cwd=%s argv: %s' "\$(date +%T.%N)" \$\$ \
      "\$(tr '\\0' ' ' </proc/\$PPID/cmdline 2>/dev/null | cut -c1-60)" "\$PWD" "$real"
  printf ' %q' "\${root[@]}" "\$@"; echo; } >>"\$log"
"$real" "\${root[@]}" "\$@"
rc=\$?
echo "    -> exit \$rc" >>"\$log"
exit \$rc
EOF
    chmod +x "$T/bin/$name-wrap"
}
make_wrapper runc "$(command -v runc)"
make_wrapper isorun "$ENTRY"


explain() {   # explain RUNTIME NAME: the runtime calls podman made for this container
    local rt=$1 name=$2 id
    id=$(pm --runtime "$T/bin/$rt-wrap" inspect -f '{{.Id}}' "$name" 2>/dev/null || true)
    echo "---- $rt calls (wrapper log, last 20 lines) ----"
    if [ -n "$id" ]; then grep -F -A1 -- "$id" "$T/logs/$rt-calls.log" | tail -n 20
    else tail -n 20 "$T/logs/$rt-calls.log" 2>/dev/null; fi
    echo "----"
}

leftovers() {   # leftovers RUNTIME FULL_ID NAME
    local rt=$1 id=$2 name=$3 found="" pid d
    for pid in $(pids_matching "$id"); do
        found+=" process $pid ($(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-100));"
    done
    for d in $(find /sys/fs/cgroup/ -mindepth 1 -maxdepth 6 -type d -name "*$id*" 2>/dev/null); do
        found+=" cgroup $d;"
    done
    grep -qF -- "$id" /proc/self/mountinfo && \
        found+=" mounts: $(grep -F -- "$id" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ');"
    [ -n "$(find "$T/runtime-root/$rt" -mindepth 1 -name "*$id*" 2>/dev/null)" ] && \
        found+=" runtime state: $(find "$T/runtime-root/$rt" -mindepth 1 -name "*$id*" | tr '\n' ' ');"
    pm ps -a --format '{{.Names}}' 2>/dev/null | grep -qxF "$name" && found+=" podman still lists $name;"
    echo "$found"
}

status_of() { pm inspect -f '{{.State.Status}}' "$1" 2>/dev/null || true; }

calls_logged() { if [ -f "$T/logs/$1-calls.log" ]; then wc -l <"$T/logs/$1-calls.log"; else echo 0; fi; }

# clean_after_rm RUNTIME NAME STEP CALLS_BEFORE: a container podman removed itself (--rm) left
# nothing; its id is the one the wrapper logged a `create` for after line CALLS_BEFORE.
clean_after_rm() {
    local rt=$1 name=$2 step=$3 since=$4 id left
    id=$(tail -n +"$((since + 1))" "$T/logs/$rt-calls.log" 2>/dev/null | grep -oE ' create .* ([0-9a-f]{64})$' \
            | tail -n 1 | grep -oE '[0-9a-f]{64}$' || true)
    if [ -n "$id" ]; then
        echo "$id" >>"$T/ids"
        left=$(leftovers "$rt" "$id" "$name")
        if [ -z "$left" ]; then report "$rt" "$step" PASS "nothing left after --rm"
        else report "$rt" "$step" FAIL "$left"; fi
    else
        report "$rt" "$step" FAIL "no create call logged"
    fi
}

run_suite() {   # run_suite RUNTIME
    local rt=$1 wrap=$T/bin/$1-wrap sfx; sfx=$(printf '%04x' $RANDOM)
    local fg=isorun-pm-$rt-fg-$sfx bg=isorun-pm-$rt-bg-$sfx out rc st id left calls_before
    local R=(--runtime "$wrap")
    echo "== $rt =="

    # fg. --rm removes the container, so its id is taken from the wrapper log afterwards.
    rc=0
    calls_before=$(calls_logged "$rt")
    out=$(pm "${R[@]}" run --rm --name "$fg" --network none "$IMAGE" sh -c 'echo hello; exit 3' \
            </dev/null 2>"$T/logs/$rt-fg.stderr") || rc=$?
    if [ "$rc" -eq 3 ] && [ "$out" = hello ]; then
        report "$rt" fg PASS "printed hello, exit 3"
    else
        report "$rt" fg FAIL "stdout='$out' exit=$rc stderr='$(head -c 800 "$T/logs/$rt-fg.stderr")'"
        echo "---- $rt calls ----"; tail -n 12 "$T/logs/$rt-calls.log" 2>/dev/null; echo "----"
    fi
    clean_after_rm "$rt" "$fg" fg-clean "$calls_before"

    # vm (isorun only): the same image in a micro-VM (annotation io.isorun.mode=vm). podman's
    # own binds (/etc/hostname, /etc/hosts) and a volume (-v) reach the guest over virtio-9p.
    if [ "$rt" = isorun ]; then
        local vm=isorun-pm-vm-$sfx volume="$T/volume-$rt"
        mkdir -p "$volume" && echo from-host >"$volume/in"
        rc=0
        calls_before=$(calls_logged "$rt")
        out=$(pm "${R[@]}" run --rm --name "$vm" --network none --hostname pm-vm --annotation io.isorun.mode=vm \
                -v "$volume:/data" "$IMAGE" \
                sh -c 'uname -r; echo "$(cat /etc/hostname)"; cat /data/in; grep -q localhost /etc/hosts && echo hosts; echo from-vm >/data/out; exit 4' \
                </dev/null 2>"$T/logs/$rt-vm.stderr") || rc=$?
        if [ "$rc" -eq 4 ] && [ "$(sed -n 1p <<<"$out")" != "$(uname -r)" ] \
                && [ "$(sed -n '2,4p' <<<"$out" | tr '\n' ' ')" = "pm-vm from-host hosts " ] \
                && [ "$(cat "$volume/out" 2>/dev/null)" = from-vm ]; then
            report "$rt" vm PASS "guest kernel $(sed -n 1p <<<"$out"), podman's /etc/hostname and /etc/hosts and a volume bound in, exit 4"
        else
            report "$rt" vm FAIL "stdout='$(tr '\n' ' ' <<<"$out")' exit=$rc stderr='$(head -c 800 "$T/logs/$rt-vm.stderr")'"
            explain "$rt" "$vm"
        fi
        clean_after_rm "$rt" "$vm" vm-clean "$calls_before"
    fi

    # net: a container on a bridge network reaches the host (CNI made its namespace).
    rc=0
    calls_before=$(calls_logged "$rt")
    out=$(pm "${R[@]}" run --rm --name "$fg-net" --network isorun-pm-net "$IMAGE" sh -c "$PROBE" \
            </dev/null 2>"$T/logs/$rt-net.stderr") || rc=$?
    if [ "$rc" -eq 0 ] && [ "$out" = "$(cat "$T/www/probe")" ]; then
        report "$rt" net PASS "reached the host's server through CNI's bridge"
    else
        report "$rt" net FAIL "stdout='$out' exit=$rc stderr='$(head -c 800 "$T/logs/$rt-net.stderr")'"
        explain "$rt" "$fg-net"
    fi
    clean_after_rm "$rt" "$fg-net" net-clean "$calls_before"

    # vm-net (isorun only): the guest takes over the container's eth0 (tap + tc redirects).
    if [ "$rt" = isorun ]; then
        rc=0
        calls_before=$(calls_logged "$rt")
        out=$(pm "${R[@]}" run --rm --name "$fg-vmnet" --network isorun-pm-net --annotation io.isorun.mode=vm "$IMAGE" \
                sh -c "uname -r; $PROBE" </dev/null 2>"$T/logs/$rt-vmnet.stderr") || rc=$?
        if [ "$rc" -eq 0 ] && [ "$(sed -n 1p <<<"$out")" != "$(uname -r)" ] \
                && [ "$(sed -n 2p <<<"$out")" = "$(cat "$T/www/probe")" ]; then
            report "$rt" vm-net PASS "guest kernel $(sed -n 1p <<<"$out") reached the host's server through the container's eth0"
        else
            report "$rt" vm-net FAIL "stdout='$(tr '\n' ' ' <<<"$out")' exit=$rc stderr='$(head -c 800 "$T/logs/$rt-vmnet.stderr")'"
            explain "$rt" "$fg-vmnet"
        fi
        clean_after_rm "$rt" "$fg-vmnet" vm-net-clean "$calls_before"
    fi

    # bg
    rc=0
    id=$(pm "${R[@]}" run -d --name "$bg" --network none "$IMAGE" sleep 1000 </dev/null \
            2>"$T/logs/$rt-bg.stderr") || rc=$?
    [ -n "$id" ] && echo "$id" >>"$T/ids"
    sleep 0.3
    st=$(status_of "$bg")
    local pid rstate
    pid=$(pm inspect -f '{{.State.Pid}}' "$bg" 2>/dev/null || true)
    rstate=$("$wrap" state "$id" 2>&1 | tr -d ' \n') || true
    if [ "$rc" -eq 0 ] && [ "$st" = running ] && pm ps --format '{{.Names}} {{.Status}}' | grep -q "^$bg Up" \
            && [[ "$rstate" == *'"status":"running"'* && "$rstate" == *"\"pid\":$pid,"* ]]; then
        report "$rt" bg-run PASS "pid $pid Up in podman ps; '$rt state' agrees"
    else
        report "$rt" bg-run FAIL "run -d exit=$rc status='$st' pid='$pid' '$rt state': $rstate stderr='$(head -c 800 "$T/logs/$rt-bg.stderr")'"
        explain "$rt" "$bg"
    fi

    if [ "$st" = running ]; then
        # pause/unpause -> runtime pause/resume
        rc=0; out=$(pm "${R[@]}" pause "$bg" 2>&1) || rc=$?
        if [ "$rc" -eq 0 ] && [ "$(status_of "$bg")" = paused ]; then
            rc=0; out=$(pm "${R[@]}" unpause "$bg" 2>&1) || rc=$?
            if [ "$rc" -eq 0 ] && [ "$(status_of "$bg")" = running ]; then xreport "$rt" x-pause PASS "paused, then running"
            else xreport "$rt" x-pause FAIL "unpause exit=$rc: $out"; fi
        else
            xreport "$rt" x-pause FAIL "pause exit=$rc status=$(status_of "$bg"): $(head -c 400 <<<"$out")"
            pm "${R[@]}" unpause "$bg" >/dev/null 2>&1 || true
        fi
        # exec -> runtime exec
        rc=0; out=$(pm "${R[@]}" exec "$bg" sh -c 'echo exec-ok; exit 4' </dev/null 2>&1) || rc=$?
        if [ "$rc" -eq 4 ] && [ "$out" = exec-ok ]; then xreport "$rt" x-exec PASS "printed exec-ok, exit 4"
        else xreport "$rt" x-exec FAIL "exit=$rc: $(tr '\n' ' ' <<<"$out" | head -c 400)"; fi

        # kill: TERM (ignored by sleep as PID 1), then KILL
        local how=SIGTERM i
        rc=0; pm "${R[@]}" kill --signal TERM "$bg" >/dev/null 2>"$T/logs/$rt-kill.stderr" || rc=$?
        for i in $(seq 20); do st=$(status_of "$bg"); [ "$st" = exited ] && break; sleep 0.1; done
        if [ "$st" != exited ]; then
            how="SIGTERM ignored, SIGKILL"
            pm "${R[@]}" kill --signal KILL "$bg" >/dev/null 2>>"$T/logs/$rt-kill.stderr" || rc=$?
            for i in $(seq 50); do st=$(status_of "$bg"); [ "$st" = exited ] && break; sleep 0.1; done
        fi
        if [ "$rc" -eq 0 ] && [ "$st" = exited ]; then report "$rt" bg-kill PASS "$how -> exited"
        else
            report "$rt" bg-kill FAIL "$how: exit=$rc status='$st' $(cat "$T/logs/$rt-kill.stderr")"
            explain "$rt" "$bg"
        fi
    else
        report "$rt" bg-kill FAIL "no running container to kill"
    fi

    rc=0; pm "${R[@]}" rm -f -t 0 "$bg" >/dev/null 2>"$T/logs/$rt-rm.stderr" || rc=$?
    if [ "$rc" -eq 0 ]; then report "$rt" bg-delete PASS "podman rm"
    else report "$rt" bg-delete FAIL "exit=$rc: $(cat "$T/logs/$rt-rm.stderr")"; explain "$rt" "$bg"; fi
    sleep 0.3
    if [ -n "$id" ]; then
        left=$(leftovers "$rt" "$id" "$bg")
        if [ -z "$left" ]; then report "$rt" bg-clean PASS "no process, conmon, cgroup, mount or state"
        else report "$rt" bg-clean FAIL "$left"; fi
    else
        report "$rt" bg-clean FAIL "no container id"
    fi
}

# ---------------------------------------------------------------------------------------------
# Go.
# ---------------------------------------------------------------------------------------------
echo "workspace $T; $(podman --version), $(conmon --version | head -1), $(runc --version | head -1), isorun $ISORUN_SRC"
"$HERE/busybox-oci-image.sh" "$T/image.tar" "$IMAGE"
if pm load -i "$T/image.tar" >"$T/logs/load.log" 2>&1 && pm image exists "$IMAGE"; then
    echo "PASS setup: podman load $IMAGE"
else
    echo "FAIL setup: podman load:"; cat "$T/logs/load.log"; exit 2
fi

for rt in $RUNTIMES; do run_suite "$rt"; done

summarize podman "fg fg-clean net net-clean bg-run bg-kill bg-delete bg-clean" "pause exec"
