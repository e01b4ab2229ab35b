#!/usr/bin/env bash
# test_etcd_rt2.sh STRATA ETCD_RT_WRITER: round trip 2, strata -> etcd
# (issue 16). A store written through strata's C API (etcd_rt_writer.c:
# puts, txns of several changes, deletes, a prefix delete, leases with keys,
# a revoke, a compaction) is saved with `strata snapshot --trailer`,
# restored with `etcdctl snapshot restore` into a new data dir, and the real
# etcd started on it must answer `get --prefix "" -w json` (now, below the
# compaction, at every revision since), `endpoint hashkv` (the same
# revisions), `endpoint status` (revision) and `lease list` + `lease
# timetolive --keys` (granted TTL, keys) as strata did. Then it must accept
# new writes: the same continuation through etcdctl and through strata's API
# (a put, a txn, a leased put, a revoke, a compaction: etcd's compaction of
# strata's history) leaves both answering the same.
# Last, strata reads the db etcd wrote (a copy, the member stopped) and
# answers the same again. `strata etcd status/get/hashkv/leases --json`
# give the writer's answers on its db and on the snapshot, and etcd's on
# the stopped member's data dir.
#
# Answers are compared in etcd_rt_json.py's canonical form (etcdctl's JSON
# parsed; the writer prints strata's side in that form): etcd_rt_lib.sh's
# etcd_answers and same.
set -u
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: $0 STRATA ETCD_RT_WRITER" >&2
    exit 2
fi
strata=$1 writer=$2
STRATA=$strata
here=$(cd "$(dirname "$0")" && pwd)
. "$here/etcd_server.sh"
. "$here/etcd_rt_lib.sh"
etcd_harness_init
W=$ETCD_TMP

# 1. strata writes the store and says what it holds.
"$writer" write "$W/strata.db" >"$W/strata.ans" || { fail "etcd_rt_writer write"; exit 1; }
grep -q 'error=compacted' "$W/strata.ans" || fail "the writer's history has no compaction"
grep -q '^lease id=7587869178398349060 ' "$W/strata.ans" || fail "the writer's leases are missing"

# 2. snapshot with the trailer; etcdctl restores it into a new data dir.
"$strata" snapshot --trailer "$W/strata.db" -o "$W/strata.snap" >/dev/null ||
    { fail "strata snapshot --trailer"; exit 1; }
# strata etcd reads the db and the snapshot as the writer did
for f in strata.db strata.snap; do
    if strata_answers "$W/strata.ans" "$W/$f" >"$W/cli.ans"; then
        same "strata etcd on $f answers as the writer" "$W/strata.ans" "$W/cli.ans"
    else
        fail "strata etcd on $f"
    fi
done
etcd_restore "$W/strata.snap" "$W/m1" >"$W/restore.log" 2>&1 ||
    { fail "etcdctl snapshot restore: $(tail -n 3 "$W/restore.log")"; exit 1; }

# 3. etcd on it answers as strata did.
etcd_start "$W/m1" || { fail "etcd did not start on the restored data dir"; exit 1; }
etcd_answers "$W/strata.ans" >"$W/etcd.ans" || { fail "asking etcd"; exit 1; }
same "etcd restored from strata's snapshot answers as strata" "$W/strata.ans" "$W/etcd.ans"

# 4. new writes, the same on both sides.
"$writer" more "$W/strata.db" >"$W/strata.more.ans" || { fail "etcd_rt_writer more"; exit 1; }
more_rev=$(sed -n 's/^status rev=//p' "$W/strata.more.ans")
grep -qx "get rev=$((more_rev - 2)) error=compacted" "$W/strata.more.ans" ||
    fail "the writer's continuation did not compact at $((more_rev - 1))"
lease_a=$(printf '%x' 7587869178398349060)
lease_c=$(printf '%x' 0x3eaddeadbeef)
{
    etcdctl_ put new/1 v1 &&
        printf '\nput new/2 v2\ndel txn/x\n\n\n' | etcdctl_ txn &&
        etcdctl_ put --lease="$lease_c" new/3 leased &&
        etcdctl_ lease revoke "$lease_a" &&
        etcdctl_ compact --physical "$((more_rev - 1))"
} >"$W/more.log" 2>&1 || { fail "etcd refused a write: $(tail -n 3 "$W/more.log")"; exit 1; }
etcd_answers "$W/strata.more.ans" >"$W/etcd.more.ans" || { fail "asking etcd"; exit 1; }
same "after the same new writes on both" "$W/strata.more.ans" "$W/etcd.more.ans"

# 5. strata reads what etcd wrote (a copy; the member stopped).
etcd_stop || fail "etcd did not stop cleanly"
cp "$(etcd_db)" "$W/etcd.db"
"$writer" show "$W/etcd.db" >"$W/strata.on_etcd.ans" || fail "etcd_rt_writer show on etcd's db"
same "strata on etcd's db after the new writes" "$W/strata.on_etcd.ans" "$W/etcd.more.ans"
if strata_answers "$W/strata.more.ans" "$ETCD_DATA_DIR" >"$W/cli.more.ans"; then
    same "strata etcd on etcd's data dir after the new writes" "$W/etcd.more.ans" "$W/cli.more.ans"
else
    fail "strata etcd on etcd's data dir"
fi

echo "figure: etcd round trip 2 (strata -> etcd): $(grep -c '^kv ' "$W/strata.ans") kvs at" \
    "$(grep -c '^get ' "$W/strata.ans") revisions, $(grep -c '^lease ' "$W/strata.ans") leases," \
    "$failures failure(s)"
[ "$failures" -eq 0 ] || exit 1
echo "ok"
