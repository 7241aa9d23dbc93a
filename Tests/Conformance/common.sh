# Shared by containerd.sh and podman.sh (sourced, not run): the argument check, the copy of
# the binaries under test, package installation, process lookup and the PASS/FAIL bookkeeping.

# Checks the caller is root and $1 an executable; sets ISORUN_SRC (absolute) and HERE.
check_arguments() {   # check_arguments SCRIPT "$@"
    local script=$1; shift
    [ $# -eq 1 ] || { echo "usage: $script ISORUN_BINARY" >&2; exit 2; }
    [ "$(id -u)" -eq 0 ] || { echo "$script: must run as root" >&2; exit 2; }
    ISORUN_SRC=$(readlink -f "$1")
    HERE=$(cd "$(dirname "$script")" && pwd)
    [ -x "$ISORUN_SRC" ] || { echo "$script: $1 is not an executable" >&2; exit 2; }
}

# Copies the binaries under test into BIN_DIR, so that a rebuild during the run cannot swap
# them: isorun, isorun-init beside it (VM mode finds its guest init there) and isorun-oci
# when it was built. Sets ENTRY to what containerd and podman are configured with:
# isorun-oci (it does start and delete itself and hands the rest to the isorun beside it),
# else isorun.
copy_runtime_binaries() {   # copy_runtime_binaries BIN_DIR
    local bin=$1 built
    built=$(dirname "$ISORUN_SRC")
    cp "$ISORUN_SRC" "$bin/isorun"
    if [ -x "$built/isorun-init" ]; then cp "$built/isorun-init" "$bin/isorun-init"; fi
    ENTRY="$bin/isorun"
    if [ -x "$built/isorun-oci" ]; then
        cp "$built/isorun-oci" "$bin/isorun-oci"
        ENTRY="$bin/isorun-oci"
    fi
}

# Installs the named Debian packages (no recommends). On a machine with systemd their
# postinst would start and enable system services; a temporary policy-rc.d (Debian's
# switch for that) keeps them stopped.
install_packages() {   # install_packages PACKAGE...
    [ $# -gt 0 ] || return 0
    echo "installing: $*"
    local own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || { if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; exit 2; }
    if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}

# pids of processes whose command line mentions $1 (a path or id unique to this run)
pids_matching() {
    local needle=$1 pid
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
        tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$needle" && echo "$pid"
    done
    return 0
}

# Lazily unmounts every mount at or under $1 (snapshots, rootfs), deepest first.
unmount_under() {   # unmount_under DIR
    awk -v t="$1" 'index($5, t) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null
    done
    return 0
}

FAILS=0
declare -A RESULT      # RESULT[runtime/step] = PASS|FAIL
record() {   # record RUNTIME STEP PASS|FAIL [detail]: remembers and prints one result
    RESULT[$1/$2]=$3
    printf '%-4s %-7s %-10s %s\n' "$3" "$1" "$2" "${4:-}"
}
report() {   # report RUNTIME STEP PASS|FAIL [detail]
    record "$@"
    [ "$3" = FAIL ] && FAILS=$((FAILS + 1))
    return 0
}
xreport() {   # like report, for the extras: they fail the run only with STRICT_EXTRAS=1
    record "$@"
    if [ "$3" = FAIL ] && [ "${STRICT_EXTRAS:-0}" = 1 ]; then FAILS=$((FAILS + 1)); fi
    return 0
}

# The closing summary: one line per runtime, the verdict, exit 1 when a step failed.
summarize() {   # summarize TOOL "STEP..." "EXTRA..." [FUNCTION that prints more for a runtime]
    local tool=$1 steps=$2 extras=$3 more=${4:-} rt s line
    echo "== summary =="
    for rt in $RUNTIMES; do
        line="$rt:"
        for s in $steps; do line+=" $s=${RESULT[$rt/$s]:-SKIP}"; done
        line+="  (extras:"
        for s in $extras; do line+=" $s=${RESULT[$rt/x-$s]:-SKIP}"; done
        line+=")"
        if [ -n "$more" ]; then line+=$("$more" "$rt"); fi
        echo "$line"
    done
    if [ "$FAILS" -eq 0 ]; then echo "$tool conformance: PASS"; return 0; fi
    # A runc failure means the host, not isorun, is the problem.
    for s in fg bg-run bg-kill bg-delete; do
        if [ "${RESULT[runc/$s]:-}" = FAIL ]; then echo "note: runc itself failed '$s': the host's $tool, not isorun, is suspect"; fi
    done
    echo "$tool conformance: FAIL ($FAILS failed steps)"
    exit 1
}

# A CNI network of the script's own: a bridge with a /24 and its gateway, addresses from
# host-local kept under DATA_DIR, no firewall or portmap plugins (they would want iptables).
write_bridge_network() {   # write_bridge_network FILE NAME BRIDGE SUBNET_PREFIX DATA_DIR (SUBNET_PREFIX: 10.215.77)
    cat >"$1" <<EOF
{"cniVersion": "0.4.0", "name": "$2", "plugins": [
  {"type": "bridge", "bridge": "$3", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": "$5", "routes": [{"dst": "0.0.0.0/0"}],
            "ranges": [[{"subnet": "$4.0/24", "gateway": "$4.1"}]]}}]}
EOF
}

# An HTTP server on every host address serving DIR/probe (a line naming this run), for
# containers to reach; prints its port. The script's cleanup kills it (its argv holds DIR).
start_probe_server() {   # start_probe_server DIR
    local port=$((20000 + RANDOM % 20000))
    mkdir -p "$1" && echo "reached the host $RANDOM" >"$1/probe"
    python3 -m http.server --bind 0.0.0.0 --directory "$1" "$port" >/dev/null 2>&1 &
    echo "$port"
}
