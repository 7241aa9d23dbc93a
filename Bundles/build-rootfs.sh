#!/bin/sh
# Builds <bundle>/rootfs from Debian's busybox-static plus the bundle's own files/,
# and skips the work when nothing it depends on changed (a stamp holds the inputs' hash).
# Usage: Bundles/build-rootfs.sh Bundles/hello.bundle [more bundles...]
set -eu

busybox=/bin/busybox
[ -x "$busybox" ] || { echo "build-rootfs: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
if ldd "$busybox" >/dev/null 2>&1; then
    echo "build-rootfs: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

for bundle in "$@"; do
    rootfs="$bundle/rootfs"
    hash=$( { cat "$0" "$busybox"; [ ! -f "$bundle/go-version" ] || cat "$bundle/go-version";
              [ ! -d "$bundle/files" ] || (cd "$bundle/files" && find . -type f | sort | xargs cat); } | sha256sum | cut -c1-16)
    if [ -f "$rootfs/.isorun-stamp" ] && [ "$(cat "$rootfs/.isorun-stamp")" = "$hash" ]; then
        continue
    fi
    rm -rf "$rootfs"
    mkdir -p "$rootfs/bin" "$rootfs/sbin" "$rootfs/usr/bin" "$rootfs/usr/sbin" "$rootfs/etc" \
             "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/root" "$rootfs/run"
    chmod 1777 "$rootfs/tmp"
    cp "$busybox" "$rootfs/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
    # A FIFO lets a workload wait with a shell builtin (read -t) when it cannot fork.
    mkfifo "$rootfs/hold.fifo"
    if [ -d "$bundle/files" ]; then cp -a "$bundle/files/." "$rootfs/"; fi
    # A Go toolchain at /usr/local/go (the dependency-isolation bundles), plus a build
    # cache warmed inside the rootfs for /app, so that a slow (emulated) guest only
    # compiles the application itself.
    if [ -f "$bundle/go-version" ]; then
        goroot=$("$(dirname "$0")/fetch-go.sh" "$(cat "$bundle/go-version")")
        mkdir -p "$rootfs/usr/local" "$rootfs/opt/gocache"
        cp -a "$goroot" "$rootfs/usr/local/go"
        mknod -m 666 "$rootfs/dev/null" c 1 3   # the go tool needs it; removed below
        chroot "$rootfs" /bin/sh -c 'cd /app && GOROOT=/usr/local/go GOCACHE=/opt/gocache GOPATH=/tmp/gopath GOTOOLCHAIN=local CGO_ENABLED=0 \
            GOFLAGS=-buildvcs=false GOTELEMETRY=off /usr/local/go/bin/go build -o /dev/null . && rm -rf /tmp/gopath' >&2
        rm -f "$rootfs/dev/null"
    fi
    echo "$hash" > "$rootfs/.isorun-stamp"
    echo "built $rootfs"
done
