#!/usr/bin/env bash
# Does containerd drive isorun the way it drives runc?
#
#   Tests/Conformance/containerd.sh ISORUN_BINARY
#
# Run as root on Debian 12. It installs containerd (with its ctr client), runc and
# busybox-static from apt when they are missing, starts a private containerd (root, state,
# config, sockets all in one temp dir; a system containerd is never touched), builds a
# one-layer OCI image from Debian's static busybox (busybox-oci-image.sh beside this file),
# imports it with `ctr image import`, and then runs the same steps with runc (the control)
# and with isorun, as `ctr run --runc-binary WRAPPER --runc-root DIR`:
#
#   fg        ctr run --rm IMAGE ID sh -c 'echo hello; exit 3'   -> "hello", ctr exits 3
#   vm        the same with --annotation io.isorun.mode=vm (isorun only) and a --mount volume
#             -> guest kernel, the volume read and written from the guest, exit 4
#   bg-run    ctr run -d IMAGE ID sleep 1000                      -> task RUNNING in `ctr task ls`
#   bg-kill   ctr task kill (SIGTERM, then SIGKILL if still up)   -> task STOPPED
#   bg-delete ctr task delete; ctr container delete
#   leftovers no process, shim, cgroup, mount or runtime state left for either container
# plus extras that do not decide the exit status unless STRICT_EXTRAS=1: ctr task ps, pause/
# resume, exec and metrics (runtime ps, pause, resume, exec; the shim reads the cgroup).
#
# Then the Kubernetes path (unless CRI=0): containerd's CRI plugin is configured with one
# runtime handler per runtime (runtime_type io.containerd.runc.v2, options.BinaryName = the
# wrapper), and cri/cri_check.py (Python gRPC, grpcio from PyPI in a venv under the temp dir)
# runs a pod sandbox with runtime_handler=runc / =isorun, as a RuntimeClass would, plus an
# exiting container (exit code and CRI log checked) and a long-running one (StopContainer).
#
# Each runtime invocation goes through a small wrapper that logs argv, cwd and exit status
# (and the tail of the --log file the shim gave the runtime when it failed); on a failure
# that log, containerd's log lines for the container and the runtime's JSON log are printed.
# Everything (containerd, shims, containers, mounts, cgroups, temp dir) is removed on every
# exit path. Exit status: 0 when every step passed for every runtime (a runc failure points
# at the host, and says so), 1 when one failed, 2 for a usage or setup error.
#
# Environment:
#   KEEP_LOGS=DIR      copy the logs (containerd, wrappers, runtime logs) to DIR before cleanup
#   RUNTIMES="runc isorun"   which runtimes to test, in order (default both)
#   STEP_TIMEOUT=60    seconds any one ctr command may take
#   STRICT_EXTRAS=1    let the extra steps (task ps, pause/resume, exec, metrics) fail the run too
#   CRI=0              skip the CRI (RuntimeClass handler) steps
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
check_arguments "$0" "$@"

RUNTIMES=${RUNTIMES:-"runc isorun"}
STEP_TIMEOUT=${STEP_TIMEOUT:-60}
NS=isorun-conformance            # containerd namespace: everything we create lives in it
IMAGE=localhost/isorun-busybox:latest
PAUSE_IMAGE=localhost/isorun-pause:latest   # the CRI sandbox image: busybox sleeping
CRI=${CRI:-1}
T0=$(date +%s.%N)

# ---------------------------------------------------------------------------------------------
# 1. Packages. Debian's containerd package ships containerd, ctr and containerd-shim-runc-v2.
#    The system containerd is never started or used: ours has its own socket and directories.
# ---------------------------------------------------------------------------------------------
need=()
command -v containerd >/dev/null && command -v ctr >/dev/null \
    && command -v containerd-shim-runc-v2 >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ "$CRI" = 1 ]; then   # a venv for grpcio (Debian's python3 has no ensurepip without it)
    command -v python3 >/dev/null || need+=(python3)
    # CNI's bridge, host-local and loopback plugins, for the pod whose container is a VM.
    [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
    python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
fi
install_packages "${need[@]}"
if pgrep -x containerd >/dev/null; then
    echo "note: a containerd is already running (pid $(pgrep -x containerd | tr '\n' ' ')); it is left alone"
fi

# ---------------------------------------------------------------------------------------------
# 2. Private workspace and cleanup on every exit path.
# ---------------------------------------------------------------------------------------------
T=$(mktemp -d /tmp/isorun-containerd.XXXXXX)
SOCK=$T/containerd.sock
CTRD_PID=""
IDS=()                      # container ids this run created, for the cleanup and leftover checks
# The CRI's containers live in cgroups under k8s.io/ (containerd's default for that namespace);
# that parent is removed at the end unless it was there before.
K8S_CGROUP_EXISTED=0; [ -d /sys/fs/cgroup/memory/k8s.io ] && K8S_CGROUP_EXISTED=1
# containerd 1.6 puts shim sockets in /run/containerd/s whatever its state dir is; that
# directory is removed at the end unless it was there before (ctr's FIFOs go to $T/fifo).
RUN_CONTAINERD_EXISTED=0; [ -e /run/containerd ] && RUN_CONTAINERD_EXISTED=1
# CNI caches each attachment's result under /var/lib/cni (and removes it on DEL, but not the directories).
VAR_LIB_CNI_EXISTED=0; [ -e /var/lib/cni ] && VAR_LIB_CNI_EXISTED=1

ctr_() { timeout "$STEP_TIMEOUT" ctr --address "$SOCK" --namespace "$NS" "$@"; }


cleanup() {
    local rc=$? id pid m
    trap - EXIT INT TERM
    set +e
    if [ -n "${KEEP_LOGS:-}" ]; then
        mkdir -p "$KEEP_LOGS"
        cp -r "$T"/*.log "$T"/logs "$T"/config.toml "$KEEP_LOGS"/ 2>/dev/null
        echo "logs kept in $KEEP_LOGS"
    fi
    # Containers first, while containerd is still up to tell the shims to clean (ours and
    # the CRI's namespace; this containerd is private, so all of them are ours).
    if [ -n "$CTRD_PID" ] && kill -0 "$CTRD_PID" 2>/dev/null; then
        local ns
        for ns in "$NS" k8s.io; do
            for id in $(ctr --address "$SOCK" -n "$ns" task ls -q 2>/dev/null); do
                timeout 10 ctr --address "$SOCK" -n "$ns" task kill -s SIGKILL "$id" >/dev/null 2>&1
                sleep 0.5
                timeout 10 ctr --address "$SOCK" -n "$ns" task delete -f "$id" >/dev/null 2>&1
            done
            for id in $(ctr --address "$SOCK" -n "$ns" container ls -q 2>/dev/null); do
                timeout 10 ctr --address "$SOCK" -n "$ns" container delete "$id" >/dev/null 2>&1
            done
        done
        kill -TERM "$CTRD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$CTRD_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$CTRD_PID" 2>/dev/null
        wait "$CTRD_PID" 2>/dev/null
    fi
    # Whatever still runs from this run: shims (their argv has our socket path), wrapper and
    # runtime processes (their argv has our temp dir), container processes (in our cgroups).
    for pid in $(pids_matching "$T"); do kill -KILL "$pid" 2>/dev/null; done
    for id in "${IDS[@]}"; do
        for f in /sys/fs/cgroup/*/{"$NS",k8s.io}/"$id"/cgroup.procs /sys/fs/cgroup/*/"$id"/cgroup.procs; do
            [ -f "$f" ] && for pid in $(cat "$f"); do kill -KILL "$pid" 2>/dev/null; done
        done
    done
    sleep 0.3
    unmount_under "$T"
    # cgroups: the containers' own (normally gone already) and ctr's per-namespace parent.
    for id in "${IDS[@]}"; do
        rmdir /sys/fs/cgroup/*/{"$NS",k8s.io}/"$id" /sys/fs/cgroup/*/"$id" 2>/dev/null
    done
    rmdir /sys/fs/cgroup/*/"$NS" 2>/dev/null
    [ "$K8S_CGROUP_EXISTED" = 1 ] || rmdir /sys/fs/cgroup/*/k8s.io 2>/dev/null
    [ "$RUN_CONTAINERD_EXISTED" = 1 ] || rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null
    [ -n "${CRI_BRIDGE:-}" ] && ip link del "$CRI_BRIDGE" 2>/dev/null
    [ "$VAR_LIB_CNI_EXISTED" = 1 ] || rm -rf /var/lib/cni
    rm -rf "$T"
    awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN {printf "total time: %.1f s\n", b - a}'
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$T/bin" "$T/logs" "$T/opt" "$T/cni/bin" "$T/cni/conf" "$T/fifo"

copy_runtime_binaries "$T/bin"

# Wrappers given to the shim as BinaryName: log argv/cwd/exit, run the real runtime.
make_wrapper() {   # make_wrapper NAME REAL_BINARY
    local name=$1 real=$2
    cat >"$T/bin/$name-wrap" <<EOF
#!/bin/bash
# Logs each call the containerd shim makes, then runs $real with the same argv and stdio.
log=$T/logs/$name-calls.log
rlog=; prev=
for a in "\$@"; do [ "\$prev" = --log ] && rlog=\$a; prev=\$a; done
{ printf '%s pid=%s ppid=%s cwd=%s argv: %s' "\$(date +%T.%N)" \$\$ \$PPID "\$PWD" "$real"
  printf ' %q' "\$@"; echo; } >>"\$log"
before=0; [ -n "\$rlog" ] && [ -f "\$rlog" ] && before=\$(wc -l <"\$rlog")
"$real" "\$@"
rc=\$?
echo "    -> exit \$rc" >>"\$log"
if [ \$rc -ne 0 ] && [ -n "\$rlog" ] && [ -s "\$rlog" ]; then   # what this call wrote there
    tail -n +\$((before + 1)) "\$rlog" | tail -n 5 | sed 's/^/    runtime --log: /' >>"\$log"
fi
exit \$rc
EOF
    chmod +x "$T/bin/$name-wrap"
}
make_wrapper runc "$(command -v runc)"
make_wrapper isorun "$ENTRY"

# ---------------------------------------------------------------------------------------------
# 3. A private containerd: config version 2, everything under $T, CRI off (it would want CNI
#    and a pause image from a registry; ctr does not use it).
# ---------------------------------------------------------------------------------------------
cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
$([ "$CRI" = 1 ] || echo 'disabled_plugins = ["io.containerd.grpc.v1.cri"]')

[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$T/debug.sock"
  level = "debug"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$T/opt"
EOF
# The CRI plugin: one runtime handler per runtime, as a node would select isorun for a
# Kubernetes RuntimeClass (handler: isorun). The sandbox image is a local one (no registry
# here). CNI: a bridge network of this script's own (no firewall or portmap plugins, which
# would want iptables), for the pod whose container runs as a VM and must reach an HTTP
# server on the host; isorun's handler passes the io.isorun.* annotations through.
CRI_BRIDGE=isorun-cri-br
CRI_GATEWAY=10.215.78.1
if [ "$CRI" = 1 ]; then
    mkdir -p "$T/cni/bin" "$T/cni/conf"
    for plugin in bridge host-local loopback; do ln -sf "/usr/lib/cni/$plugin" "$T/cni/bin/$plugin"; done
    write_bridge_network "$T/cni/conf/10-isorun-cri.conflist" isorun-cri-net "$CRI_BRIDGE" 10.215.78 "$T/ipam"
    PROBE_PORT=$(start_probe_server "$T/www")
    cat >>"$T/config.toml" <<EOF
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # The CRI gives the sandbox oomScoreAdj -998; lowering it needs CAP_SYS_RESOURCE, which a
  # root in a restricted sandbox (this one) may lack: runc then fails with "can't get final
  # child's PID from pipe: EOF" and isorun with "write /proc/PID/oom_score_adj: EACCES".
  # This clamps every oomScoreAdj to containerd's own, which a kubelet-driven node also uses
  # for rootless setups.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$T/cni/bin"
    conf_dir = "$T/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "${RUNTIMES%% *}"
EOF
    for rt in $RUNTIMES; do
        cat >>"$T/config.toml" <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$rt]
      runtime_type = "io.containerd.runc.v2"
      $([ "$rt" = isorun ] && echo 'container_annotations = ["io.isorun.*"]')
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$rt.options]
        BinaryName = "$T/bin/$rt-wrap"
        Root = "$T/runtime-root/$rt"
EOF
    done
fi


# On a failure: what the runtime was asked to do and what it and containerd said.
explain() {   # explain RUNTIME ID
    local rt=$1 id=$2
    echo "---- $rt calls (wrapper log) ----"
    grep -F -A6 -- "$id" "$T/logs/$rt-calls.log" 2>/dev/null | tail -n 40 || true
    echo "---- containerd log lines for $id ----"
    grep -F -- "$id" "$T/containerd.log" | grep -iE 'error|fail|warn' | tail -n 15 || true
    local f
    for f in "$T"/state/io.containerd.runtime.v2.task/"$NS"/"$id"/log.json; do
        [ -s "$f" ] && { echo "---- runtime --log $f ----"; tail -n 10 "$f"; }
    done
    echo "----"
}

# Anything left of container ID after it was deleted?  Prints what it finds.
leftovers() {   # leftovers RUNTIME ID [NAMESPACE]
    local rt=$1 id=$2 ns=${3:-$NS} found="" pid d
    for pid in $(pids_matching "$id"); do
        found+=" process $pid ($(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-120));"
    done
    # cgroups named after the container, in every hierarchy (v1 controllers and unified)
    for d in $(find /sys/fs/cgroup/ -mindepth 1 -maxdepth 6 -type d -name "*$id*" 2>/dev/null); do
        found+=" cgroup $d;"
    done
    if grep -qF -- "$id" /proc/self/mountinfo; then
        found+=" mounts: $(grep -F -- "$id" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ');"
    fi
    # the runtime's state (--root given by --runc-root; the shim appends the namespace)
    if [ -n "$(find "$T/runtime-root/$rt" -mindepth 1 -name "*$id*" 2>/dev/null)" ]; then
        found+=" runtime state: $(find "$T/runtime-root/$rt" -mindepth 1 -name "*$id*" | tr '\n' ' ');"
    fi
    # the shim's bundle directory
    [ -e "$T/state/io.containerd.runtime.v2.task/$ns/$id" ] && found+=" shim bundle dir left;"
    echo "$found"
}

task_status() {   # task_status ID -> RUNNING|STOPPED|CREATED|PAUSED|"" (no task)
    ctr_ task ls 2>/dev/null | awk -v id="$1" '$1 == id {print $3}'
}

# ctr task ps -> RUNTIME ps --format json; pause/resume -> RUNTIME pause/resume;
# exec -> RUNTIME exec --process FILE --detach --pid-file F; metrics -> the shim reads cgroups.
extras() {   # extras RUNTIME ID TASKPID
    local rt=$1 id=$2 tpid=$3 out rc
    rc=0; out=$(ctr_ task ps "$id" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ] && grep -qw "$tpid" <<<"$out"; then xreport "$rt" x-ps PASS "lists pid $tpid"
    else xreport "$rt" x-ps FAIL "exit=$rc: $(tr '\n' ' ' <<<"$out" | head -c 400)"; fi

    rc=0; out=$(ctr_ task pause "$id" 2>&1) || rc=$?
    local st; st=$(task_status "$id")
    if [ "$rc" -eq 0 ] && [ "$st" = PAUSED ]; then
        rc=0; out=$(ctr_ task resume "$id" 2>&1) || rc=$?; st=$(task_status "$id")
        if [ "$rc" -eq 0 ] && [ "$st" = RUNNING ]; then xreport "$rt" x-pause PASS "PAUSED, then RUNNING"
        else xreport "$rt" x-pause FAIL "resume exit=$rc status=$st: $out"; fi
    else
        xreport "$rt" x-pause FAIL "pause exit=$rc status=$st: $(head -c 400 <<<"$out")"
        ctr_ task resume "$id" >/dev/null 2>&1 || true
    fi

    rc=0; out=$(ctr_ task exec --fifo-dir "$T/fifo" --exec-id x1 "$id" sh -c 'echo exec-ok; exit 4' </dev/null 2>&1) || rc=$?
    if [ "$rc" -eq 4 ] && [ "$out" = exec-ok ]; then xreport "$rt" x-exec PASS "printed exec-ok, exit 4"
    else xreport "$rt" x-exec FAIL "exit=$rc: $(tr '\n' ' ' <<<"$out" | head -c 400)"; fi

    rc=0; out=$(ctr_ task metrics "$id" 2>&1) || rc=$?
    if [ "$rc" -eq 0 ] && grep -q memory <<<"$out"; then xreport "$rt" x-metrics PASS "cgroup metrics read"
    else xreport "$rt" x-metrics FAIL "exit=$rc: $(tr '\n' ' ' <<<"$out" | head -c 300)"; fi
    return 0
}


run_suite() {   # run_suite RUNTIME
    local rt=$1 wrap=$T/bin/$1-wrap root=$T/runtime-root/$1
    local sfx; sfx=$(printf '%04x' $((RANDOM)))
    local fg=isorun-ct-$rt-fg-$sfx bg=isorun-ct-$rt-bg-$sfx out rc st left
    IDS+=("$fg" "$bg")
    mkdir -p "$root"
    echo "== $rt =="

    # fg: output and exit status pass through.
    rc=0
    out=$(ctr_ run --rm --fifo-dir "$T/fifo" --runc-binary "$wrap" --runc-root "$root" "$IMAGE" "$fg" \
            sh -c 'echo hello; exit 3' </dev/null 2>"$T/logs/$rt-fg.stderr") || rc=$?
    if [ "$rc" -eq 3 ] && [ "$out" = hello ]; then
        report "$rt" fg PASS "printed hello, exit 3"
    else
        report "$rt" fg FAIL "stdout='$out' exit=$rc stderr='$(head -c 600 "$T/logs/$rt-fg.stderr")'"
        explain "$rt" "$fg"
    fi
    left=$(leftovers "$rt" "$fg")
    if [ -z "$left" ]; then report "$rt" fg-clean PASS "nothing left after --rm"
    else report "$rt" fg-clean FAIL "$left"; fi

    # vm (isorun only): the same image in a micro-VM, chosen per container by annotation.
    # The guest's own kernel answers uname -r; the exit status still passes through; a
    # volume (ctr --mount) reads and writes the host's directory.
    if [ "$rt" = isorun ]; then
        local vm=isorun-ct-vm-$sfx volume="$T/volume-$rt"
        IDS+=("$vm")
        mkdir -p "$volume" && echo from-host >"$volume/in"
        rc=0
        out=$(ctr_ run --rm --annotation io.isorun.mode=vm --fifo-dir "$T/fifo" --runc-binary "$wrap" --runc-root "$root" \
                --mount "type=bind,src=$volume,dst=/data,options=rbind:rw" \
                "$IMAGE" "$vm" sh -c 'echo hello-vm; uname -r; cat /data/in; echo from-vm >/data/out; exit 4' \
                </dev/null 2>"$T/logs/$rt-vm.stderr") || rc=$?
        if [ "$rc" -eq 4 ] && [ "$(printf '%s\n' "$out" | head -1)" = hello-vm ] \
                && [ "$(printf '%s\n' "$out" | sed -n 2p)" != "$(uname -r)" ] \
                && [ "$(printf '%s\n' "$out" | sed -n 3p)" = from-host ] && [ "$(cat "$volume/out" 2>/dev/null)" = from-vm ]; then
            report "$rt" vm PASS "printed hello-vm from guest kernel $(printf '%s\n' "$out" | sed -n 2p), read and wrote its volume, exit 4"
        else
            report "$rt" vm FAIL "stdout='$out' exit=$rc stderr='$(head -c 600 "$T/logs/$rt-vm.stderr")'"
            explain "$rt" "$vm"
        fi
        left=$(leftovers "$rt" "$vm")
        if pgrep -f "qemu-system.*$vm" >/dev/null; then left="$left qemu still running"; fi
        if [ -z "$left" ]; then report "$rt" vm-clean PASS "nothing left after --rm"
        else report "$rt" vm-clean FAIL "$left"; fi

        # vm-exec (extra): `ctr task exec` into a running VM container: the process runs in
        # the guest; the runtime's exec relay stands for it on the host.
        local vmx=isorun-ct-vmx-$sfx i
        IDS+=("$vmx")
        rc=0
        ctr_ run -d --annotation io.isorun.mode=vm --fifo-dir "$T/fifo" --runc-binary "$wrap" --runc-root "$root" \
            "$IMAGE" "$vmx" sleep 1000 </dev/null >/dev/null 2>"$T/logs/$rt-vmx.stderr" || rc=$?
        for i in $(seq 50); do [ "$(task_status "$vmx")" = RUNNING ] && break; sleep 0.1; done
        if [ "$rc" -eq 0 ] && [ "$(task_status "$vmx")" = RUNNING ]; then
            rc=0; out=$(ctr_ task exec --fifo-dir "$T/fifo" --exec-id vx1 "$vmx" sh -c 'echo exec-ok; uname -r; exit 4' </dev/null 2>&1) || rc=$?
            if [ "$rc" -eq 4 ] && [ "$(printf '%s\n' "$out" | head -1)" = exec-ok ] \
                    && [ "$(printf '%s\n' "$out" | sed -n 2p)" != "$(uname -r)" ]; then
                xreport "$rt" x-vm-exec PASS "printed exec-ok from guest kernel $(printf '%s\n' "$out" | sed -n 2p), exit 4"
            else
                xreport "$rt" x-vm-exec FAIL "exit=$rc: $(tr '\n' ' ' <<<"$out" | head -c 400)"
            fi
        else
            xreport "$rt" x-vm-exec FAIL "ctr run -d (vm) exit=$rc: $(head -c 400 "$T/logs/$rt-vmx.stderr")"
        fi
        ctr_ task kill -s SIGKILL "$vmx" >/dev/null 2>&1 || true
        for i in $(seq 50); do [ "$(task_status "$vmx")" = RUNNING ] || break; sleep 0.1; done
        ctr_ task delete -f "$vmx" >/dev/null 2>&1 || true
        ctr_ container delete "$vmx" >/dev/null 2>&1 || true
        sleep 0.3
        left=$(leftovers "$rt" "$vmx")
        if pgrep -f "qemu-system.*$vmx" >/dev/null; then left="$left qemu still running"; fi
        if [ -z "$left" ]; then report "$rt" vm-exec-clean PASS "nothing left after kill and delete"
        else report "$rt" vm-exec-clean FAIL "$left"; fi
    fi

    # bg: detached container that keeps running.
    rc=0
    ctr_ run -d --fifo-dir "$T/fifo" --runc-binary "$wrap" --runc-root "$root" "$IMAGE" "$bg" sleep 1000 \
        </dev/null >"$T/logs/$rt-bg.stdout" 2>"$T/logs/$rt-bg.stderr" || rc=$?
    sleep 0.5
    st=$(task_status "$bg")
    # The runtime's own view must agree with containerd's: `RUNTIME state` says running, same pid.
    local tpid rstate
    tpid=$(ctr_ task ls 2>/dev/null | awk -v id="$bg" '$1 == id {print $2}')
    rstate=$("$T/bin/$rt-wrap" --root "$root/$NS" state "$bg" 2>&1 | tr -d ' \n') || true
    if [ "$rc" -eq 0 ] && [ "$st" = RUNNING ] \
            && [[ "$rstate" == *'"status":"running"'* && "$rstate" == *"\"pid\":$tpid,"* ]]; then
        report "$rt" bg-run PASS "task $tpid RUNNING; '$rt state' agrees"
    else
        report "$rt" bg-run FAIL "ctr run -d exit=$rc, task status '$st' pid '$tpid', '$rt state': $rstate, stderr='$(head -c 600 "$T/logs/$rt-bg.stderr")'"
        explain "$rt" "$bg"
    fi

    # Extras (reported, but they do not decide the exit status unless STRICT_EXTRAS=1): the
    # other task calls the shim turns into runtime commands.
    if [ "$st" = RUNNING ]; then extras "$rt" "$bg" "$tpid"; fi

    # kill: SIGTERM first (sleep as PID 1 of its namespace ignores it, as under runc), then
    # SIGKILL; the task must reach STOPPED either way.
    if [ -n "$st" ]; then
        local how=SIGTERM i
        rc=0; ctr_ task kill "$bg" 2>"$T/logs/$rt-kill.stderr" || rc=$?
        for i in $(seq 20); do st=$(task_status "$bg"); [ "$st" = STOPPED ] && break; sleep 0.1; done
        if [ "$st" != STOPPED ]; then
            how="SIGTERM ignored, SIGKILL"
            ctr_ task kill -s SIGKILL "$bg" 2>>"$T/logs/$rt-kill.stderr" || rc=$?
            for i in $(seq 50); do st=$(task_status "$bg"); [ "$st" = STOPPED ] && break; sleep 0.1; done
        fi
        if [ "$rc" -eq 0 ] && [ "$st" = STOPPED ]; then
            report "$rt" bg-kill PASS "$how -> STOPPED"
        else
            report "$rt" bg-kill FAIL "$how: kill exit=$rc status='$st' stderr='$(cat "$T/logs/$rt-kill.stderr")'"
            explain "$rt" "$bg"
        fi
        rc=0
        ctr_ task delete "$bg" >/dev/null 2>"$T/logs/$rt-del.stderr" || rc=$?
        if [ "$rc" -ne 0 ]; then   # try harder so the container delete below can work
            ctr_ task delete -f "$bg" >/dev/null 2>>"$T/logs/$rt-del.stderr" || true
        fi
    else
        report "$rt" bg-kill FAIL "no task to kill"
        rc=1
    fi
    local rc2=0
    ctr_ container delete "$bg" 2>>"$T/logs/$rt-del.stderr" || rc2=$?
    if [ "$rc" -eq 0 ] && [ "$rc2" -eq 0 ] && [ -z "$(ctr_ container ls -q | grep -xF "$bg")" ]; then
        report "$rt" bg-delete PASS "task and container deleted"
    else
        report "$rt" bg-delete FAIL "task delete exit=$rc, container delete exit=$rc2: $(cat "$T/logs/$rt-del.stderr")"
        explain "$rt" "$bg"
    fi
    sleep 0.3     # the shim exits asynchronously after delete
    left=$(leftovers "$rt" "$bg")
    if [ -z "$left" ]; then report "$rt" bg-clean PASS "no process, shim, cgroup, mount or state"
    else report "$rt" bg-clean FAIL "$left"; fi
}

# The CRI path: pod sandbox + two containers per runtime handler, through cri/cri_check.py.
cri_suite() {
    echo "== CRI (runtime handlers) =="
    local rt out rc id ids left
    if ! { python3 -m venv "$T/venv" && "$T/venv/bin/pip" install -q --disable-pip-version-check \
            grpcio grpcio-tools; } >"$T/logs/venv.log" 2>&1; then
        for rt in $RUNTIMES; do RESULT[$rt/cri]=SKIP; done
        echo "SKIP cri: could not install grpcio/grpcio-tools into a venv: $(tail -n 3 "$T/logs/venv.log")"
        return 0
    fi
    # The CRI plugin works in the k8s.io namespace: the test image and the sandbox image go there.
    "$HERE/busybox-oci-image.sh" "$T/pause.tar" "$PAUSE_IMAGE" '["sleep","2147483647"]'
    if ! { ctr --address "$SOCK" -n k8s.io image import "$T/image.tar" \
            && ctr --address "$SOCK" -n k8s.io image import "$T/pause.tar"; } >>"$T/logs/import.log" 2>&1; then
        for rt in $RUNTIMES; do report "$rt" cri FAIL "ctr -n k8s.io image import failed: $(tail -n 3 "$T/logs/import.log")"; done
        return 0
    fi
    for rt in $RUNTIMES; do
        rc=0
        local vm_probe=()
        [ "$rt" = isorun ] && vm_probe=(--vm-probe "$CRI_GATEWAY:$PROBE_PORT" --probe-text "$(cat "$T/www/probe")")
        out=$(timeout 240 "$T/venv/bin/python" "$HERE/cri/cri_check.py" --socket "$SOCK" \
                --handler "$rt" --image "$IMAGE" --logdir "$T/pods/$rt" --gen "$T/cri-gen" "${vm_probe[@]}" 2>&1) || rc=$?
        grep -v '^IDS' <<<"$out" | sed "s/^/    $rt: /"
        ids=$(sed -n 's/^IDS //p' <<<"$out")
        for id in $ids; do IDS+=("$id"); done
        if [ "$rc" -eq 0 ]; then
            report "$rt" cri PASS "sandbox + 2 containers with runtime_handler=$rt$([ "$rt" = isorun ] && echo "; a VM container on CNI's pod network")"
        else
            report "$rt" cri FAIL "cri_check.py exit $rc (steps above)"
            echo "---- $rt calls (wrapper log, last 16 lines) ----"
            tail -n 16 "$T/logs/$rt-calls.log" 2>/dev/null
            echo "---- containerd errors ----"
            grep -iE 'level=(error|warn)' "$T/containerd.log" | grep -vE 'failed to load plugin|cni config load|skip loading plugin|failed to load cni' | tail -n 8
            echo "----"
        fi
        sleep 0.5      # the shims exit asynchronously after RemovePodSandbox
        left=""
        for id in $ids; do left+=$(leftovers "$rt" "$id" k8s.io); done
        if [ -z "$ids" ]; then report "$rt" cri-clean FAIL "no sandbox was created"
        elif [ -z "$left" ]; then report "$rt" cri-clean PASS "no process, shim, cgroup, mount or state"
        else report "$rt" cri-clean FAIL "$left"; fi
    done
}

# ---------------------------------------------------------------------------------------------
# Go.
# ---------------------------------------------------------------------------------------------
echo "workspace $T; containerd $(containerd --version | awk '{print $3}'), $(runc --version | head -1), isorun $ISORUN_SRC"
"$HERE/busybox-oci-image.sh" "$T/image.tar" "$IMAGE"   # OCI layout tar from /bin/busybox

containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 &
CTRD_PID=$!
ready=0
for _ in $(seq 100); do
    if ctr --address "$SOCK" version >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$CTRD_PID" 2>/dev/null || break
    sleep 0.1
done
if [ "$ready" -ne 1 ]; then
    echo "FAIL setup: containerd did not become ready; its log:"; tail -n 30 "$T/containerd.log"
    exit 2
fi
echo "PASS setup: containerd ready (pid $CTRD_PID)"

if ctr_ image import "$T/image.tar" >"$T/logs/import.log" 2>&1 \
        && ctr_ image ls -q | grep -qxF "$IMAGE"; then
    echo "PASS setup: image $IMAGE imported"
else
    echo "FAIL setup: ctr image import:"; cat "$T/logs/import.log"; exit 2
fi

for rt in $RUNTIMES; do run_suite "$rt"; done
[ "$CRI" = 1 ] && cri_suite

# Anything of ours still running or mounted after both suites? (shims carry our socket path)
stray=$(pids_matching "$SOCK.ttrpc" | tr '\n' ' ')
[ -n "$stray" ] && echo "note: shim processes still up: $stray"

cri_summary() { if [ "$CRI" = 1 ]; then printf '  cri=%s cri-clean=%s' "${RESULT[$1/cri]:-SKIP}" "${RESULT[$1/cri-clean]:-SKIP}"; fi; }
summarize containerd "fg fg-clean vm vm-clean vm-exec-clean bg-run bg-kill bg-delete bg-clean" "ps pause exec metrics vm-exec" cri_summary
