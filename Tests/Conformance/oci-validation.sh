#!/usr/bin/env bash
# oci-validation.sh — run the OCI runtime-tools validation suite against
# isorun and runc in the same run, and compare them assertion by assertion.
#
# Usage (as root, Debian 12):
#   Tests/Conformance/oci-validation.sh [options]
#
# Options:
#   --out DIR          results directory (default /tmp/isorun-oci-validation);
#                      keeps raw/<runtime>/<program>.tap and .stderr, the JSON
#                      report and the bundles' work area
#   --json FILE        JSON report path (default DIR/results.json)
#   --only P1[,P2..]   run only these validation programs (names as in the
#                      suite's validation/ folder, e.g. hooks,linux_sysctl)
#   --runtime R        isorun | runc | both (default both)
#   --isorun PATH      the isorun binary to test (default the repo's
#                      .build/debug/isorun; it is copied first so a rebuild
#                      during the run does not disturb it)
#   --runc PATH        the runc binary (default: runc on PATH)
#   --timeout SEC      per-program timeout (default 120)
#   --setup-only       prepare the cached suite build and exit
#   -h, --help         this text
#
# Environment: ISORUN_CACHE (default /var/cache/isorun) — the suite's source,
# build and Go cache live in $ISORUN_CACHE/oci-validation/<source version>/.
#
# What it does:
#  1. Setup (cached by the Debian source version): installs what it needs with
#     apt, adds a deb-src entry for Debian trixie (its own file, pinned so that
#     nothing from trixie is ever installed), fetches the trixie source package
#     golang-github-opencontainers-runtime-tools (which, unlike Debian's -dev
#     package, has validation/, cmd/runtimetest and the test rootfs), and
#     builds it offline with Debian's Go in GOPATH mode against Debian's -dev
#     packages. The one unpackaged import, github.com/mndrix/tap-go, is served
#     by our own small TAP writer in Tests/Conformance/tap/.
#  2. Runs every validation program against each runtime, one at a time, with
#     a timeout, in a per-runtime working directory that holds runtimetest and
#     the rootfs tarball (the programs look for both in their cwd), with
#     TMPDIR pointing at a 0755 directory (bundles are created there; in a
#     0700 or sticky directory the user-namespace tests fail). The suite picks
#     the runtime from $RUNTIME and calls it without --root, so each runtime
#     uses its default state directory (/run/isorun, /run/runc). $RUNTIME is
#     a tiny wrapper that logs each call to DIR/ids.log (so cleanup touches
#     only our containers) and execs the copied runtime binary.
#  3. After every program: unmounts whatever was left mounted in the work
#     area (linux_ns_itype runs a container without a mount namespace, so its
#     /proc, /dev, /sys mounts land on the host), and records and removes any
#     leftover process, runtime state directory or test cgroup.
#  4. Parses the TAP, prints a per-program table and the totals, lists the
#     tests that need what this machine lacks, writes the JSON report, and
#     exits 1 when isorun passes fewer assertions than runc or fails more.
#
# How assertions are counted (per program and runtime), from the program's
# stdout (only lines starting in column 0; indented YAML blocks are ignored):
#   pass  = "ok N ..." lines without a directive, and "ok N ... # TODO"
#   skip  = "ok N ... # SKIP ..." lines
#   todo  = "not ok N ... # TODO" lines (expected failures; not counted as fail)
#   fail  = "not ok N ..." lines
#         + the assertions the plan ("1..N") announced but that never came
#         + 1 when the program has no plan at all (but a program whose
#           stdout is empty and that exits 0 counts 1 pass: the negative
#           tests, e.g. process_rlimits_fail, print nothing when the runtime
#           correctly refuses the config)
#         + 1 when the program exited non-zero, was killed or timed out: the
#           suite reports a failed check outside TAP by util.Fatal (exit 1),
#           e.g. process_capabilities_fail when the runtime accepts a bogus
#           capability.
#   The hook programs (hooks, prestart, poststart, ...) assert nothing
#   ("1..0"); they report problems only as an "error" key in a YAML block,
#   which the table shows as yaml-errors=N (not counted as failures).
#
# Known suite bug worked around: validation/misc_props never copies
# runtimetest into its bundle, so its first case (process "/runtimetest")
# fails at create under every runtime. The build patches that program to copy
# runtimetest, exactly as util.RuntimeInsideValidate does for all the others;
# the patch is applied to the build copy only and is logged.

set -euo pipefail

# ---------------------------------------------------------------------------
# Constants and options
# ---------------------------------------------------------------------------

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
SRC_PKG=golang-github-opencontainers-runtime-tools
SRC_SUITE=trixie
GO_IMPORT=github.com/opencontainers/runtime-tools
TAP_IMPORT=github.com/mndrix/tap-go
# Files we add to apt's configuration (our own names, nothing else touched).
APT_SRC_FILE=/etc/apt/sources.list.d/isorun-oci-validation-trixie-src.sources
APT_PIN_FILE=/etc/apt/preferences.d/isorun-oci-validation-trixie
# Debian packages: the Go toolchain, the suite's build dependencies (Go
# libraries), and the tools this script uses.
APT_PKGS=(
  golang-go
  golang-github-opencontainers-specs-dev      # runtime-spec specs-go
  golang-github-opencontainers-selinux-dev    # go-selinux/label
  golang-github-sirupsen-logrus-dev
  golang-github-google-uuid-dev
  golang-github-hashicorp-go-multierror-dev   # (+ errwrap)
  golang-github-mrunalp-fileutils-dev
  golang-gocapability-dev                     # syndtr/gocapability
  golang-github-urfave-cli-dev
  golang-golang-x-sys-dev
  golang-github-xeipuuv-gojsonschema-dev      # validate/ (+ gojsonpointer/reference)
  golang-github-blang-semver-dev               # blang/semver/v4
  dpkg-dev xz-utils patch                     # apt-get source, unpacking
  jq                                          # the JSON report
  util-linux procps coreutils tar gzip ca-certificates
)
# Bump when the build recipe (patches, flags) changes, to invalidate caches.
BUILD_RECIPE=2

CACHE_ROOT="${ISORUN_CACHE:-/var/cache/isorun}/oci-validation"
OUT_DIR=/tmp/isorun-oci-validation
JSON_FILE=""
ONLY=""
RUNTIME_SEL=both
ISORUN_SRC="$REPO_DIR/.build/debug/isorun"
RUNC_SRC=""
TIMEOUT=120
SETUP_ONLY=0

usage() { sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT_DIR=$2; shift 2 ;;
    --json) JSON_FILE=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --runtime) RUNTIME_SEL=$2; shift 2 ;;
    --isorun) ISORUN_SRC=$2; shift 2 ;;
    --runc) RUNC_SRC=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "oci-validation: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$RUNTIME_SEL" in
  both) RUNTIMES=(runc isorun) ;;
  runc|isorun) RUNTIMES=("$RUNTIME_SEL") ;;
  *) echo "oci-validation: --runtime must be isorun, runc or both" >&2; exit 2 ;;
esac
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { echo "oci-validation: --timeout needs seconds" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "oci-validation: must run as root" >&2; exit 2; }

log() { printf '[oci-validation %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# ---------------------------------------------------------------------------
# 1. Setup
# ---------------------------------------------------------------------------

APT_UPDATED=0
apt_update_once() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    APT_UPDATED=1
  fi
}

# Install the packages of APT_PKGS that are not installed yet.
ensure_packages() {
  local missing=() p
  for p in "${APT_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
  fi
}

# The Debian mirror this system already uses: the first deb URI, in
# /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources}, whose
# suite is not a -security one. Falls back to deb.debian.org.
detect_mirror() {
  local f uri=""
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    uri=$(awk '$1=="deb" { i=2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /^\[/ || $i ~ /\]$/) i++;
                 if ($(i+1) !~ /-security/ && $i ~ /debian/) { print $i; exit } }' "$f")
    [[ -n $uri ]] && break
  done
  if [[ -z $uri ]]; then
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -f $f && $f != "$APT_SRC_FILE" ]] || continue
      # deb822: stanzas separated by blank lines; want Types: deb, a
      # non-security suite, and a Debian URI.
      uri=$(awk 'BEGIN{RS=""; FS="\n"}
        { t=""; u=""; s="";
          for (i=1;i<=NF;i++) {
            if ($i ~ /^Types:/) t=$i; if ($i ~ /^URIs:/) u=$i; if ($i ~ /^Suites:/) s=$i }
          if (t ~ /[ \t]deb([ \t]|$)/ && s !~ /-security/ && u ~ /debian/) {
            sub(/^URIs:[ \t]*/, "", u); split(u, a, /[ \t]+/); print a[1]; exit } }' "$f")
      [[ -n $uri ]] && break
    done
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Add a deb-src entry for trixie in its own file, and pin trixie to -1 so no
# binary package can ever be installed from it (only deb-src is configured
# anyway; the pin keeps that true if someone adds a deb line later).
ensure_trixie_source() {
  local mirror want_src want_pin changed=0
  mirror=$(detect_mirror)
  want_src="# Added by isorun Tests/Conformance/oci-validation.sh: source packages only.
Types: deb-src
URIs: $mirror
Suites: $SRC_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
  want_pin="# Added by isorun Tests/Conformance/oci-validation.sh: never install from $SRC_SUITE.
Package: *
Pin: release n=$SRC_SUITE
Pin-Priority: -1"
  if [[ ! -f $APT_SRC_FILE || "$(cat "$APT_SRC_FILE")" != "$want_src" ]]; then
    printf '%s\n' "$want_src" >"$APT_SRC_FILE"; changed=1
  fi
  if [[ ! -f $APT_PIN_FILE || "$(cat "$APT_PIN_FILE")" != "$want_pin" ]]; then
    printf '%s\n' "$want_pin" >"$APT_PIN_FILE"; changed=1
  fi
  if [[ $changed -eq 1 ]]; then
    log "deb-src $SRC_SUITE from $mirror -> $APT_SRC_FILE (pinned -1: $APT_PIN_FILE)"
    APT_UPDATED=0; apt_update_once
  fi
}

# Prints the "'URI' name size HASHTYPE:hash" lines of the trixie source package.
source_uris() {
  apt-get source --print-uris -qq "$SRC_PKG/$SRC_SUITE" 2>/dev/null | grep "^'" || true
}

# Verify one downloaded file against the hash apt printed.
verify_file() { # file HASHTYPE:hash
  local file=$1 algo=${2%%:*} sum=${2#*:} got
  [[ -f $file ]] || return 1
  case "$algo" in
    SHA256) got=$(sha256sum "$file" | cut -d' ' -f1) ;;
    SHA512) got=$(sha512sum "$file" | cut -d' ' -f1) ;;
    SHA1) got=$(sha1sum "$file" | cut -d' ' -f1) ;;
    MD5Sum|MD5) got=$(md5sum "$file" | cut -d' ' -f1) ;;
    *) return 1 ;;
  esac
  [[ $got == "$sum" ]]
}

# Fetch and unpack the source package into $VDIR/src (once per version).
fetch_source() {
  local uris=$1 dl="$VDIR/download" name hash dsc="" line
  [[ -f "$VDIR/src/.unpacked" ]] && return 0
  mkdir -p "$dl"; rm -rf "$VDIR/src"
  log "apt-get source $SRC_PKG/$SRC_SUITE ($VERSION)"
  # apt downloads what it can; on some mirrors/proxies the .dsc is missing
  # (404) while the tarballs are there, so a failure here is not fatal: every
  # file is checked against the Sources index hash below.
  (cd "$dl" && apt-get source --download-only -qq "$SRC_PKG/$SRC_SUITE" >/dev/null 2>"$dl/apt-source.log") \
    || log "apt-get source reported errors (see $dl/apt-source.log); checking what arrived"
  local have_orig=0 have_debian=0
  while read -r line; do
    name=$(awk '{print $2}' <<<"$line"); hash=$(awk '{print $4}' <<<"$line")
    if verify_file "$dl/$name" "$hash"; then
      case "$name" in
        *.dsc) dsc="$dl/$name" ;;
        *.orig.tar.*) have_orig=1 ;;
        *.debian.tar.*) have_debian=1 ;;
      esac
    else
      rm -f "$dl/$name"
      [[ $name == *.dsc ]] || die "$name missing or its hash does not match the Sources index"
    fi
  done <<<"$uris"
  if [[ -n $dsc ]]; then
    dpkg-source -q -x "$dsc" "$VDIR/src" >/dev/null
  else
    # No .dsc: unpack the verified upstream and Debian tarballs ourselves and
    # apply debian/patches/series, which is what dpkg-source -x does.
    [[ $have_orig -eq 1 && $have_debian -eq 1 ]] || die "source tarballs missing in $dl"
    log "no .dsc available; unpacking the verified tarballs and applying debian/patches"
    local tmp="$VDIR/src.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
    tar -xf "$dl"/*.orig.tar.* -C "$tmp"
    local top; top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
    tar -xf "$dl"/*.debian.tar.* -C "$top"
    if [[ -f "$top/debian/patches/series" ]]; then
      local p
      while read -r p _; do
        [[ -z $p || $p == \#* ]] && continue
        patch -s -p1 -d "$top" <"$top/debian/patches/$p"
      done <"$top/debian/patches/series"
    fi
    mv "$top" "$VDIR/src"; rm -rf "$tmp"
  fi
  touch "$VDIR/src/.unpacked"
}

# Our fix for the suite's misc_props bug (see the header), applied to the
# build copy. Exits non-zero when the source no longer looks as expected.
patch_misc_props() {
  local f="$1/validation/misc_props/misc_props.go"
  grep -q 'defer os.RemoveAll(bundleDir)' "$f" || return 1
  grep -q 'fileutils.CopyFile("runtimetest"' "$f" && return 0   # fixed upstream
  sed -i 's#^\(\s*\)defer os.RemoveAll(bundleDir)$#&\
\1// Added by isorun oci-validation.sh: the first case runs /runtimetest,\
\1// which util.RuntimeInsideValidate would copy in; misc_props never did.\
\1if err := fileutils.CopyFile("runtimetest", filepath.Join(bundleDir, "runtimetest")); err != nil {\
\1\tutil.Fatal(err)\
\1}#' "$f"
  sed -i 's#^\(\s*\)"github.com/google/uuid"$#&\
\1"github.com/mrunalp/fileutils"#' "$f"
  grep -q '"github.com/mrunalp/fileutils"' "$f"
}

# Build runtimetest (static) and every validation program into $VDIR/bin.
build_suite() {
  local stamp_want gopath="$VDIR/gopath" bin="$VDIR/bin"
  stamp_want="recipe=$BUILD_RECIPE go=$(go version | awk '{print $3}') tap=$(cat "$SCRIPT_DIR"/tap/*.go | sha256sum | cut -c1-16)"
  if [[ -f "$bin/.stamp" && "$(cat "$bin/.stamp")" == "$stamp_want" ]]; then
    return 0
  fi
  log "building the suite (GOPATH mode, offline) into $bin"
  rm -rf "$gopath" "$bin"
  mkdir -p "$gopath/src/$(dirname "$GO_IMPORT")" "$gopath/src/$TAP_IMPORT" "$bin"
  cp -a "$VDIR/src" "$gopath/src/$GO_IMPORT"
  cp "$SCRIPT_DIR"/tap/*.go "$gopath/src/$TAP_IMPORT/"
  if patch_misc_props "$gopath/src/$GO_IMPORT"; then
    log "patched validation/misc_props to copy runtimetest into its bundle (known suite bug)"
    echo patched >"$bin/.misc_props"
  else
    log "WARNING: could not patch misc_props; its first case will fail for every runtime"
    echo unpatched >"$bin/.misc_props"
  fi
  (
    cd "$gopath/src/$GO_IMPORT"
    export GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= \
           GOCACHE="$CACHE_ROOT/gocache" GOTOOLCHAIN=local
    CGO_ENABLED=0 go build -tags "netgo osusergo" -o "$bin/runtimetest" ./cmd/runtimetest
    # One "go build" with a directory -o writes one executable per main
    # package (validation/util is a library and is skipped).
    go build -o "$bin/" ./validation/...
  )
  cp "$VDIR"/src/rootfs-"$(go env GOARCH)".tar.gz "$bin/rootfs-$(go env GOARCH).tar.gz"
  printf '%s\n' "$stamp_want" >"$bin/.stamp"
}

setup() {
  local t0=$SECONDS uris
  ensure_packages
  ensure_trixie_source
  uris=$(source_uris)
  if [[ -z $uris ]]; then apt_update_once; uris=$(source_uris); fi
  if [[ -n $uris ]]; then
    VERSION=$(awk '{print $2}' <<<"$uris" | sed -n 's/^.*_\([^_]*\)\.dsc$/\1/p' | head -1)
    [[ -n $VERSION ]] || VERSION=$(awk '{print $2}' <<<"$uris" | sed -n 's/^.*_\([^_]*\)\.debian\.tar\..*$/\1/p' | head -1)
  else
    # Offline: reuse the newest cached build, if any.
    VERSION=$(ls -1t "$CACHE_ROOT" 2>/dev/null | grep -v '^gocache$' | head -1 || true)
    [[ -n $VERSION && -f "$CACHE_ROOT/$VERSION/bin/.stamp" ]] \
      || die "cannot find $SRC_PKG in $SRC_SUITE sources and nothing is cached"
    log "apt has no $SRC_PKG/$SRC_SUITE; using cached $VERSION"
  fi
  VDIR="$CACHE_ROOT/$VERSION"
  mkdir -p "$VDIR"
  [[ -n $uris ]] && fetch_source "$uris"
  build_suite
  SUITE_BIN="$VDIR/bin"
  SETUP_SECONDS=$((SECONDS - t0))
  log "suite $SRC_PKG $VERSION ready in $SUITE_BIN (setup ${SETUP_SECONDS}s)"
}

setup
[[ $SETUP_ONLY -eq 1 ]] && exit 0

# ---------------------------------------------------------------------------
# 2. Run
# ---------------------------------------------------------------------------

mapfile -t ALL_PROGS < <(cd "$SUITE_BIN" && find . -maxdepth 1 -type f -perm -u+x ! -name runtimetest -printf '%f\n' | sort)
if [[ -n $ONLY ]]; then
  PROGS=()
  IFS=',' read -r -a want <<<"$ONLY"
  for p in "${want[@]}"; do
    [[ -x "$SUITE_BIN/$p" && $p != runtimetest ]] || die "no validation program '$p' (have: ${ALL_PROGS[*]})"
    PROGS+=("$p")
  done
else
  PROGS=("${ALL_PROGS[@]}")
fi

mkdir -p "$OUT_DIR"; chmod 0755 "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
JSON_FILE=${JSON_FILE:-$OUT_DIR/results.json}
WORK="$OUT_DIR/work"
RUN_TOKEN="oci-validation-$$-$(date +%s)"   # marks processes our runs start
LEFTOVERS="$OUT_DIR/leftovers.tsv"          # runtime, program, kind, detail
: >"$LEFTOVERS"
rm -rf "$OUT_DIR/raw"
# Every directory from / to the bundles must be traversable by other users
# (user-namespace tests map root to another uid).
d="$OUT_DIR"; while [[ $d != / ]]; do
  [[ $(( $(stat -c '0%a' "$d") & 01 )) -eq 1 ]] || die "$d is not traversable by others; choose another --out"
  d=$(dirname "$d")
done

# The runtimes' binaries, copied so a rebuild cannot swap them mid-run.
mkdir -p "$OUT_DIR/bin"
declare -A RT_BIN RT_STATE
if [[ " ${RUNTIMES[*]} " == *" isorun "* ]]; then
  if [[ ! -x $ISORUN_SRC && $ISORUN_SRC == "$REPO_DIR/.build/debug/isorun" ]]; then
    log "$ISORUN_SRC missing; swift build"
    (cd "$REPO_DIR" && swift build --product isorun >&2)
  fi
  [[ -x $ISORUN_SRC ]] || die "no isorun binary at $ISORUN_SRC"
  cp "$ISORUN_SRC" "$OUT_DIR/bin/isorun.tmp" && mv -f "$OUT_DIR/bin/isorun.tmp" "$OUT_DIR/bin/isorun"
  RT_BIN[isorun]="$OUT_DIR/bin/isorun"; RT_STATE[isorun]=/run/isorun
  # The binary containerd is configured with, when it was built: isorun-oci does start and
  # delete itself and hands every other command to the isorun copied beside it.
  if [[ -x $(dirname "$ISORUN_SRC")/isorun-oci ]]; then
    cp "$(dirname "$ISORUN_SRC")/isorun-oci" "$OUT_DIR/bin/isorun-oci.tmp" && mv -f "$OUT_DIR/bin/isorun-oci.tmp" "$OUT_DIR/bin/isorun-oci"
    RT_BIN[isorun]="$OUT_DIR/bin/isorun-oci"
  fi
fi
if [[ " ${RUNTIMES[*]} " == *" runc "* ]]; then
  RUNC_SRC=${RUNC_SRC:-$(command -v runc || true)}
  [[ -n $RUNC_SRC && -x $RUNC_SRC ]] || die "runc not found (apt-get install runc, or --runc PATH)"
  RT_BIN[runc]="$RUNC_SRC"; RT_STATE[runc]=/run/runc
fi

# The suite runs $RUNTIME; we point it at a two-line wrapper per runtime that
# appends each command line to ids.log and execs the real binary, so the
# sweeps below touch only the containers our tests created (other tools may
# run runc or isorun on this machine at the same time).
IDS_LOG="$OUT_DIR/ids.log"; : >"$IDS_LOG"
declare -A RT_WRAP
for rt in "${RUNTIMES[@]}"; do
  RT_WRAP[$rt]="$OUT_DIR/bin/$rt-logged"
  printf '#!/bin/sh\necho "$*" >>%q\nexec %q "$@"\n' "$IDS_LOG" "${RT_BIN[$rt]}" >"${RT_WRAP[$rt]}"
  chmod 0755 "${RT_WRAP[$rt]}"
done
# Container ids our tests created so far: the last argument of each create.
our_ids() { awk '$1 == "create" { print $NF }' "$IDS_LOG" | sort -u; }

# -- leftover detection and cleanup ----------------------------------------

# Test cgroups: directories named like the suite's container ids (UUIDs) or
# its fixed cgroupsPath values (/cgrouptest, testdir/cgrouptest/container).
list_test_cgroups() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d -regextype posix-extended \
    \( -regex '.*/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' \
       -o -name cgrouptest -o -name testdir \) 2>/dev/null | sort
}
# (`if`, not `&&`: on a machine where a runtime never ran, its missing directory must not
# fail the loop, and with it the script under pipefail.)
list_state_entries() { local d; for d in /run/isorun /run/runc; do
  if [[ -d $d ]]; then find "$d" -mindepth 1 -maxdepth 1 ! -name '.*' -printf "$d/%f\n"; fi; done | sort; }
CG_BEFORE=$(list_test_cgroups)
STATE_BEFORE=$(list_state_entries)

# Mount points under $1 in our mount namespace (octal escapes decoded).
mounts_under() {
  awk -v p="$1/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo \
    | while read -r m; do printf '%b\n' "$m"; done
}

# Processes we (indirectly) started that are still alive: those carrying our
# token in their environment (runtime helpers inherit it from the test
# program) and those whose root or cwd is inside the work area (containers).
stray_pids() {
  local p root cwd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" || $p == "$BASHPID" ]] && continue
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "OCI_VALIDATION_RUN=$RUN_TOKEN"; then
      echo "$p"; continue
    fi
    root=$(readlink "/proc/$p/root" 2>/dev/null || true)
    cwd=$(readlink "/proc/$p/cwd" 2>/dev/null || true)
    [[ $root == "$WORK"/* || $cwd == "$WORK"/* ]] && echo "$p"
  done
}

note_leftover() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$LEFTOVERS"; }

# Find, record and remove what one program left behind.
sweep() { # runtime program tmpdir
  local rt=$1 prog=$2 tmp=$3 m pid e cg kind ids
  ids=$(our_ids)
  # Processes first (they can hold mounts and cgroups).
  for pid in $(stray_pids); do
    note_leftover "$rt" "$prog" process "pid $pid $({ tr '\0' ' ' </proc/"$pid"/cmdline; } 2>/dev/null | cut -c1-120)"
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Runtime state left in /run/<runtime>: ask the runtime to delete it.
  while read -r e; do
    [[ -z $e ]] && continue
    grep -qxF "$(basename "$e")" <<<"$ids" || continue   # not one of ours
    note_leftover "$rt" "$prog" state "$e"
    local owner=runc; [[ $e == /run/isorun/* ]] && owner=isorun
    if [[ -n ${RT_BIN[$owner]:-} ]]; then
      "${RT_BIN[$owner]}" delete --force "$(basename "$e")" >/dev/null 2>&1 || true
    fi
    [[ -e $e ]] && rm -rf "$e" 2>/dev/null || true
  done < <(comm -13 <(echo "$STATE_BEFORE") <(list_state_entries))
  # Mounts in the work area, deepest first. linux_ns_itype leaves them by
  # design (no mount namespace); anything else is the runtime's leftover.
  while read -r m; do
    [[ -z $m ]] && continue
    kind=mount; [[ $prog == linux_ns_itype ]] && kind="mount(suite:no-mntns)"
    note_leftover "$rt" "$prog" "$kind" "$m"
    umount -l "$m" 2>/dev/null || true
  done < <(mounts_under "$WORK" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
  # Test cgroups that were not there before the run.
  while read -r cg; do
    [[ -z $cg || ! -d $cg ]] && continue
    # UUID-named cgroups only when the UUID is one of our container ids.
    case "$(basename "$cg")" in cgrouptest|testdir) ;; *) grep -qxF "$(basename "$cg")" <<<"$ids" || continue ;; esac
    note_leftover "$rt" "$prog" cgroup "$cg"
    # Kill anything still inside (a test container's processes), then
    # remove the cgroup tree bottom-up.
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done < <(comm -13 <(echo "$CG_BEFORE") <(list_test_cgroups) | awk '{ print length($0) "\t" $0 }' | sort -n | cut -f2-)
  # Bundles the program did not remove (now unmounted).
  rm -rf "${tmp:?}"/* 2>/dev/null || true
}

# -- running -----------------------------------------------------------------

declare -A RT_SECONDS
run_runtime() { # runtime
  local rt=$1 prog rc t0=$SECONDS tp0
  local cwd="$WORK/$rt/cwd" tmp="$WORK/$rt/tmp" raw="$OUT_DIR/raw/$rt"
  mkdir -p "$cwd" "$tmp" "$raw"; chmod 0755 "$WORK" "$WORK/$rt" "$cwd" "$tmp"
  # The programs read ./runtimetest and ./rootfs-<arch>.tar.gz from their cwd.
  cp "$SUITE_BIN/runtimetest" "$SUITE_BIN"/rootfs-*.tar.gz "$cwd/"
  log "running ${#PROGS[@]} programs against $rt (${RT_BIN[$rt]})"
  for prog in "${PROGS[@]}"; do
    tp0=$(date +%s%N)
    set +e
    (cd "$cwd" && exec env RUNTIME="${RT_WRAP[$rt]}" TMPDIR="$tmp" OCI_VALIDATION_RUN="$RUN_TOKEN" \
       timeout -k 10 "$TIMEOUT" "$SUITE_BIN/$prog" </dev/null >"$raw/$prog.tap" 2>"$raw/$prog.stderr")
    rc=$?
    set -e
    printf '%s %s\n' "$rc" "$(awk -v a="$tp0" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" >"$raw/$prog.exit"
    sweep "$rt" "$prog" "$tmp"
  done
  RT_SECONDS[$rt]=$((SECONDS - t0))
  log "$rt: ${RT_SECONDS[$rt]}s"
}

for rt in "${RUNTIMES[@]}"; do run_runtime "$rt"; done

# ---------------------------------------------------------------------------
# 3. Results
# ---------------------------------------------------------------------------

# Count one program's TAP (see the header for the rules).
# Prints: pass fail skip todo plan exit seconds note
count_tap() { # tapfile exitfile
  local rc secs
  read -r rc secs <"$2"
  awk -v rc="$rc" -v secs="$secs" -v timeout="$TIMEOUT" '
    /^not ok/ { if ($0 ~ /#[ \t]*TODO/) todo++; else fail++; seen++; next }
    /^ok/     { if ($0 ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) skip++; else pass++; seen++; next }
    # Some programs write one TAP stream per case (each with its own plan):
    # the plans add up.
    /^1\.\.[0-9]+/ { plan += substr($1, 4) + 0; hasplan = 1; next }
    # Programs with nothing to assert (the hook tests) report problems only
    # as an "error" key in a YAML block; count those for the notes.
    /^    "error": "[^"]/ { yerr++ }
    { if (NF) lines++ }
    END {
      note = ""
      if (!hasplan && lines == 0 && rc == 0) {
        # Empty stdout and exit 0: the negative tests (*_fail) print nothing
        # when the runtime correctly refuses the config. One pass.
        pass++; note = note "silent-pass;"
      } else if (!hasplan) { fail++; note = note "no-plan;" }
      else if (plan > seen) { fail += plan - seen; note = note "missing-" (plan - seen) ";" }
      if (rc == 124 || rc == 137) { fail++; note = note "timeout;" }
      else if (rc != 0) { fail++; note = note "exit-" rc ";" }
      if (yerr > 0) note = note "yaml-errors=" yerr ";"
      printf "%d %d %d %d %d %d %s %s\n", pass, fail, skip, todo, (hasplan ? plan : -1), rc, secs, (note == "" ? "-" : note)
    }' "$1"
}

declare -A C   # C[rt,prog] = "pass fail skip todo plan exit secs note"
declare -A TOT_P TOT_F TOT_S TOT_T
for rt in "${RUNTIMES[@]}"; do
  TOT_P[$rt]=0; TOT_F[$rt]=0; TOT_S[$rt]=0; TOT_T[$rt]=0
  for prog in "${PROGS[@]}"; do
    C[$rt,$prog]=$(count_tap "$OUT_DIR/raw/$rt/$prog.tap" "$OUT_DIR/raw/$rt/$prog.exit")
    read -r p f s t _ <<<"${C[$rt,$prog]}"
    TOT_P[$rt]=$((TOT_P[$rt] + p)); TOT_F[$rt]=$((TOT_F[$rt] + f))
    TOT_S[$rt]=$((TOT_S[$rt] + s)); TOT_T[$rt]=$((TOT_T[$rt] + t))
  done
done

# Per-program table.
{
  printf '%-32s' program
  for rt in "${RUNTIMES[@]}"; do printf ' | %-6s %5s %5s %5s' "$rt" pass fail skip; done
  printf ' | note\n'
  for prog in "${PROGS[@]}"; do
    printf '%-32s' "$prog"; notes=""; prev=""
    for rt in "${RUNTIMES[@]}"; do
      read -r p f s t plan rc secs note <<<"${C[$rt,$prog]}"
      printf ' | %-6s %5d %5d %5d' "" "$p" "$f" "$s"
      [[ $note != - ]] && notes+="$rt:$note "
      [[ $t -gt 0 ]] && notes+="$rt:todo=$t "
    done
    if [[ ${#RUNTIMES[@]} -eq 2 ]]; then
      read -r p1 f1 _ <<<"${C[runc,$prog]}"; read -r p2 f2 _ <<<"${C[isorun,$prog]}"
      [[ $p2 -lt $p1 || $f2 -gt $f1 ]] && notes="<< $notes"
    fi
    printf ' | %s\n' "$notes"
  done
} | tee "$OUT_DIR/table.txt"

# Tests that need what this machine lacks. Each entry: id, a probe that
# succeeds when the machine LACKS the feature, the programs it concerns, and
# a pattern matched against runc's TAP + stderr for those programs (the
# observed evidence). Printed when the probe says "lacking" or runc's output
# matches.
lack_probe() {
  case "$1" in
    blkio-leaf-weight) [[ -d /sys/fs/cgroup/blkio && ! -e /sys/fs/cgroup/blkio/blkio.leaf_weight ]] ;;
    hugetlb) [[ ! -d /sys/fs/cgroup/hugetlb ]] && ! grep -qw hugetlb /sys/fs/cgroup/cgroup.controllers 2>/dev/null ;;
    net_cls) [[ ! -d /sys/fs/cgroup/net_cls && ! -d /sys/fs/cgroup/net_cls,net_prio ]] ;;
    kmem) [[ ! -w /sys/fs/cgroup/memory/memory.kmem.limit_in_bytes ]] || \
          [[ $(uname -r | awk -F. '{ print ($1 > 6 || ($1 == 6 && $2 >= 1)) }') == 1 ]] ;;
    selinux) [[ ! -e /sys/fs/selinux/enforce ]] ;;
    apparmor) [[ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]] ;;
    shared-root) [[ "$(findmnt -no PROPAGATION / 2>/dev/null)" != shared* ]] ;;
    full-bounding-set)
      local last bnd; last=$(cat /proc/sys/kernel/cap_last_cap)
      bnd=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
      [[ $(( 16#$bnd )) -ne $(( (1 << (last + 1)) - 1 )) ]] ;;
    *) return 1 ;;
  esac
}
missing_caps() {
  local last bnd i out=""; last=$(cat /proc/sys/kernel/cap_last_cap)
  bnd=$(( 16#$(awk '/^CapBnd/ { print $2 }' /proc/self/status) ))
  for ((i = 0; i <= last; i++)); do (( (bnd >> i) & 1 )) || out+="$i "; done
  echo "${out% }"
}
LACKS=(
  "blkio-leaf-weight|blkio.leaf_weight absent (no CFQ/BFQ leaf weights in this kernel's blkio cgroup)|linux_cgroups_blkio linux_cgroups_relative_blkio|leaf_weight"
  "hugetlb|no hugetlb cgroup hierarchy mounted|linux_cgroups_hugetlb linux_cgroups_relative_hugetlb|hugetlb"
  "net_cls|no net_cls/net_prio cgroup hierarchy mounted|linux_cgroups_network linux_cgroups_relative_network|net_cls|net_prio"
  "kmem|kernel memory limit: memory.kmem.limit_in_bytes accepts writes but stays unlimited on Linux >= 6.1 ('memory kernel' assertions; the 'kernelTCP' ones are runtimes ignoring linux.resources.memory.kernelTCP: memory.kmem.tcp.limit_in_bytes still works)|linux_cgroups_memory linux_cgroups_relative_memory|memory kernel"
  "selinux|SELinux is not enabled (mount labels fail with EINVAL)|linux_mount_label|context=|selinux"
  "apparmor|AppArmor is not enabled|linux_process_apparmor_profile|apparmor"
  "shared-root|the host / is not a shared mount (propagation: $(findmnt -no PROPAGATION / 2>/dev/null || echo '?'))|linux_rootfs_propagation|check root propagation"
  "full-bounding-set|the host's capability bounding set lacks cap number(s) $(missing_caps) (e.g. 24 = CAP_SYS_RESOURCE)|process_capabilities process_rlimits|apply caps|RLIMIT"
)
LACK_JSON="[]"
if [[ " ${RUNTIMES[*]} " == *" runc "* ]]; then ref=runc; else ref=${RUNTIMES[0]}; fi
echo
echo "Tests needing what this machine lacks (evidence from $ref's output):"
for entry in "${LACKS[@]}"; do
  IFS='|' read -r id why progs pat1 pat2 <<<"$entry"
  lacking=false; lack_probe "$id" && lacking=true
  hit_progs=""; evidence=""; costs=0
  for prog in $progs; do
    [[ -n ${C[$ref,$prog]:-} ]] || continue
    read -r p f _ <<<"${C[$ref,$prog]}"
    [[ $f -gt 0 ]] || continue
    line=$(cat "$OUT_DIR/raw/$ref/$prog.stderr" "$OUT_DIR/raw/$ref/$prog.tap" 2>/dev/null \
      | grep -i -m1 -E "${pat1}${pat2:+|$pat2}" | cut -c1-200 || true)
    if [[ -n $line || $lacking == true ]]; then
      hit_progs+="$prog($f) "; costs=$((costs + f))
      [[ -z $evidence && -n $line ]] && evidence=$line
    fi
  done
  [[ $lacking == true || -n $hit_progs ]] || continue
  printf '  - %-18s lacking=%-5s %s\n      programs (failed assertions under %s): %s\n' "$id" "$lacking" "$why" "$ref" "${hit_progs:-none run}"
  [[ -n $evidence ]] && printf '      evidence: %s\n' "$evidence"
  LACK_JSON=$(jq -c --arg id "$id" --arg why "$why" --argjson lacking "$lacking" --arg progs "$hit_progs" \
      --arg ev "$evidence" --argjson costs "$costs" \
      '. + [{id: $id, reason: $why, lacking: $lacking, programs: ($progs | split(" ") | map(select(. != ""))), ref_failures: $costs, evidence: $ev}]' <<<"$LACK_JSON")
done

# ---------------------------------------------------------------------------
# 4. Final leftover check (after the per-program sweeps) and report
# ---------------------------------------------------------------------------

sweep final final "$WORK/none" 2>/dev/null || true
echo
if [[ -s $LEFTOVERS ]]; then
  echo "Left behind (found after the program named, then cleaned up):"
  awk -F'\t' '{ k = $1 " " $2 " " $3; n[k]++; if (!(k in ex)) ex[k] = $4 }
              END { for (k in n) printf "  %-60s x%d  e.g. %s\n", k, n[k], ex[k] }' "$LEFTOVERS" | sort
else
  echo "Left behind: nothing (no stray processes, mounts, test cgroups or runtime state)."
fi

# JSON report.
{
  for rt in "${RUNTIMES[@]}"; do for prog in "${PROGS[@]}"; do
    read -r p f s t plan rc secs note <<<"${C[$rt,$prog]}"
    jq -nc --arg rt "$rt" --arg prog "$prog" --argjson p "$p" --argjson f "$f" --argjson s "$s" \
      --argjson t "$t" --argjson plan "$plan" --argjson rc "$rc" --argjson secs "$secs" --arg note "$note" \
      --arg tap "$OUT_DIR/raw/$rt/$prog.tap" --arg err "$OUT_DIR/raw/$rt/$prog.stderr" \
      '{runtime: $rt, program: $prog, pass: $p, fail: $f, skip: $s, todo: $t,
        plan: (if $plan < 0 then null else $plan end), exit: $rc, seconds: $secs,
        note: (if $note == "-" then null else $note end), tap: $tap, stderr: $err}'
  done; done
} | jq -s --arg version "$VERSION" --arg misc "$(cat "$SUITE_BIN/.misc_props" 2>/dev/null || echo '?')" \
      --argjson setup "$SETUP_SECONDS" --argjson lacks "$LACK_JSON" --rawfile left "$LEFTOVERS" \
      --arg rtsecs "$(for rt in "${RUNTIMES[@]}"; do echo "$rt ${RT_SECONDS[$rt]}"; done)" \
      --arg isorun "${RT_BIN[isorun]:-}" --arg runc "${RT_BIN[runc]:-}" --argjson timeout "$TIMEOUT" '
  { suite: {package: "golang-github-opencontainers-runtime-tools", version: $version,
            misc_props_fix: $misc, timeout_seconds: $timeout},
    binaries: {isorun: $isorun, runc: $runc},
    setup_seconds: $setup,
    run_seconds: ($rtsecs | split("\n") | map(select(. != "") | split(" ") | {(.[0]): (.[1] | tonumber)}) | add),
    counting: "pass = ok lines; skip = ok # SKIP; todo = not ok # TODO; fail = not ok lines + planned-but-missing assertions + 1 if no plan + 1 if the program exited non-zero or timed out",
    totals: (group_by(.runtime) | map({(.[0].runtime): {pass: (map(.pass) | add), fail: (map(.fail) | add),
             skip: (map(.skip) | add), todo: (map(.todo) | add)}}) | add),
    programs: (group_by(.program) | map({(.[0].program): (map({(.runtime): (del(.runtime, .program))}) | add)}) | add),
    machine_lacks: $lacks,
    leftovers: ($left | split("\n") | map(select(. != "") | split("\t") | {runtime: .[0], program: .[1], kind: .[2], detail: .[3]}))
  }' >"$JSON_FILE"

echo
for rt in "${RUNTIMES[@]}"; do
  # Alone on its line in the "N passed, N failed, N skipped" form CI reads.
  printf '%s: %d passed, %d failed, %d skipped\n' "$rt" "${TOT_P[$rt]}" "${TOT_F[$rt]}" "${TOT_S[$rt]}"
  printf '  (%s: %d todo; %ss for %d programs)\n' "$rt" "${TOT_T[$rt]}" "${RT_SECONDS[$rt]}" "${#PROGS[@]}"
done
echo "setup ${SETUP_SECONDS}s; JSON: $JSON_FILE; raw TAP: $OUT_DIR/raw/"

# Verdict. isorun promises to leave nothing behind, whatever the suite does to it (runc
# leaves the parents of nested cgroupsPaths, which is its own business).
left_by_isorun=$(awk -F'\t' '$1 == "isorun"' "$LEFTOVERS" | wc -l)
if [[ $left_by_isorun -gt 0 ]]; then
  echo "RESULT: isorun left $left_by_isorun things behind (listed above)"
  exit 1
fi
if [[ ${#RUNTIMES[@]} -eq 2 ]]; then
  if [[ ${TOT_P[isorun]} -lt ${TOT_P[runc]} || ${TOT_F[isorun]} -gt ${TOT_F[runc]} ]]; then
    echo "RESULT: isorun is behind runc (pass ${TOT_P[isorun]} vs ${TOT_P[runc]}, fail ${TOT_F[isorun]} vs ${TOT_F[runc]})"
    exit 1
  fi
  echo "RESULT: isorun passes at least as many and fails no more than runc"
else
  rt=${RUNTIMES[0]}
  [[ ${TOT_F[$rt]} -eq 0 ]] || exit 1
fi
