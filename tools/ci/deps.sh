#!/usr/bin/env bash
# deps.sh: install what the build and the tests need on a Debian machine,
# only when something is missing. Used by `make demo` and `make test`.
set -euo pipefail

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_pc() { pkg-config --exists "$1" 2>/dev/null || missing+=("$2"); }
need_dir() { [ -d "$1" ] || missing+=("$2"); }

need_cmd meson meson
need_cmd ninja ninja-build
need_cmd pkg-config pkg-config
need_cmd clang clang
need_cmd g++ g++
need_cmd clang-format clang-format
need_cmd go golang-go
need_cmd python3 python3
need_cmd scdoc scdoc
need_cmd gnuplot gnuplot-nox # strata bench stall draws its pictures with it
# The real etcd server and etcdctl 3.4 (the interop suite's round trips,
# tests/interop/etcd_server.sh); installing etcd-server must start no
# system etcd (below).
need_cmd etcd etcd-server
need_cmd etcdctl etcd-client
if command -v pkg-config >/dev/null 2>&1; then
    need_pc jemalloc libjemalloc-dev
    need_pc zlib zlib1g-dev
    need_pc jansson libjansson-dev
else
    missing+=(libjemalloc-dev zlib1g-dev libjansson-dev)
fi
need_dir /usr/share/gocode/src/go.etcd.io/bbolt golang-github-coreos-bbolt-dev
need_dir /usr/share/gocode/src/go.etcd.io/etcd/mvcc golang-etcd-server-dev

[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
else
    echo "deps: missing ${missing[*]}, and this is not root and sudo is absent." >&2
    echo "deps: install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
# Debian's etcd-server package starts a system etcd (on the default ports
# 2379/2380, with /var/lib/etcd) unless policy-rc.d forbids it. Where no
# policy exists, one that refuses every start (exit 101) is put in place for
# the install and removed afterwards; an existing one is left as it is.
policy=/usr/sbin/policy-rc.d
policy_made=0
remove_policy() {
    if [ "$policy_made" = 1 ]; then
        "${sudo[@]}" rm -f "$policy"
    fi
}
trap remove_policy EXIT
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# deps.sh: start no service while installing (exit 101: forbidden)\nexit 101\n' |
        "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    policy_made=1
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "deps: installed"
