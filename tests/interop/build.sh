#!/bin/sh
# build.sh OUTDIR: builds the interop tools (tests/interop/boltcheck) into
# OUTDIR/boltcheck against Debian's bbolt 1.3.6 sources, offline, in GOPATH
# mode: no modules, no proxy, no network. The Go build cache lives in
# OUTDIR/gocache so nothing is written outside the build directory.
#
# Needs: golang-go (>= 1.13) and golang-github-coreos-bbolt-dev (which puts
# the source under /usr/share/gocode/src/go.etcd.io/bbolt, together with its
# dependency golang.org/x/sys). Override the source root with BBOLT_GOPATH.
# Exit status: 0 built; 1 build failed or go / the bbolt source missing;
# 2 bad usage.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
out=$(cd "$1" && pwd)
gopath=${BBOLT_GOPATH:-/usr/share/gocode}

if ! command -v go >/dev/null 2>&1; then
    echo "build.sh: 'go' not found: install golang-go (apt-get install golang-go)" >&2
    exit 1
fi
if [ ! -f "$gopath/src/go.etcd.io/bbolt/db.go" ]; then
    echo "build.sh: bbolt source not found at $gopath/src/go.etcd.io/bbolt:" \
        "install golang-github-coreos-bbolt-dev (or set BBOLT_GOPATH)" >&2
    exit 1
fi
if [ ! -d "$gopath/src/golang.org/x/sys/unix" ]; then
    echo "build.sh: golang.org/x/sys not found under $gopath/src (bbolt needs it):" \
        "install golang-golang-x-sys-dev" >&2
    exit 1
fi

GO111MODULE=off
GOPATH=$gopath
GOFLAGS=
GOPROXY=off
GOTOOLCHAIN=local
GOCACHE=$out/gocache
CGO_ENABLED=0
export GO111MODULE GOPATH GOFLAGS GOPROXY GOTOOLCHAIN GOCACHE CGO_ENABLED

cd "$here"
go vet ./boltcheck
go build -o "$out/boltcheck.tmp" ./boltcheck
mv "$out/boltcheck.tmp" "$out/boltcheck"
