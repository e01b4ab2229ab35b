#!/usr/bin/env bash
# test_etcd_rt1.sh STRATA: round trip 1, etcd -> strata (issue 16).
#
# A real etcd member (etcd_server.sh) takes etcd_rt_lib.sh's history
# through etcdctl (puts, txns of several changes, deletes, prefix deletes,
# leases with keys, a revoke, compact --physical, defrag, auth users and
# roles enabled). etcdctl's answers are recorded while it runs: `get
# --prefix "" -w json` now, below the compaction and at every revision
# since, `endpoint hashkv` at the same revisions, `endpoint status`'s
# revision, `lease list` with `lease timetolive --keys` (granted TTL, keys).
#
# 1. Stopped member: `strata etcd status/get/hashkv/leases --json` on its
#    data dir answer exactly the same; on its member dir and on its db file
#    too (status, the current get and hashkv, leases); `strata etcd status`
#    and `dump --decode` give etcdctl's members (member list), users and
#    roles (user/role get) and say auth is enabled.
# 2. `strata etcd compact` of the stopped member's db past etcd's own
#    compaction; etcd started on it gives strata's answers.
# 3. --live: the member runs again and takes writes all along (an etcdctl
#    put loop). strata's answers about the past (every revision up to the
#    end of the history, and the leases) are etcd's recorded ones; strata's
#    answer about "now" (revision X, the newest the file holds) is what
#    etcdctl answers at revision X (get --rev X, endpoint hashkv --rev X),
#    several times, X moving forward; `status --live`'s revision lies
#    between X and what `endpoint status` says right after.
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
M="$W/m1"

etcd_start "$M" || { fail "etcd did not start"; exit 1; }
etcd_rt_history "$W" || { fail "the etcdctl history"; exit 1; }
echo "history: revision $RT_REV, compacted at $RT_COMPACT_REV, leases $RT_LEASE_KEPT"
rt_queries "$RT_COMPACT_REV" "$RT_REV" >"$W/q"
etcd_answers "$W/q" >"$W/etcd.ans" || { fail "asking etcd"; exit 1; }
etcd_auth_answers >"$W/etcd.auth.ans" || { fail "asking etcd about members and auth"; exit 1; }
for want in "user name=alice roles=r1" "role name=r1 perm=READWRITE:702f:7030" "auth enabled=true"; do
    grep -qx "$want" "$W/etcd.auth.ans" || fail "etcd's answers lack '$want'"
done
grep -q "^member id=[0-9]* name=strata-rt peer=$ETCD_PEER_URL client=$ETCD_ENDPOINT\$" \
    "$W/etcd.auth.ans" || fail "etcd's member list is not the member's"
grep '^member ' "$W/etcd.auth.ans"
grep -q "error=compacted" "$W/etcd.ans" || fail "etcd refused no revision: no compaction?"
[ "$(grep -c '^lease ' "$W/etcd.ans")" -eq 2 ] || fail "etcd should hold two leases"
etcd_stop || { fail "etcd did not stop cleanly"; exit 1; }

# 1. the stopped member
if strata_answers "$W/q" "$M" >"$W/strata.ans"; then
    same "stopped member, data dir: strata etcd answers as etcdctl" "$W/etcd.ans" "$W/strata.ans"
else
    fail "strata etcd on the data dir"
fi
grep -E '^(status |get rev=0$|hashkv rev=0$)' "$W/q" >"$W/q.now"
{
    grep -E '^status ' "$W/etcd.ans"
    sed -n '/^get rev=0 /,/^hashkv rev=0 /p' "$W/etcd.ans"
    grep -E '^lease ' "$W/etcd.ans"
} >"$W/etcd.now.ans"
for db in "$M/member" "$M/member/snap/db"; do
    if strata_answers "$W/q.now" "$db" >"$W/strata.now.ans"; then
        same "stopped member, ${db#"$W"/}: strata etcd answers as etcdctl" "$W/etcd.now.ans" \
            "$W/strata.now.ans"
    else
        fail "strata etcd on $db"
    fi
done
# (A member's ID is a uint64 derived from its peer URL, whose port is
# random: about half the runs have one >= 2^63, which etcdctl prints as a
# bare JSON number.)
if strata_auth_answers "$M" >"$W/strata.auth.ans"; then
    same "stopped member: members, users, roles, auth as etcdctl" "$W/etcd.auth.ans" \
        "$W/strata.auth.ans"
else
    fail "strata etcd status/dump on the data dir"
fi
if "$STRATA" etcd get --prefix --rev $((RT_COMPACT_REV - 1)) --json "$M" "" >/dev/null 2>"$W/err"; then
    fail "strata etcd get below the compaction succeeded"
fi
grep -q 'required revision has been compacted' "$W/err" ||
    fail "strata etcd get below the compaction: not etcd's message: $(head -c 200 "$W/err")"

# 2. strata etcd compact on the stopped member; etcd opens the db with
# strata's answers (reads below the new compaction refused by both)
newc=$((RT_REV - 2))
rt_queries "$newc" "$RT_REV" >"$W/qc"
if "$STRATA" etcd compact --json "$M" "$newc" >"$W/compact.json" 2>"$W/err"; then
    strata_answers "$W/qc" "$M" >"$W/strata.c.ans" || fail "strata etcd after its compaction"
else
    fail "strata etcd compact $newc: $(head -c 300 "$W/err")"
fi
etcd_start "$M" || { fail "etcd did not restart"; exit 1; }
etcd_answers "$W/qc" >"$W/etcd.c.ans" || { fail "asking etcd"; exit 1; }
same "etcd on the db strata etcd compacted at $newc answers as strata" "$W/strata.c.ans" "$W/etcd.c.ans"
grep -qx "get rev=$((newc - 1)) error=compacted" "$W/etcd.c.ans" ||
    fail "etcd reads below strata's compaction at $newc"

# 3. --live, the member running and taking writes
(
    i=0
    while etcdctl_rt put "live/$i" "value $i" >/dev/null 2>&1; do
        i=$((i + 1))
    done
) &
loader=$!
etcd_on_exit "kill $loader 2>/dev/null; wait $loader 2>/dev/null"

# The past: every revision up to the end of the history (since the
# compaction), and the leases, as etcd answered before the writes.
grep -vE '^(status |get rev=0$|hashkv rev=0$)' "$W/qc" >"$W/q.past"
strip_now() { # answers without the moving parts (header, status, rev=0 answers)
    sed -e 's/ header=[0-9]*//' "$1" | awk '
        /^(status|get rev=0 |hashkv rev=0 )/ { skip = ($1 == "get"); next }
        /^kv / { if (skip) next; print; next }
        { skip = 0; print }'
}
strip_now "$W/etcd.c.ans" >"$W/etcd.past.ans"
if strata_answers "$W/q.past" "$M" --live >"$W/strata.live.ans"; then
    strip_now "$W/strata.live.ans" >"$W/strata.past.ans"
    same "--live, running member: the past as etcdctl said" "$W/etcd.past.ans" "$W/strata.past.ans"
else
    fail "strata etcd --live on the running member"
fi

# The loader's first puts reach the file within etcd's batch interval
# (100 ms) after etcd took them; on a fast machine the rounds below could
# start before that. The file has moved past the history first (each poll
# is a strata process; bounded by the deadline, as round trip 3's).
file_rev() {
    "$STRATA" etcd status --live --json "$M" >"$W/poll.json" 2>/dev/null &&
        python3 "$RT_JSON" status "$W/poll.json" | sed 's/^status rev=//'
}
deadline=$((SECONDS + 60))
until [ "$(file_rev)" -gt "$RT_REV" ] 2>/dev/null; do
    kill -0 "$loader" 2>/dev/null || { fail "the put loop stopped"; break; }
    [ "$SECONDS" -lt "$deadline" ] || { fail "no put reached the file within 60 s"; break; }
done

# Now: strata's newest revision X, then etcdctl at X.
first=0 last=0
for round in 1 2 3; do
    if ! "$STRATA" etcd get --prefix --live --json "$M" "" >"$W/now.json" 2>"$W/err"; then
        fail "live get, round $round: $(head -c 300 "$W/err")"
        continue
    fi
    x=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["header"]["revision"])' \
        "$W/now.json")
    python3 "$RT_JSON" get "$x" "$W/now.json" | sed 's/ header=[0-9]*//' >"$W/now.strata"
    etcdctl_rt get --prefix "" --rev "$x" -w json >"$W/now.etcd.json" || fail "etcdctl get --rev $x"
    python3 "$RT_JSON" get "$x" "$W/now.etcd.json" | sed 's/ header=[0-9]*//' >"$W/now.etcd"
    same "--live round $round: strata's newest revision $x is etcd's revision $x" \
        "$W/now.etcd" "$W/now.strata"
    if "$STRATA" etcd hashkv --live --rev "$x" --json "$M" >"$W/h.json" 2>"$W/err" &&
        etcdctl_rt endpoint hashkv --rev "$x" -w json >"$W/h.etcd.json"; then
        python3 "$RT_JSON" hashkv "$x" "$W/h.json" | sed 's/ header=[0-9]*//' >"$W/h.strata"
        python3 "$RT_JSON" hashkv "$x" "$W/h.etcd.json" | sed 's/ header=[0-9]*//' >"$W/h.etcd"
        same "--live round $round: hashkv at $x" "$W/h.etcd" "$W/h.strata"
    else
        fail "live hashkv at $x: $(head -c 300 "$W/err")"
    fi
    # status --live: a revision the file holds, between the history's end
    # and what etcd reports right after (the file lags etcd's memory by
    # at most a batch interval)
    if "$STRATA" etcd status --live --json "$M" >"$W/st.json" 2>"$W/err"; then
        sx=$(python3 "$RT_JSON" status "$W/st.json" | sed 's/^status rev=//')
        etcdctl_rt endpoint status -w json >"$W/st.etcd.json" || fail "etcdctl endpoint status"
        ex=$(python3 "$RT_JSON" status "$W/st.etcd.json" | sed 's/^status rev=//')
        if ! [ "$sx" -ge "$x" ] 2>/dev/null || ! [ "$sx" -le "$ex" ] 2>/dev/null; then
            fail "--live round $round: status revision '$sx' not within [$x, $ex]"
        fi
    else
        fail "live status, round $round: $(head -c 300 "$W/err")"
    fi
    [ "$round" = 1 ] && first=$x
    last=$x
done
[ "$last" -gt "$first" ] || fail "--live: the newest revision did not move ($first, $last): no writes?"
[ "$first" -gt "$RT_REV" ] || fail "--live: revision $first is not past the history's $RT_REV"
kill "$loader" 2>/dev/null
wait "$loader" 2>/dev/null
etcd_stop || fail "etcd did not stop cleanly after the live part"

echo "figure: etcd round trip 1 (etcd -> strata): $(grep -c '' "$W/etcd.ans") answers stopped," \
    "live revisions $first..$last, $failures failure(s)"
[ "$failures" -eq 0 ] || exit 1
echo "ok"
