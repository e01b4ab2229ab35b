#!/usr/bin/env bash
# test_etcd_rt4.sh STRATA MVCCORACLE SCRIPT_GEN: round trip 4 (issue 16):
# `strata script --db` on a copy of a db the real etcd server wrote prints
# what the oracle (mvccoracle: etcd 3.4.23's own mvcc, lease and backend
# driven by the script, ORACLE.md) prints on another copy of it.
#
# The db: a member started by etcd_server.sh takes etcd_rt_lib.sh's history
# through etcdctl (puts, txns, deletes, prefix deletes, leases with keys, a
# revoke, compact --physical, defrag, auth) and is stopped. Then, each on
# fresh copies of that db:
#   - a script made here from what the member holds: reads (every key now,
#     below the compaction, at every revision since; count, limit,
#     keysonly; hash at several revisions; hashall; the member's leases),
#     writes (puts, a leased put to a member's lease, a txn of several
#     changes, deletes, a revoke of a member's lease, a new lease),
#     a compaction, reopen, renew, defrag, and the reads again;
#   - seeded random scripts (script_gen, with watchers) on top of the
#     member's history.
# Knobs: RT4_SEED (default STRATA_TEST_SEED or 1600), RT4_OPS (400).
set -u
if [ $# -ne 3 ] || [ ! -x "$1" ] || [ ! -x "$2" ] || [ ! -x "$3" ]; then
    echo "usage: $0 STRATA MVCCORACLE SCRIPT_GEN" >&2
    exit 2
fi
strata=$1 oracle=$2 gen=$3
here=$(cd "$(dirname "$0")" && pwd)
. "$here/etcd_server.sh"
. "$here/etcd_rt_lib.sh"
etcd_harness_init
W=$ETCD_TMP
seed0=${RT4_SEED:-${STRATA_TEST_SEED:-1600}}
ops=${RT4_OPS:-400}

etcd_start "$W/m1" || { fail "etcd did not start"; exit 1; }
etcd_rt_history "$W" || { fail "the etcdctl history"; exit 1; }
etcd_stop || { fail "etcd did not stop cleanly"; exit 1; }
cp "$(etcd_db)" "$W/member.db"
echo "member db: revision $RT_REV, compacted at $RT_COMPACT_REV, leases $RT_LEASE_KEPT" \
    "($(stat -c %s "$W/member.db") bytes)"

# the script made from what the member holds
read -r l1 l2 <<<"$RT_LEASE_KEPT"
c=$RT_COMPACT_REV r=$RT_REV
{
    echo "rev"
    echo 'range "" prefix'
    echo "range \"\" prefix rev=$((c - 1))"
    for ((i = c; i <= r; i++)); do
        echo "range \"\" prefix rev=$i"
    done
    echo 'range "" prefix count'
    echo 'range "" prefix limit=2'
    echo 'range t/ prefix keysonly'
    echo 'range "key with spaces"'
    echo "hash $c"
    echo "hash $((c + 1))"
    echo "hash $r"
    echo "hash"
    echo "hashall"
    echo "lease list"
    echo "lease get $l1"
    echo "lease get $l2"
    echo "lease get $RT_LEASE_REVOKED"
    echo "put a fromscript"
    echo "put l/1 moved lease=$l2"
    echo "txn"
    echo "put t/9 x"
    echo "put t/9 y"
    echo "del t/ prefix"
    echo "put t/1 back"
    echo "range t/ prefix"
    echo "end"
    echo "del c"
    echo "lease revoke $l1"
    echo "lease grant 99 3600"
    echo "put z last lease=99"
    echo 'range "" prefix'
    echo "hash"
    echo "compact $((r + 2))"
    echo "range \"\" prefix rev=$((r + 1))"
    echo "range \"\" prefix rev=$((r + 2))"
    echo "hash"
    echo "reopen"
    echo "rev"
    echo 'range "" prefix'
    echo "lease list"
    echo "lease renew $l2"
    echo "defrag"
    echo "hashall"
    echo "put after reopen"
    echo 'range "" prefix'
    echo "hash"
    echo "rev"
} >"$W/made.txt"

# run NAME DIR SCRIPT: the script on two fresh copies of the member's db, one
# through the oracle, one through strata; the outputs must be the same.
run() {
    local name=$1 d="$W/$2" script=$3
    mkdir -p "$d/etcd"
    cp "$W/member.db" "$d/etcd/db"
    cp "$W/member.db" "$d/strata.db"
    if ! "$oracle" -dir "$d/etcd" -keep <"$script" >"$d/out.etcd" 2>"$d/err.etcd"; then
        fail "$name: the oracle exited non-zero: $(head -c 300 "$d/err.etcd")"
        return
    fi
    if ! "$strata" script --db "$d/strata.db" <"$script" >"$d/out.strata" 2>"$d/err.strata"; then
        fail "$name: strata script exited non-zero: $(head -c 300 "$d/err.strata")"
        return
    fi
    if ! cmp -s "$d/out.etcd" "$d/out.strata"; then
        fail "$name: strata script --db differs from the oracle (first differences: etcd's <, strata's >)"
        diff "$d/out.etcd" "$d/out.strata" | sed -n '1,12p' | cut -c1-300
        return
    fi
    echo "ok: $name: $(grep -c '' "$script") script lines, $(grep -c '' "$d/out.etcd") output lines the same"
}

run made made "$W/made.txt"
# The made script must have read the member's history, not an empty store.
grep -q "^range rev=$r count=" "$W/made/out.etcd" || fail "the made script did not see revision $r"
grep -q "^lease get id=$l1 ttl=600 keys=1" "$W/made/out.etcd" ||
    fail "the made script did not see the member's lease $l1 with its key"
grep -q "^  kv key=\"big\"" "$W/made/out.etcd" || fail "the made script did not see key big"

for ((i = 0; i < 2; i++)); do
    seed=$((seed0 + i))
    profile=default
    [ "$i" -eq 1 ] && profile=corner
    "$gen" --seed "$seed" --ops "$ops" --profile "$profile" --watch >"$W/gen$i.txt"
    run "random seed $seed ($profile)" "gen$i" "$W/gen$i.txt"
done

echo "figure: etcd round trip 4 (etcd db -> strata script --db vs the oracle): 3 scripts," \
    "$failures failure(s)"
[ "$failures" -eq 0 ] || exit 1
echo "ok"
