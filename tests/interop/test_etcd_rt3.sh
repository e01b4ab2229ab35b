#!/usr/bin/env bash
# test_etcd_rt3.sh STRATA: round trip 3 (issue 16): `etcdctl snapshot save`
# of a running member opens in strata: `strata etcd status/get/hashkv/
# leases` on the snapshot file (the SHA-256 trailer verified) give etcd's
# answers.
#
# 0. A fresh member (revision 1, nothing stored) and the same after two
#    puts (never compacted): snapshots of both answer as etcdctl.
# 1. A quiet member after etcd_rt_lib.sh's history: the snapshot answers
#    everything etcdctl answered (recorded before the save; every revision
#    since the compaction, hashkv, status revision, leases), and its
#    revision is the one `etcdctl snapshot status` reports.
# 2. A member taking writes all along (an etcdctl put loop): the snapshot's
#    revision S (strata etcd status) is `etcdctl snapshot status`'s, and
#    strata's get and hashkv on it are etcdctl's at revision S.
# 3. The snapshot with one byte of its image changed: the trailer no longer
#    matches, strata etcd status says so and exits 1.
set -u
if [ $# -ne 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 STRATA" >&2
    exit 2
fi
STRATA=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/etcd_server.sh"
. "$here/etcd_rt_lib.sh"
etcd_harness_init
W=$ETCD_TMP

# snap_rev SNAPSHOT: the revision `etcdctl snapshot status` reports.
snap_rev() {
    etcdctl_rt snapshot status "$1" -w json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["revision"])'
}

etcd_start "$W/m1" || { fail "etcd did not start"; exit 1; }

# 0. the corners before any history: a fresh member (no key, no lease,
# revision 1), then two puts (never compacted: etcdctl's compact_revision -1)
rt_queries 1 1 >"$W/q0"
rt_queries 1 3 >"$W/q2"
for step in 0 2; do
    if [ "$step" = 2 ]; then
        etcdctl_rt put a 1 >/dev/null && etcdctl_rt put b 2 >/dev/null || fail "put a, b"
    fi
    etcd_answers "$W/q$step" >"$W/etcd.$step.ans" || { fail "asking etcd"; exit 1; }
    etcdctl_rt snapshot save "$W/s$step.snap" >"$W/save.log" 2>&1 ||
        { fail "etcdctl snapshot save: $(tail -n 3 "$W/save.log")"; exit 1; }
    if strata_answers "$W/q$step" "$W/s$step.snap" >"$W/strata.$step.ans"; then
        same "etcdctl snapshot save at revision $((step + 1)) (never compacted): strata etcd" \
            "$W/etcd.$step.ans" "$W/strata.$step.ans"
    else
        fail "strata etcd on the snapshot at revision $((step + 1))"
    fi
done
grep -q 'compact=-1' "$W/etcd.2.ans" || fail "etcd's hashkv of an uncompacted store: not -1"

etcd_rt_history "$W" || { fail "the etcdctl history"; exit 1; }
rt_queries "$RT_COMPACT_REV" "$RT_REV" >"$W/q"
etcd_answers "$W/q" >"$W/etcd.ans" || { fail "asking etcd"; exit 1; }

# 1. quiet member
etcdctl_rt snapshot save "$W/quiet.snap" >"$W/save.log" 2>&1 ||
    { fail "etcdctl snapshot save: $(tail -n 3 "$W/save.log")"; exit 1; }
s=$(snap_rev "$W/quiet.snap")
[ "$s" = "$RT_REV" ] || fail "etcdctl snapshot status says revision $s, the member was at $RT_REV"
if strata_answers "$W/q" "$W/quiet.snap" >"$W/strata.ans"; then
    same "etcdctl snapshot save of a quiet member: strata etcd answers as etcdctl" \
        "$W/etcd.ans" "$W/strata.ans"
else
    fail "strata etcd on the snapshot"
fi

# 2. a member taking writes
(
    i=0
    while etcdctl_rt put "live/$i" "value $i" >/dev/null 2>&1; do
        i=$((i + 1))
    done
) &
loader=$!
etcd_on_exit "kill $loader 2>/dev/null; wait $loader 2>/dev/null"
# the loader has written at least once before the save (each poll is an
# etcdctl round trip; bounded by the deadline)
deadline=$((SECONDS + 60))
until [ "$(rt_rev)" -gt "$RT_REV" ]; do
    kill -0 "$loader" 2>/dev/null || { fail "the put loop stopped"; exit 1; }
    [ "$SECONDS" -lt "$deadline" ] || { fail "no put landed within 60 s"; exit 1; }
done
etcdctl_rt snapshot save "$W/busy.snap" >"$W/save.log" 2>&1 ||
    { fail "etcdctl snapshot save (busy): $(tail -n 3 "$W/save.log")"; exit 1; }
s=$(snap_rev "$W/busy.snap")
[ "$s" -gt "$RT_REV" ] || fail "the busy snapshot's revision $s is not past the history's $RT_REV"
echo "status rev=$s" >"$W/q.busy"
echo "get rev=0" >>"$W/q.busy"
echo "hashkv rev=0" >>"$W/q.busy"
if strata_answers "$W/q.busy" "$W/busy.snap" >"$W/strata.busy.ans"; then
    {
        echo "status rev=$s"
        etcdctl_rt get --prefix "" --rev "$s" -w json >"$W/g.json" &&
            python3 "$RT_JSON" get 0 "$W/g.json" | sed "1s/ header=[0-9]*/ header=$s/"
        etcdctl_rt endpoint hashkv --rev "$s" -w json >"$W/h.json" &&
            python3 "$RT_JSON" hashkv 0 "$W/h.json" | sed "s/ header=[0-9]*/ header=$s/"
        grep '^lease ' "$W/etcd.ans"
    } >"$W/etcd.busy.ans"
    same "etcdctl snapshot save of a busy member (revision $s): strata etcd answers as etcdctl at $s" \
        "$W/etcd.busy.ans" "$W/strata.busy.ans"
else
    fail "strata etcd on the busy snapshot"
fi
kill "$loader" 2>/dev/null
wait "$loader" 2>/dev/null

# 3. a damaged image: the trailer no longer matches
cp "$W/quiet.snap" "$W/bad.snap"
printf '\x5a' | dd of="$W/bad.snap" bs=1 seek=5000 conv=notrunc status=none
"$STRATA" etcd status --json "$W/bad.snap" >/dev/null 2>"$W/err"
rc=$?
[ "$rc" -eq 1 ] || fail "a snapshot whose trailer does not match: exit $rc, want 1"
[ "$(grep -c '' "$W/err")" -eq 1 ] && grep -qi 'sha-\?256\|trailer' "$W/err" ||
    fail "a snapshot whose trailer does not match: want one line naming the trailer: $(head -c 300 "$W/err")"

etcd_stop || fail "etcd did not stop cleanly"
echo "figure: etcd round trip 3 (etcdctl snapshot save -> strata): quiet at $RT_REV, busy at $s," \
    "$failures failure(s)"
[ "$failures" -eq 0 ] || exit 1
echo "ok"
