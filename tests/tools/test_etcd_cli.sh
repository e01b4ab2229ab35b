#!/usr/bin/env bash
# test_etcd_cli.sh: `strata etcd` (issue 16) on etcd dbs strata writes itself
# (`strata script --db`: the mvcc store and the lessor, etcd's schema):
#   1. answers: status, get (every range form, --rev, --limit, --keys-only,
#      --count-only), hashkv, leases are checked against what `strata
#      script` (whose output is etcd 3.4's, byte for byte: the interop
#      suite's differential test) prints for the same questions on a copy;
#      history's events are checked against the stored revisions and get;
#   2. DB resolution: a db file, a member dir, a data dir, an etcd snapshot
#      (trailer verified), -w json = --json, read commands write nothing;
#   3. bad input: a member dir or data dir without a db, a bolt file of
#      another program, a file that is not bolt, a snapshot whose trailer
#      does not match, damaged key and lease records: one line, exit 3 or 1.
# Real-etcd files are the interop suite's (tests/interop/test_etcd_rt*.sh).
. "$(dirname "$0")/lib.sh"
SEED=${STRATA_TEST_SEED:-16}
echo "seed $SEED"

# --- a history, from a seeded generator -------------------------------------
python3 - "$SEED" >"$T/hist.txt" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
keys = ["a", "ab", "abc", "b", "b/x", "b/y", "b/z", "c", "zz", r'"c\x00"', r'"c\xff"', r'"\xff\xff"']
leases = []
next_id = 100
out = []
def put():
    k, v = r.choice(keys), "v%d" % r.randrange(1000)
    if leases and r.random() < 0.3:
        return "put %s %s lease=%d" % (k, v, r.choice(leases))
    return "put %s %s" % (k, v)
def dele():
    k = r.choice(keys)
    return "del %s%s" % (k, " prefix" if r.random() < 0.3 else "")
for i in range(160):
    x = r.random()
    if x < 0.45:
        out.append(put())
    elif x < 0.6:
        out.append(dele())
    elif x < 0.72:
        out.append("txn")
        for _ in range(r.randrange(2, 5)):
            out.append(put() if r.random() < 0.7 else dele())
        out.append("end")
    elif x < 0.8:
        out.append("lease grant %d %d" % (next_id, r.choice([60, 3600, 100000])))
        leases.append(next_id)
        next_id += 1
    elif x < 0.85 and leases:
        out.append("lease revoke %d" % leases.pop(r.randrange(len(leases))))
    elif x < 0.9:
        out.append("compact %d" % r.randrange(1, i + 2))
    else:
        out.append(put())
print("\n".join(out))
PY
db=$T/m.db
expect_rc 0 "strata script writes the history" "$S" script --db "$db" <"$T/hist.txt"
sha() { sha256sum "$1" | cut -d' ' -f1; }
before=$(sha "$db")

# --- 1. answers, against strata script on a copy -------------------------------
checks=$((checks + 1))
python3 - "$S" "$db" "$T" <<'PY' || fail "strata etcd answers differ from strata script's"
import base64, json, shutil, subprocess, sys
S, db, T = sys.argv[1], sys.argv[2], sys.argv[3]
bad = 0
def run(*args, rc=0):
    p = subprocess.run([S] + list(args), capture_output=True)
    if p.returncode != rc:
        print("FAIL: %s: exit %d, want %d: %s" % (" ".join(args), p.returncode, rc, p.stderr.decode(errors="replace")))
        return None
    return p.stdout
def js(*args, rc=0):
    out = run(*args, rc=rc)
    return json.loads(out) if out is not None and rc == 0 else None
def unq(s):  # ORACLE.md's q(bytes)
    assert s[0] == '"' and s[-1] == '"', s
    s, b, i = s[1:-1], bytearray(), 0
    while i < len(s):
        if s[i] == "\\":
            assert s[i + 1] == "x"
            b.append(int(s[i + 2:i + 4], 16)); i += 4
        else:
            b.append(ord(s[i])); i += 1
    return bytes(b)
def script(lines):
    cp = T + "/copy.db"
    shutil.copyfile(db, cp)
    p = subprocess.run([S, "script", "--db", cp], input="\n".join(lines).encode() + b"\n", capture_output=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().split("\n")
def fields(line):
    d = {}
    for tok in line.split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            d[k] = v
    return d
def kv_line(line):  # '  kv key="a" create=.. mod=.. ver=.. lease=.. [value=".."]'
    body = line.strip()[3:]
    kv, rest = {}, body
    # keys and values are quoted without spaces inside (q escapes them)
    for tok in rest.split(" "):
        k, v = tok.split("=", 1)
        kv[k] = unq(v) if k in ("key", "value") else int(v)
    return kv
compared = 0
def same(desc, got, want):
    global bad, compared
    compared += 1
    if got != want:
        bad += 1
        print("FAIL: %s:\n  strata etcd: %r\n  script:      %r" % (desc, got, want))

st = js("etcd", "status", "--json", db)
cur, comp = st["header"]["revision"], st["compact_revision"]
out = script(["rev", "hash", "hashall"])
same("status revision", cur, int(fields(out[0])["cur"]))
same("status hash_kv", st["hash_kv"], int(fields(out[1])["hash"]))
same("status compact_revision", comp, int(fields(out[1])["compact"]))
same("status hash (HashAll)", st["hash"], int(fields(out[2])["hash"]))
print("current %d compacted %d" % (cur, comp))

revs = sorted({0, max(comp, 1), min(comp + 1, cur), (max(comp, 1) + cur) // 2, cur})
queries = []  # (options, KEY [END], the script's range line)
for rv in revs:
    rs = " rev=%d" % rv
    o = ["--rev", str(rv)]
    queries += [
        (o + ["--prefix"], [""], 'range "" prefix' + rs),
        (o + ["--prefix", "--limit", "1"], ["b"], "range b prefix limit=1" + rs),
        (o, ["a"], "range a" + rs),
        (o + ["--from-key", "--keys-only"], ["b"], "range b fromkey keysonly" + rs),
        (o + ["--count-only", "--prefix"], [""], 'range "" prefix count' + rs),
        (o, ["ab", "c"], "range ab c" + rs),
        (o + ["--prefix"], ["0x63"], "range c prefix" + rs),
        (o + ["--prefix"], ["0xff"], 'range "\\xff" prefix' + rs),
        (o, ["b/x", "0x00"], "range b/x fromkey" + rs),
    ]
hrevs = [rv for rv in revs if rv == 0 or rv > comp]  # HashKV refuses the compacted revision itself
lines = [q[2] for q in queries] + ["hash %d" % rv for rv in hrevs] + ["lease list"]
out = [l for l in script(lines) if l != ""]
i = 0
for opts, pos, line in queries:
    head = fields(out[i]); i += 1
    kvs = []
    while i < len(out) and out[i].startswith("  kv "):
        kvs.append(kv_line(out[i])); i += 1
    doc = js("etcd", "get", "--json", *opts, db, *pos)
    if doc is None:
        bad += 1
        continue
    got = {"rev": doc["header"]["revision"], "count": doc.get("count", 0),
           "kvs": [{"key": base64.b64decode(k.get("key", "")), "create": k.get("create_revision", 0),
                    "mod": k.get("mod_revision", 0), "ver": k.get("version", 0), "lease": k.get("lease", 0),
                    **({} if "--keys-only" in opts else {"value": base64.b64decode(k.get("value", ""))})}
                   for k in doc.get("kvs", [])],
           "more": doc.get("more", False)}
    limit = int(opts[opts.index("--limit") + 1]) if "--limit" in opts else 0
    want = {"rev": int(head["rev"]), "count": int(head["count"]), "kvs": kvs,
            "more": limit > 0 and "count" not in line.split() and int(head["count"]) > limit}
    same("get %s %s" % (" ".join(opts), " ".join(pos)), got, want)
for rv in hrevs:
    h = fields(out[i]); i += 1
    doc = js("etcd", "hashkv", "-w", "json", "--rev", str(rv), db)
    same("hashkv --rev %d" % rv, {"hash": doc.get("hash", 0), "rev": doc["header"]["revision"],
                                  "compact": doc.get("compact_revision", 0)},
         {"hash": int(h["hash"]), "rev": int(h["cur"]), "compact": int(h["compact"])})
ll = fields(out[i]); i += 1
ids = []
while i < len(out) and out[i].startswith("  lease "):
    ids.append(fields(out[i])); i += 1
doc = js("etcd", "leases", "--keys", "--json", db)
same("leases ids and ttls", [(l["id"], l["granted-ttl"], len(l["keys"])) for l in doc["leases"]],
     [(int(x["id"]), int(x["ttl"]), int(x["keys"])) for x in ids])
gl = script(["lease get %d" % l["id"] for l in doc["leases"]])
j = 0
for l in doc["leases"]:
    j += 1
    ks = []
    while j < len(gl) and gl[j].startswith("  key "):
        ks.append(unq(gl[j].split(" ", 3)[3])); j += 1
    same("lease %d keys" % l["id"], [base64.b64decode(k) for k in l["keys"]], ks)
# Compacted and future revisions: exit 1, etcd's words.
if comp > 1:
    run("etcd", "get", "--rev", str(comp - 1), db, "a", rc=1)
    run("etcd", "hashkv", "--rev", str(comp), db, rc=1)
run("etcd", "get", "--rev", str(cur + 1), db, "a", rc=1)
run("etcd", "hashkv", "--rev", str(cur + 1), db, rc=1)
# history: every stored revision once, in order; the newest of each live key is get's.
h = js("etcd", "history", "--json", "--prefix", db, "")
events = [e for k in h["keys"] for g in k["generations"] for e in g]
same("history event count = stored revisions", len(events), st["revisions"])
now = {base64.b64decode(k["key"]): k for k in js("etcd", "get", "--json", "--prefix", db, "").get("kvs", [])}
for k in h["keys"]:
    key = base64.b64decode(k["key"])
    gens = k["generations"]
    for g in gens[:-1]:
        same("history: a closed generation ends with a delete", g[-1]["type"], "DELETE")
    revs_k = [(e["revision"]["main"], e["revision"]["sub"]) for g in gens for e in g]
    same("history: revisions ascend", revs_k, sorted(revs_k))
    last = gens[-1][-1]
    if last["type"] == "PUT":
        same("history: newest put = get", last["kv"], now.get(key))
    else:
        same("history: deleted key absent from get", None, now.get(key))
print("%d answers compared, %d differ" % (compared, bad))
sys.exit(1 if bad or compared < 50 else 0)
PY
expect_eq "$(sha "$db")" "$before" "read commands write nothing"

# --- text output -------------------------------------------------------------------
printf 'lease grant 7 3600\nput foo bar\nput "k\\x00" "v\\xff" lease=7\nput foo baz\n' |
    "$S" script --db "$T/t.db" >/dev/null
expect_rc 0 "get text" "$S" etcd get --prefix "$T/t.db" ""
expect_eq "$(cat "$T/out")" "$(printf 'foo\nbaz\n0x6b00\n0x76ff')" "get prints key then value, 0x-hex when binary"
expect_rc 0 "get --keys-only text" "$S" etcd get --keys-only --from-key "$T/t.db" 0x6b
expect_eq "$(cat "$T/out")" "0x6b00" "keys-only prints keys"
expect_rc 0 "get --count-only text" "$S" etcd get --count-only --prefix "$T/t.db" ""
expect_eq "$(cat "$T/out")" "2" "count-only prints the count"
expect_rc 0 "get of a missing key" "$S" etcd get "$T/t.db" nope
expect_eq "$(cat "$T/out")" "" "nothing found prints nothing"
expect_rc 0 "get --json of a missing key" "$S" etcd get --json "$T/t.db" nope
expect_eq "$(tr -d ' \n' <"$T/out")" '{"header":{"revision":4}}' "etcdctl's empty answer"
expect_rc 0 "-w json = --json" "$S" etcd get -w json --prefix "$T/t.db" ""
cp "$T/out" "$T/w.json"
expect_rc 0 "--json" "$S" etcd get --json --prefix "$T/t.db" ""
expect_eq "$(cat "$T/out")" "$(cat "$T/w.json")" "-w json and --json print the same"
expect_eq "$(tr -d ' \n' <"$T/out")" \
    '{"header":{"revision":4},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":4,"version":2,"value":"YmF6"},{"key":"awA=","create_revision":3,"mod_revision":3,"version":1,"value":"dv8=","lease":7}],"count":2}' \
    "etcdctl's field names, order, base64 and omitempty"
expect_rc 0 "leases text" "$S" etcd leases --keys "$T/t.db"
expect_eq "$(cat "$T/out")" "$(printf '0000000000000007 granted-ttl=3600 ttl=3600 keys=1\n  0x6b00')" "leases text"
expect_rc 0 "history text" "$S" etcd history "$T/t.db" foo
expect_out "^    4\.0 PUT create_revision=2 mod_revision=4 version=2 lease=0 value=baz$" "history line"
expect_rc 0 "status text" "$S" etcd status "$T/t.db"
expect_out "^revision: 4$" "status revision"
expect_out "^keys: 2$" "status keys"
expect_out "^leases: 1$" "status leases"
expect_rc 2 "-w table is refused" "$S" etcd get -w table "$T/t.db" foo
expect_rc 2 "--prefix with --from-key" "$S" etcd get --prefix --from-key "$T/t.db" foo
expect_rc 2 "an empty key alone" "$S" etcd get "$T/t.db" ""
expect_rc 2 "an unknown subcommand" "$S" etcd frobnicate "$T/t.db"
expect_rc 0 "etcd --help" "$S" etcd --help
expect_out "example" "etcd --help shows an example"
for c in status get history leases hashkv compact dump; do
    expect_rc 0 "etcd $c --help" "$S" etcd "$c" --help
    expect_out "example" "etcd $c --help shows an example"
done

# --- 2. DB resolution ---------------------------------------------------------------
mkdir -p "$T/data/member/snap" "$T/data/member/wal"
cp "$T/t.db" "$T/data/member/snap/db"
want=$("$S" etcd get --json --prefix "$T/t.db" "")
for d in "$T/data" "$T/data/member" "$T/data/member/snap/db"; do
    expect_rc 0 "DB = $d" "$S" etcd get --json --prefix "$d" ""
    expect_eq "$(cat "$T/out")" "$want" "the same answer from $d"
done
expect_rc 0 "a snapshot with its trailer" "$S" snapshot --trailer "$T/t.db" -o "$T/snap.db"
expect_rc 0 "get on the snapshot" "$S" etcd get --json --prefix "$T/snap.db" ""
expect_eq "$(cat "$T/out")" "$want" "the snapshot answers the same"
expect_rc 0 "status on the snapshot" "$S" etcd status --json "$T/snap.db"
expect_rc 0 "DB - is standard input (a snapshot)" "$S" etcd get --json --prefix - "" <"$T/snap.db"
expect_eq "$(cat "$T/out")" "$want" "the same answer from standard input"
expect_rc 0 "DB - is standard input (a db)" "$S" etcd leases --keys - <"$T/t.db"
expect_out "^0000000000000007 " "leases from standard input"
expect_rc 2 "compact refuses standard input" "$S" etcd compact - 2 <"$T/t.db"

# --- 3. bad input: one line, the right exit code, nothing written --------------------
mkdir -p "$T/nodb/snap" "$T/nodb/wal"
expect_rc 3 "a member dir without a db" "$S" etcd status "$T/nodb"
expect_err "member dir without a db" "names the member dir"
expect_eq "$(wc -l <"$T/err")" 1 "one line"
mkdir -p "$T/nodata/member"
expect_rc 3 "a data dir without a db" "$S" etcd get "$T/nodata" foo
expect_err "data dir without a db" "names the data dir"
mkdir -p "$T/empty"
expect_rc 3 "a directory that is not etcd's" "$S" etcd leases "$T/empty"
expect_rc 3 "a missing path" "$S" etcd status "$T/missing.db"
printf 'bolt-dump v1\nbucket 6f74686572 seq=0\nkey 6f74686572 6b 76\nend buckets=1 keys=1\n' |
    "$S" load "$T/other.db" >/dev/null 2>&1
other=$(sha "$T/other.db")
for c in status "get . foo" "history . foo" leases hashkv; do
    read -r -a w <<<"$c"
    args=("${w[@]:1}")
    [ ${#args[@]} -eq 0 ] && args=(.)
    for i in "${!args[@]}"; do [ "${args[$i]}" = . ] && args[$i]=$T/other.db; done
    expect_rc 3 "etcd ${w[0]} on a bolt file of another program" "$S" etcd "${w[0]}" "${args[@]}"
    expect_err "not an etcd db: it has no 'key' bucket" "etcd ${w[0]} names what is missing"
    expect_eq "$(wc -l <"$T/err")" 1 "etcd ${w[0]}: one line"
done
expect_eq "$(sha "$T/other.db")" "$other" "the other program's file is untouched"
head -c 8192 /dev/urandom >"$T/junk.db"
expect_rc 3 "a file that is not bolt" "$S" etcd status "$T/junk.db"
cp "$T/snap.db" "$T/badsnap.db"
poke "$T/badsnap.db" 4200 "5a5a"
expect_rc 1 "a snapshot whose trailer does not match" "$S" etcd get "$T/badsnap.db" foo
expect_err "^strata etcd get: .*badsnap.db: etcd snapshot whose SHA-256 trailer does not match" "names the file"
expect_err "SHA-256 trailer does not match" "names the trailer"
expect_eq "$(wc -l <"$T/err")" 1 "one line"
# A damaged KeyValue: the length of a value made longer than its record.
printf 'put dmg DAMAGEME\n' | "$S" script --db "$T/dmg.db" >/dev/null
off=$(grep -boa DAMAGEME "$T/dmg.db" | head -1 | cut -d: -f1)
poke "$T/dmg.db" $((off - 1)) "7f"
dmg=$(sha "$T/dmg.db")
for c in status get history; do
    a=()
    [ "$c" != status ] && a=(dmg)
    expect_rc 1 "etcd $c on a damaged KeyValue" "$S" etcd "$c" "$T/dmg.db" "${a[@]}"
    expect_err "damaged record" "etcd $c names the damaged record"
    expect_eq "$(wc -l <"$T/err")" 1 "etcd $c: one line"
done
expect_eq "$(sha "$T/dmg.db")" "$dmg" "the damaged file is untouched"
# A damaged lease record: the ID's tag made illegal (field 0).
printf 'lease grant 5497558138880 60\n' | "$S" script --db "$T/dls.db" >/dev/null
off=$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().find(bytes.fromhex("000005000000000008")))' "$T/dls.db")
if [ "$off" -ge 0 ]; then
    poke "$T/dls.db" $((off + 8)) "00"
    expect_rc 1 "etcd leases on a damaged lease record" "$S" etcd leases "$T/dls.db"
    expect_err "damaged record: lease bucket key 0000050000000000" "names the lease record"
else
    fail "the lease record of 5497558138880 is not in the file"
fi
finish
