#!/usr/bin/env bash
# test_etcd_cli2.sh: `strata etcd` dump, compact and --live (issue 16), on
# etcd dbs strata writes itself (`strata script --db`):
#   1. dump: every record of every bucket, raw and --decode'd; the decoded
#      key bucket is history's revisions, the meta marks are status's, the
#      lease records are leases'; a damaged record is shown raw, named on
#      one stderr line, exit 1;
#   2. compact: the file equals (backend hash, HashKV, answers) the one
#      `strata script`'s `compact` makes (the mvcc store the interop suite
#      checks op for op against etcd 3.4's); refused revisions, a snapshot,
#      another program's db, a damaged db and a locked db leave the file
#      byte for byte as it was;
#   3. --live: a db locked by a writer is read with --live (without it: exit
#      3 naming --live); a read that commits overlap is made again (the
#      failpoint build forces the overlaps) and a member that always
#      commits first is a clear error suggesting a snapshot; reads under a
#      real writer are consistent or refused, never wrong.
. "$(dirname "$0")/lib.sh"
SEED=${STRATA_TEST_SEED:-16}
echo "seed $SEED"
sha() { sha256sum "$1" | cut -d' ' -f1; }

python3 - "$SEED" >"$T/hist.txt" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
keys = ["a", "b", "b/x", "b/y", "c", r'"\x00k"', "zz"]
out, leases = [], []
for i in range(120):
    x = r.random()
    k = r.choice(keys)
    if x < 0.5:
        l = " lease=%d" % r.choice(leases) if leases and r.random() < 0.3 else ""
        out.append("put %s v%d%s" % (k, i, l))
    elif x < 0.65:
        out.append("del %s" % k)
    elif x < 0.75:
        out += ["txn", "put %s t%d" % (k, i), "del %s" % r.choice(keys), "put %s u%d" % (k, i), "end"]
    elif x < 0.82:
        out.append("lease grant %d %d" % (1000 + i, r.choice([30, 600])))
        leases.append(1000 + i)
    elif x < 0.85 and leases:
        out.append("lease revoke %d" % leases.pop(0))
    elif x < 0.9:
        out.append("compact %d" % max(1, i // 3))
    else:
        out.append("put %s w%d" % (k, i))
print("\n".join(out))
PY
db=$T/m.db
expect_rc 0 "strata script writes the history" "$S" script --db "$db" <"$T/hist.txt"

# --- 1. dump ---------------------------------------------------------------------------
before=$(sha "$db")
expect_rc 0 "dump" "$S" etcd dump "$db"
expect_out "^bucket key$" "dump lists the key bucket"
expect_out "^  0x[0-9a-f]{34} 0x0a" "raw records: a 17-byte revision and a KeyValue"
expect_rc 0 "dump --decode" "$S" etcd dump --decode "$db"
expect_out "^  [0-9]+\.[0-9]+ (PUT|DELETE) key=" "decoded revisions"
expect_out "^  finishedCompactRev=[0-9]+$" "the finished mark"
checks=$((checks + 1))
python3 - "$S" "$db" <<'PY' || fail "dump --decode --json disagrees with status, history, leases"
import json, subprocess, sys
S, db = sys.argv[1], sys.argv[2]
def js(*a):
    return json.loads(subprocess.run([S, "etcd"] + list(a), capture_output=True, check=True).stdout)
d = js("dump", "--decode", "--json", db)
b = {x["name"]: x for x in d["buckets"]}
st = js("status", "--json", db)
bad = []
def same(what, x, y):
    if x != y:
        bad.append("%s: dump %r, other %r" % (what, x, y))
same("key records = status revisions", b["key"]["records"], st["revisions"])
meta = {}
for e in b["meta"]["entries"]:
    meta.update(e["decoded"])
same("finished mark = compact_revision", meta.get("finished_compact_revision", -1), st["compact_revision"])
same("scheduled mark", meta.get("scheduled_compact_revision", -1), st["scheduled_compact_revision"])
h = js("history", "--json", "--prefix", db, "")
hist = [(e["revision"]["main"], e["revision"]["sub"], e["type"] == "DELETE", e["kv"])
        for k in h["keys"] for g in k["generations"] for e in g]
dumped = []
for e in b["key"]["entries"]:
    x = e["decoded"]
    kv = dict(x["kv"])
    if x["tombstone"]:
        kv["mod_revision"] = x["revision"]["main"]
    dumped.append((x["revision"]["main"], x["revision"]["sub"], x["tombstone"], kv))
same("key bucket = history's events", sorted(dumped, key=lambda t: t[:2]), sorted(hist, key=lambda t: t[:2]))
ls = js("leases", "--json", db)
same("lease records = leases", [(e["decoded"]["ID"], e["decoded"]["TTL"]) for e in b.get("lease", {"entries": []})["entries"]],
     [(l["id"], l["granted-ttl"]) for l in ls["leases"]])
for e in d["buckets"]:
    for x in e["entries"]:
        if "error" in x:
            bad.append("record %s of %s: %s" % (x["key"], e["name"], x["error"]))
if bad: print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
expect_eq "$(sha "$db")" "$before" "dump writes nothing"
# A damaged KeyValue: shown raw with why, named once on stderr, exit 1.
printf 'put x DAMAGEME\nput y fine\n' | "$S" script --db "$T/dmg.db" >/dev/null
off=$(grep -boa DAMAGEME "$T/dmg.db" | head -1 | cut -d: -f1)
poke "$T/dmg.db" $((off - 1)) "7f"
expect_rc 1 "dump --decode of a damaged KeyValue" "$S" etcd dump --decode "$T/dmg.db"
expect_err "^strata etcd dump: .*: damaged record: bucket key, key 0x00000000000000025f0000000000000000: " \
    "names the damaged record"
expect_eq "$(wc -l <"$T/err")" 1 "one line"
expect_out "\(damaged: " "the damaged record is shown raw"
expect_out "^  3\.0 PUT key=y " "the records after it are still decoded"
expect_rc 0 "dump without --decode does not judge records" "$S" etcd dump "$T/dmg.db"

# Seeded damage anywhere past the metas: every command exits 0, 1 (a damaged
# record) or 3 (a damaged page), with one line on stderr (dump: one line per
# run too), and never crashes (the ASan build runs this test as well).
checks=$((checks + 1))
python3 - "$S" "$db" "$T" "$SEED" <<'PY' || fail "damaged dbs: a command crashed or gave a bad exit"
import random, subprocess, sys
S, db, T, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
src = open(db, "rb").read()
r = random.Random(seed)
bad = 0
f = T + "/fz.db"
for i in range(20):
    d = bytearray(src)
    for _ in range(r.randrange(1, 6)):
        d[r.randrange(8192, len(d))] = r.randrange(256)
    open(f, "wb").write(d)
    for cmd in (["status", f], ["dump", "--decode", "--json", f], ["leases", "--keys", f],
                ["history", "--prefix", f, ""], ["get", "--prefix", f, ""], ["hashkv", f]):
        p = subprocess.run([S, "etcd"] + cmd, capture_output=True)
        lines = p.stderr.decode(errors="replace").strip().split("\n") if p.stderr.strip() else []
        if p.returncode not in (0, 1, 3) or (p.returncode != 0 and len(lines) != 1):
            bad += 1
            print("mutation %d: etcd %s: exit %d: %s" % (i, cmd[0], p.returncode, lines[-3:]))
sys.exit(1 if bad else 0)
PY

# --- 2. compact -------------------------------------------------------------------------
cur=$("$S" etcd status --json "$db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
comp=$("$S" etcd status --json "$db" | python3 -c 'import json,sys; print(json.load(sys.stdin)["compact_revision"])')
rev=$(((comp + cur) / 2 + 1))
echo "current $cur compacted $comp: compacting at $rev"
cp "$db" "$T/c1.db"
cp "$db" "$T/c2.db"
"$S" etcd get --json --rev "$rev" --prefix "$T/c1.db" "" >"$T/at_rev.before"
expect_rc 0 "etcd compact" "$S" etcd compact "$T/c1.db" "$rev"
expect_out "compacted to revision $rev" "compact says what it did"
printf 'compact %d\nhash\nhashall\n' "$rev" | "$S" script --db "$T/c2.db" >"$T/c2.out"
expect_eq "$(sed -n 1p "$T/c2.out")" "compact rev=$rev ok" "strata script compacts the copy"
want_kv=$(sed -n 2p "$T/c2.out" | sed 's/.* hash=\([0-9]*\) .*/\1/')
want_all=$(sed -n 3p "$T/c2.out" | sed 's/.* hash=\([0-9]*\) .*/\1/')
expect_rc 0 "status after compact" "$S" etcd status --json "$T/c1.db"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["hash_kv"], d["hash"], d["compact_revision"], d["scheduled_compact_revision"])' \
    "$T/out" >"$T/st"
expect_eq "$(cat "$T/st")" "$want_kv $want_all $rev $rev" "HashKV, backend hash and marks = strata script's compact"
expect_eq "$("$S" hash -q "$T/c1.db")" "$("$S" hash -q "$T/c2.db")" "the files hash the same"
expect_rc 0 "get at the compaction revision" "$S" etcd get --json --rev "$rev" --prefix "$T/c1.db" ""
expect_eq "$(cat "$T/out")" "$(cat "$T/at_rev.before")" "answers at REV unchanged by compact"
expect_rc 1 "get below it" "$S" etcd get --rev $((rev - 1)) "$T/c1.db" a
expect_err "required revision has been compacted" "etcd's words"
c1=$(sha "$T/c1.db")
expect_rc 1 "compact at the compacted revision" "$S" etcd compact "$T/c1.db" "$rev"
expect_err "required revision has been compacted.*nothing written" "says nothing was written"
expect_rc 1 "compact in the future" "$S" etcd compact "$T/c1.db" $((cur + 1))
expect_err "future revision" "names the future revision"
expect_rc 2 "compact REV not a number" "$S" etcd compact "$T/c1.db" abc
expect_eq "$(sha "$T/c1.db")" "$c1" "refused compactions write nothing"
expect_rc 0 "snapshot" "$S" snapshot --trailer "$db" -o "$T/snap.db"
s1=$(sha "$T/snap.db")
expect_rc 2 "compact refuses a snapshot" "$S" etcd compact "$T/snap.db" "$rev"
expect_err "etcd snapshot, not a member's db" "says to restore it first"
expect_eq "$(sha "$T/snap.db")" "$s1" "the snapshot is untouched"
printf 'bolt-dump v1\nbucket 6f74686572 seq=0\nkey 6f74686572 6b 76\nend buckets=1 keys=1\n' |
    "$S" load "$T/other.db" >/dev/null 2>&1
o1=$(sha "$T/other.db")
expect_rc 3 "compact refuses another program's db" "$S" etcd compact "$T/other.db" 1
expect_err "not an etcd db" "names it"
expect_eq "$(sha "$T/other.db")" "$o1" "another program's db is untouched"
d1=$(sha "$T/dmg.db")
expect_rc 1 "compact refuses a damaged db" "$S" etcd compact "$T/dmg.db" 2
expect_eq "$(sha "$T/dmg.db")" "$d1" "the damaged db is untouched"

# --- 3. --live ----------------------------------------------------------------------------
hold_writer_lock "$db"
for c in status "get --prefix . ''" "history --prefix . ''" leases hashkv "dump --decode"; do
    eval "w=($c)"
    args=("${w[@]:1}")
    [[ " ${args[*]} " == *" . "* ]] || args=(. "${args[@]}")
    for i in "${!args[@]}"; do [ "${args[$i]}" = . ] && args[$i]=$db; done
    expect_rc 0 "etcd ${w[0]} --live under a writer's lock" "$S" etcd "${w[0]}" --live --json "${args[@]}"
    cp "$T/out" "$T/live.json"
    expect_rc 3 "etcd ${w[0]} without --live times out" "$S" etcd "${w[0]}" --timeout 100ms "${args[@]}"
    expect_err "strata etcd ${w[0]} --live" "the lock message names --live"
    release_writer_lock
    expect_rc 0 "etcd ${w[0]} unlocked" "$S" etcd "${w[0]}" --json "${args[@]}"
    expect_eq "$(cat "$T/out")" "$(cat "$T/live.json")" "etcd ${w[0]} --live = the locked-out answer"
    hold_writer_lock "$db"
done
expect_rc 2 "compact takes no --live" "$S" etcd compact --live "$db" 5
expect_rc 3 "compact waits for the writer's lock" "$S" etcd compact --timeout 100ms "$db" $((cur))
release_writer_lock
expect_eq "$(sha "$db")" "$before" "nothing written by any of it"
# The retry loop, deterministically (failpoint builds): 3 overlapped reads then
# a clean one; then a member that always commits first.
if STRATA_ETCD_LIVE_FAILPOINT=1000 "$S" etcd get --live "$db" a >/dev/null 2>&1; then
    echo "this build has no failpoints: the forced overlaps are not tested"
else
    expect_rc 3 "a member that always commits first" env STRATA_ETCD_LIVE_FAILPOINT=1000 \
        "$S" etcd get --live "$db" a
    expect_err "the member commits faster than strata can read.*snapshot" "says so and suggests a snapshot"
    expect_eq "$(wc -l <"$T/err")" 1 "one line"
    expect_eq "$(wc -c <"$T/out")" 0 "no answer"
    expect_rc 0 "3 overlapped reads, then a clean one" env STRATA_ETCD_LIVE_FAILPOINT=3 \
        "$S" etcd status --live --json "$db"
    expect_eq "$(cat "$T/out")" "$("$S" etcd status --json "$db")" \
        "a retried live read prints one answer, the clean one"
fi
# A real writer: one put per revision, so a consistent read at revision R
# sees R - 1 keys. Every --live read is that, or the commits-faster refusal.
python3 -c 'print("\n".join("put k%06d v" % i for i in range(600)))' >"$T/writer.txt"
printf 'put init v\n' | "$S" script --db "$T/w.db" >/dev/null
"$S" script --db "$T/w.db" --batch-interval 1ms <"$T/writer.txt" >/dev/null &
writer=$!
ok=0 refused=0
for i in $(seq 1 25); do
    if "$S" etcd get --live --count-only --json --prefix "$T/w.db" "" >"$T/l.json" 2>"$T/l.err"; then
        v=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["header"]["revision"] - 1 == d.get("count", 0))' "$T/l.json")
        expect_eq "$v" True "a live read under a writer is consistent (read $i)"
        ok=$((ok + 1))
    else
        rc=$?
        checks=$((checks + 1))
        if [ "$rc" -eq 3 ] && grep -q "commits faster than strata can read" "$T/l.err"; then
            refused=$((refused + 1))
        else
            fail "live read $i: exit $rc: $(head -1 "$T/l.err")"
        fi
    fi
done
wait "$writer" || fail "the writer failed"
echo "live reads under a writer: $ok consistent, $refused refused"
expect_rc 0 "the writer's db afterwards" "$S" etcd get --count-only --prefix "$T/w.db" ""
expect_eq "$(cat "$T/out")" 601 "all the writer's keys"
finish
