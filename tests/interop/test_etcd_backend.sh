#!/bin/sh
# test_etcd_backend.sh BACKEND_PEER ETCDBACKEND: strata's backend against
# etcd 3.4's (go.etcd.io/etcd/mvcc/backend). Both write the same content
# (backend_peer.c and etcdbackend/main.go, step for step); each file is
# hashed by both sides with etcd's backend Hash and its default ignores, and
# all four hashes must agree: strata's hash is etcd's, on either's file.
# Then snapshots go both ways (strata save -> etcdctl-style restore, etcd
# save -> strata restore, strata gzip save -> strata restore).
set -eu
peer=$1
etcd=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

s_write=$("$peer" write "$dir/strata.db")
e_on_s=$("$etcd" hash "$dir/strata.db")
e_write=$("$etcd" write "$dir/etcd.db")
s_on_e=$("$peer" hash "$dir/etcd.db")
echo "strata file: strata $s_write, etcd $e_on_s; etcd file: etcd $e_write, strata $s_on_e"
[ "$s_write" = "$e_on_s" ] || { echo "FAIL: hash of strata's file differs"; exit 1; }
[ "$e_write" = "$s_on_e" ] || { echo "FAIL: hash of etcd's file differs"; exit 1; }
[ "$s_write" = "$e_write" ] || { echo "FAIL: the same content hashes differently"; exit 1; }

# Snapshots: strata's (with etcd's SHA-256 trailer) restore with etcdctl's
# check; etcd's restore with strata; gzip'ed ones restore with strata.
"$peer" snapshot "$dir/strata.db" "$dir/strata.snap"
e_restored=$("$etcd" restore "$dir/strata.snap" "$dir/from_strata.db")
"$etcd" snapshot "$dir/etcd.db" "$dir/etcd.snap"
s_restored=$("$peer" restore "$dir/etcd.snap" "$dir/from_etcd.db")
"$peer" snapshot "$dir/etcd.db" "$dir/etcd.snap.gz" gzip
z_restored=$("$peer" restore "$dir/etcd.snap.gz" "$dir/from_gz.db")
echo "restored: etcd from strata $e_restored, strata from etcd $s_restored, strata from gzip $z_restored"
for h in "$e_restored" "$s_restored" "$z_restored"; do
    [ "$h" = "$s_write" ] || { echo "FAIL: a restored snapshot hashes differently"; exit 1; }
done
echo "ok"
