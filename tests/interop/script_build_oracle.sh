#!/bin/sh
# script_build_oracle.sh OUTDIR SHARED: builds the real etcd 3.4.23 mvcc
# oracle (mvccoracle; ORACLE.md) into OUTDIR with the shared peers' own
# build script, SHARED/peers/etcd/build.sh (offline, GOPATH mode, against
# Debian's etcd sources; it also builds mvccbench beside it). SHARED is the
# project's ../shared (CI keeps it beside the clone; tests/interop/meson.build
# looks for it at ../shared and ../../shared from the source root). The
# peer's code stays where it is: nothing of it is copied into the project.
# Exit status: 0 built; 1 SHARED missing or the build failed.
set -eu
if [ $# -ne 2 ]; then
    echo "usage: $0 OUTDIR SHARED" >&2
    exit 1
fi
out=$1 shared=$2
if [ -z "$shared" ] || [ ! -f "$shared/peers/etcd/build.sh" ]; then
    echo "script_build_oracle.sh: the shared peers directory was not found (looked for" \
        "../shared/peers/etcd/build.sh and ../../shared/peers/etcd/build.sh beside the" \
        "source tree at configure time; got '$shared')" >&2
    exit 1
fi
mkdir -p "$out"
sh "$shared/peers/etcd/build.sh" "$out"
test -x "$out/mvccoracle"
