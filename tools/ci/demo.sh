#!/usr/bin/env bash
# demo.sh: `make demo`. Builds a release strata, then walks through what
# the library can do so far with the `strata` CLI, in a temporary
# directory. Exits 0 only if every step worked.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=build/release
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dbuildtype=release -Dfailpoints=false >/dev/null
fi
ninja -C "$dir" >/dev/null
strata=$PWD/$dir/tools/strata/strata

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { echo; echo "\$ strata $*"; "$strata" "$@"; }

step --version
step --help
# Every layer's status codes come back through one chain of strerrors.
step strerror -5104 -5300 -5401 -5501 -28 1

echo
echo "demo: every step worked"
