# Sourced by Guest/kernel/build.sh and Guest/qemu/build.sh: progress lines, the
# packages a build needs, and the content-keyed cache its result goes to. The caller
# sets build_name (the prefix of its messages) before sourcing this.

log() { printf '%s: %s\n' "$build_name" "$*" >&2; }
die() { log "error: $*"; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# Install those of the given packages that are missing (needs root).
install_missing() {
    local missing=() p
    for p in "$@"; do installed "$p" || missing+=("$p"); done
    ((${#missing[@]})) || return 0
    [[ $EUID -eq 0 ]] || die "missing packages (need root to install): ${missing[*]}"
    log "installing: ${missing[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# The cache key: sha256 of the given files followed by the lines on stdin.
cache_key() { { cat "$@"; cat; } | sha256sum | cut -d' ' -f1; }

# Point <cache_root>/current at build <key> (isorun uses current/...), remove the
# other builds (one is enough) and print the path of <artifact> in it.
cache_publish() { # cache_root key artifact
    ln -sfn "$2" "$1/current"
    find "$1" -mindepth 1 -maxdepth 1 -type d ! -name "$2" ! -name '.tmp.*' -exec rm -rf {} +
    echo "$1/$2/$3"
}

# An artifact is there when it is an executable regular file (vmlinux and QEMU both are).
has_artifact() { [[ -f "$1" && -x "$1" ]]; }

# When build <key> already holds <artifact>, publish it and exit. Otherwise take the
# cache's lock (one build per cache at a time: a concurrent builder may finish ours,
# so look again once it is ours) and return with it held until the caller exits.
cache_hit_or_lock() { # cache_root key artifact what
    if has_artifact "$1/$2/$3"; then
        log "cached: $4, key $2"
        cache_publish "$1" "$2" "$3"
        exit 0
    fi
    mkdir -p "$1"
    exec 9>"$1/.lock"
    flock 9
    if has_artifact "$1/$2/$3"; then
        cache_publish "$1" "$2" "$3"
        exit 0
    fi
}

# Set $work (scratch) and $stage (next to the cache, on its filesystem, so that
# `mv -T "$stage" <cache_root>/<key>` is atomic); both are removed when the caller exits.
cache_workspaces() { # name cache_root key
    work="$(mktemp -d "${TMPDIR:-/tmp}/isorun-$1.XXXXXX")"
    stage="$(mktemp -d "$2/.tmp.$3.XXXXXX")"
    trap 'rm -rf "$work" "$stage"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}
