#!/bin/sh
# build_etcd_peer.sh OUTDIR NAME: builds the Go program tests/interop/NAME
# (etcdbackend, etcdcodec) into OUTDIR/NAME against Debian's etcd 3.4
# sources (golang-etcd-server-dev), offline, in GOPATH mode, as build.sh
# does for boltcheck. Exit status: 0 built; 1 build failed or sources
# missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
name=$2
mkdir -p "$1"
out=$(cd "$1" && pwd)
gopath=${BBOLT_GOPATH:-/usr/share/gocode}
if [ ! -d "$gopath/src/go.etcd.io/etcd/mvcc" ]; then
    echo "build_etcd_peer.sh: etcd source not found under $gopath/src/go.etcd.io/etcd:" \
        "install golang-etcd-server-dev" >&2
    exit 1
fi
GO111MODULE=off GOPATH=$gopath GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
    GOCACHE=$out/gocache CGO_ENABLED=0
export GO111MODULE GOPATH GOFLAGS GOPROXY GOTOOLCHAIN GOCACHE CGO_ENABLED
cd "$here"
go vet "./$name"
go build -o "$out/$name.tmp" "./$name"
mv "$out/$name.tmp" "$out/$name"
