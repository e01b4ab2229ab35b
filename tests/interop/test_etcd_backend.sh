#!/bin/sh
# test_etcd_backend.sh BACKEND_PEER ETCDBACKEND STRATA: strata's backend
# against etcd 3.4's (go.etcd.io/etcd/mvcc/backend). Both write the same
# content (backend_peer.c and etcdbackend/main.go, step for step); each file
# is hashed by both sides with etcd's backend Hash and its default ignores,
# and all four hashes must agree: strata's hash is etcd's, on either's file.
# Then snapshots go both ways (strata save -> etcdctl-style restore, etcd
# save -> strata restore, strata gzip save -> strata restore). Last, the
# strata CLI on the same files: `strata hash` prints etcd's number (with and
# without the default ignores) and changes nothing, `strata snapshot
# --trailer` passes etcd's restore check, `strata restore` takes etcd's
# snapshot, and etcd hashes a file `strata defrag` rewrote as before.
set -eu
peer=$1
etcd=$2
strata=$3
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

# The strata CLI.
cp "$dir/etcd.db" "$dir/etcd.orig"
c_on_e=$("$strata" hash -q "$dir/etcd.db")
c_on_s=$("$strata" hash -q "$dir/strata.db")
echo "strata hash: etcd file $c_on_e, strata file $c_on_s"
[ "$c_on_e" = "$e_write" ] || { echo "FAIL: strata hash of etcd's file is not etcd's Hash"; exit 1; }
[ "$c_on_s" = "$s_write" ] || { echo "FAIL: strata hash of strata's file is not etcd's Hash"; exit 1; }
cmp -s "$dir/etcd.db" "$dir/etcd.orig" || { echo "FAIL: strata hash changed etcd's file"; exit 1; }
e_all=$("$etcd" hashall "$dir/etcd.db")
c_all=$("$strata" hash -q --no-default-ignores "$dir/etcd.db")
echo "ignoring nothing: etcd $e_all, strata $c_all"
[ "$e_all" = "$c_all" ] || { echo "FAIL: hash --no-default-ignores is not etcd's Hash(nothing)"; exit 1; }
[ "$e_all" != "$e_write" ] || { echo "FAIL: consistent_index made no difference"; exit 1; }
"$strata" snapshot --trailer -o "$dir/cli.snap" "$dir/etcd.db" >/dev/null
e_cli=$("$etcd" restore "$dir/cli.snap" "$dir/from_cli.db")
"$strata" restore "$dir/etcd.snap" -o "$dir/cli_from_etcd.db" >/dev/null
c_restored=$("$etcd" hash "$dir/cli_from_etcd.db")
cp "$dir/etcd.orig" "$dir/defrag.db"
"$strata" defrag "$dir/defrag.db" >/dev/null
e_defrag=$("$etcd" hash "$dir/defrag.db")
echo "etcd's hash of: strata snapshot --trailer restored by etcd $e_cli," \
    "etcd snapshot restored by strata $c_restored, strata defrag $e_defrag"
for h in "$e_cli" "$c_restored" "$e_defrag"; do
    [ "$h" = "$e_write" ] || { echo "FAIL: a file the strata CLI wrote hashes differently"; exit 1; }
done
echo "ok"
