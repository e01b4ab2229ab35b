#!/usr/bin/env bash
# test_conventions.sh: the conventions every strata command follows
# (issue 20), on a strata file with binary keys and on files bbolt wrote
# (tests/fixtures/bolt):
#   1. keys, bucket names and values round-trip: every bucket and key the
#      listings print is fetched back by `get` as printed (auto, hex,
#      escaped; text and --json), and matches the canonical dump;
#   2. --json: every command's document parses, with its documented fields;
#   3. --live: a process holds the writer's lock while every read command
#      runs with --live (and without it fails, naming --live);
#   4. "-" paths: stdin for inputs, stdout for outputs;
#   5. --timeout 0 waits forever;
#   6. corruption messages name the page; bbolt's stats rule; dump --help;
#      info on an etcd snapshot; --help examples; completion; man page.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
FIX=$HERE/../fixtures/bolt
RT=$HERE/roundtrip.py
SEED=${STRATA_TEST_SEED:-20}
echo "seed $SEED"

# --- a file of binary keys and bucket names, from a seeded generator ------
python3 - "$SEED" >"$T/bin.dump" <<'PY'
import random, sys
r = random.Random(int(sys.argv[1]))
def rnd_bytes():
    kind = r.randrange(6)
    n = r.randrange(1, 12)
    if kind == 0: return bytes(r.randrange(256) for _ in range(n))      # binary
    if kind == 1: return b"0x" + bytes(r.choice(b"0123456789abcdefxz") for _ in range(n))  # 0x-led text
    if kind == 2: return bytes(r.choice(b"0123456789abcdef") for _ in range(2 * n))  # looks like hex
    if kind == 3: return bytes(r.choice(b"a\\b c-_/'\"") for _ in range(n))  # quotes, slashes
    return bytes(r.randrange(32, 127) for _ in range(n))                  # text
fixed = [b"\x00", b"00", b"0x", b"0x41", b"0X41", b"-", b"--live", b"a\\x00"]
print("bolt-dump v1")
nb = nk = 0
def bucket(path, depth):
    global nb, nk
    print("bucket %s seq=%d" % ("/".join(p.hex() for p in path), r.randrange(1000)))
    nb += 1
    keys = set(fixed if depth == 1 else []) | {rnd_bytes() for _ in range(r.randrange(2, 10))}
    subs = {rnd_bytes() for _ in range(r.randrange(0, 3 if depth < 3 else 1))} - keys
    for k in sorted(keys | subs):
        if k in subs:
            bucket(path + [k], depth + 1)
        else:
            v = bytes(r.randrange(256) for _ in range(r.randrange(0, 64)))
            print("key %s %s %s" % ("/".join(p.hex() for p in path), k.hex(), v.hex() or "-"))
            nk += 1
for top in sorted({rnd_bytes() for _ in range(3)} | {b"\x00\xff", b"0xtext"}):
    bucket([top], 1)
print("end buckets=%d keys=%d" % (nb, nk))
PY
db=$T/bin.db
expect_rc 0 "load the binary-key file" "$S" load "$db" <"$T/bin.dump"

# --- 1. round trip ---------------------------------------------------------
for fmt in auto hex escaped; do
    checks=$((checks + 1))
    python3 "$RT" "$S" "$db" "$T/bin.dump" "$fmt" >"$T/rt" 2>&1 || { fail "round trip $fmt"; cat "$T/rt"; }
done
checks=$((checks + 1))
python3 "$RT" "$S" "$db" "$T/bin.dump" auto --json >"$T/rt" 2>&1 || { fail "round trip --json"; cat "$T/rt"; }
# Files bbolt wrote (binary sequence keys, nested and inline buckets); at
# most 40 keys of each bucket (spread over it) keep the sanitizer build quick.
for f in inline_nested sequences one_bucket; do
    checks=$((checks + 1))
    python3 "$RT" "$S" "$FIX/$f.db" "$FIX/$f.dump" auto --max-per-bucket 40 >"$T/rt" 2>&1 ||
        { fail "round trip bbolt $f"; cat "$T/rt"; }
done
checks=$((checks + 1))
python3 "$RT" "$S" "$FIX/sequences.db" "$FIX/sequences.dump" hex --json --max-per-bucket 10 >"$T/rt" 2>&1 ||
    { fail "round trip bbolt sequences hex --json"; cat "$T/rt"; }
# The marked form: a printed 0x... is hex, the text "0x41" prints marked, "00" is text.
expect_rc 0 "get of the text 0x41" "$S" get --value-format hex "$db" 0x00ff 0x30783431
expect_rc 0 "get of the text 00" "$S" get "$db" 0x00ff 00
expect_rc 1 "0x41 read as hex is the byte A (absent)" "$S" get "$db" 0x00ff 0x41
expect_rc 2 "malformed 0x is a usage error" "$S" get "$db" 0x00ff 0xzz
expect_err "0x30787a7a" "the usage error shows the text's own form"
expect_rc 0 "bytes format: raw value" "$S" get --format bytes "$db" 0x00ff 0x00
want=$(awk '$1 == "key" && $2 == "00ff" && $3 == "00" { print $4 }' "$T/bin.dump")
[ "$want" = "-" ] && want=
expect_eq "$(od -An -tx1 -v "$T/out" | tr -d ' \n')" "$want" "get --format bytes writes the raw value"
expect_rc 2 "bytes where it means nothing" "$S" keys --value-format bytes "$db" 0x00ff
expect_rc 0 "a key led by '-' prints marked" "$S" keys "$db" 0x00ff
expect_out "^0x2d2d6c697665$" "the key --live lists as 0x2d2d6c697665"
expect_rc 0 "get of the key --live" "$S" get "$db" 0x00ff 0x2d2d6c697665
expect_rc 0 "text format: after --, a key led by '-'" "$S" get --key-format text "$db" -- 0x00ff --live
fleaf=$("$S" pages "$FIX/one_bucket.db" | awk 'NR > 2 && $2 == "leaf" && $3 > 0 { print $1; exit }')
expect_rc 0 "page-item --value-only --format bytes" "$S" page-item --value-only --format bytes "$FIX/one_bucket.db" "$fleaf" 0

# --- 2. --json everywhere ----------------------------------------------------
# jcheck DESC FIELDS CMD...: the command exits 0 or 1 and prints one JSON
# object with each of FIELDS (comma-separated) at the top.
jcheck() {
    local desc=$1 fields=$2 rc
    shift 2
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -gt 1 ]; then
        fail "$desc: exit $rc"
        head -3 "$T/err"
        return
    fi
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict), "not an object"
missing = [f for f in sys.argv[2].split(",") if f and f not in d]
assert not missing, "missing fields %s" % missing' "$T/out" "$fields" 2>"$T/jerr" ||
        { fail "$desc: $(tail -1 "$T/jerr")"; head -5 "$T/out"; }
}
g=$T/g.db
expect_rc 0 "gen" "$S" gen --keys 300 --seed 4 "$g"
jcheck "info --json" file,size,page_size,current,metas,etcd_trailer "$S" info --json "$g"
jcheck "pages --json" pages "$S" pages --json "$g"
jcheck "page --json" pages "$S" page --json "$g" 0 1 2 3
jcheck "page --json --format hex" pages "$S" page --json --format hex "$g" 2
jcheck "page-item --json" page,index,type,key "$S" page-item --json "$FIX/one_bucket.db" "$fleaf" 0
jcheck "buckets --json" buckets "$S" buckets --json "$g"
jcheck "keys --json" keys "$S" keys --json "$g" config
jcheck "get --json" bucket,key,value "$S" get --json "$g" config limits max-conn
jcheck "stats --json" matched,keys,depth,buckets,extra "$S" stats --json "$g"
jcheck "dump --json" keys,buckets "$S" dump --json "$g"
jcheck "check --json" ok,problems "$S" check --json "$g"
jcheck "compact --json" source,output,output_bytes,keys "$S" compact --json -o "$T/c.db" "$g"
jcheck "snapshot --json" source,image_bytes,output,written,form,problems \
    "$S" snapshot --json --trailer "$g" -o "$T/snap.db"
jcheck "restore --json" snapshot,db,bytes,form,problems "$S" restore --json "$T/snap.db" -o "$T/r.db"
printf 'bolt-dump v1\nbucket 6b6579 seq=0\nkey 6b6579 6b 76\nbucket 6d657461 seq=0\nend buckets=2 keys=1\n' >"$T/etcd.dump"
expect_rc 0 "load an etcd-shaped file" "$S" load "$T/etcd.db" <"$T/etcd.dump"
jcheck "hash --json" file,hash,default_ignores,ignored "$S" hash --json --ignore key/k "$T/etcd.db"
cp "$T/etcd.db" "$T/etcd2.db"
jcheck "defrag --json" file,size_before,size_after,keys_copied "$S" defrag --json "$T/etcd2.db"
jcheck "gen --json" db,seed,puts,deletes,commits "$S" gen --json --keys 50 "$T/gj.db"
"$S" dump --max-hex 0 "$T/gj.db" >"$T/gj.dump"
jcheck "load --json" db,buckets,keys sh -c "'$S' load --json '$T/lj.db' < '$T/gj.dump'"
jcheck "salvage --json" source,output,buckets,keys,skipped,report "$S" salvage --json -o "$T/sj.db" "$T/gj.db"
jcheck "strerror --json" codes "$S" strerror --json -5104 -5105
jcheck "surgery --json" subcommand,source,output,ok,report "$S" surgery freelist rebuild --json -o "$T/fj.db" "$T/gj.db"
jcheck "surgery meta validate --json" subcommand,ok,report "$S" surgery meta validate --json "$T/gj.db"
# The dump's JSON is the same content as the canonical dump.
"$S" dump --json "$db" >"$T/dump.json" || fail "dump --json of the binary file"
checks=$((checks + 1))
python3 - "$T/dump.json" "$T/bin.dump" <<'PY' || fail "dump --json differs from the canonical dump"
import json, sys
d = json.load(open(sys.argv[1]))
dec = lambda s: bytes.fromhex(s[2:]) if s.startswith("0x") else s.encode("latin-1")
got = set()
def walk(node, path):
    for kv in node["keys"]:
        got.add(("key", path, dec(kv["key"]), dec(kv["value"])))
    for b in node["buckets"]:
        p = path + (dec(b["name"]),)
        got.add(("bucket", p, b["sequence"]))
        walk(b, p)
walk(d, ())
want = set()
for line in open(sys.argv[2]):
    f = line.split()
    h = lambda s: b"" if s == "-" else bytes.fromhex(s)
    if f[0] == "bucket":
        want.add(("bucket", tuple(h(p) for p in f[1].split("/")), int(f[2][4:])))
    elif f[0] == "key":
        want.add(("key", tuple(h(p) for p in f[1].split("/")), h(f[2]), h(f[3])))
sys.exit(0 if got == want else 1)
PY
# Messages never reach stdout: a failing --json run leaves stdout empty.
expect_rc 3 "json on a missing file" "$S" keys --json "$T/missing.db" b
expect_eq "$(wc -c <"$T/out")" 0 "an error under --json prints nothing on stdout"

# --- 3. --live with a writer holding the lock --------------------------------
hold_writer_lock "$g"
leaf=$("$S" pages "$g" | awk 'NR > 2 && $2 == "leaf" { print $1; exit }')
live_cmds=(
    "info" "pages" "page . $leaf" "page-item . $leaf 0" "buckets" "keys . config"
    "get . config limits max-conn" "stats" "dump" "check"
)
for c in "${live_cmds[@]}"; do
    read -r -a words <<<"$c"
    name=${words[0]}
    args=("${words[@]:1}")
    [[ " ${args[*]} " == *" . "* ]] || args+=(.)
    for i in "${!args[@]}"; do [ "${args[$i]}" = . ] && args[$i]=$g; done
    expect_rc 0 "$name --live while a writer holds the lock" "$S" "$name" --live "${args[@]}" ||
        head -3 "$T/err"
    case $name in
    info | pages | page | page-item)
        # pread commands take no lock at all
        expect_rc 0 "$name without --live takes no lock" "$S" "$name" --timeout 100ms "${args[@]}"
        ;;
    *)
        expect_rc 3 "$name without --live times out" "$S" "$name" --timeout 100ms "${args[@]}"
        expect_err "strata $name --live" "$name's lock message names its --live"
        ;;
    esac
done
expect_rc 1 "hash --live: gen's file is not etcd-shaped (a finding, not a lock error)" \
    "$S" hash --live "$g"
expect_rc 0 "snapshot --live while a writer holds the lock" "$S" snapshot --live "$g" -o "$T/live-snap.db"
expect_rc 0 "the live snapshot checks" "$S" check "$T/live-snap.db"
release_writer_lock
# The same on an etcd-shaped file (hash) with the lock held.
hold_writer_lock "$T/etcd.db"
want_hash=$("$S" hash -q --live "$T/etcd.db")
expect_rc 3 "hash without --live times out" "$S" hash --timeout 100ms "$T/etcd.db"
expect_err "strata hash --live" "hash's lock message names --live"
release_writer_lock
expect_eq "$("$S" hash -q "$T/etcd.db")" "$want_hash" "hash --live = hash under the lock"
# The same against a real writer: `strata script --db` holds the lock and
# commits puts every few milliseconds (a paced feed on its stdin) while each
# read command runs with --live. Each answers from one consistent state: exit
# 0; etcd status's stored revisions are its current revision - 1 (puts only,
# nothing compacted); check finds nothing; the snapshot is a good db.
w=$T/writer.db
echo "put k0 v0" | "$S" script --db "$w" >/dev/null || fail "script --db makes the writer's db"
(for i in $(seq 1 150); do
    for j in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo "put k$(((i * 20 + j) % 150)) v$i-$j"; done
    sleep 0.02 # paces the feed: commits land all through the reads below
done) | "$S" script --db "$w" --batch-interval 5ms >/dev/null 2>"$T/writer.err" &
writer=$!
for c in "info" "pages" "buckets" "keys @ key" "get @ key 0x00000000000000025f0000000000000000" "stats" "dump" "check" \
    "hash" "etcd status" "etcd get --prefix @ k"; do
    read -r -a words <<<"$c"
    [[ " ${words[*]} " == *" @ "* ]] || words+=(@)
    expect_rc 0 "$c --live while a writer commits" "$S" "${words[@]/#@/$w}" --live ||
        head -3 "$T/err"
done
expect_rc 0 "etcd status --live --json while a writer commits" "$S" etcd status --live --json "$w"
expect_eq "$(jget 'd["revisions"] == d["header"]["revision"] - 1')" true \
    "etcd status --live: one state (stored revisions = revision - 1)"
expect_rc 0 "check --live while a writer commits" "$S" check --live "$w"
expect_out "^OK$" "check --live finds nothing"
expect_rc 0 "snapshot --live while a writer commits" "$S" snapshot --live "$w" -o "$T/writer.snap"
expect_rc 0 "the snapshot made while a writer committed checks" "$S" check "$T/writer.snap"
wait "$writer"
expect_eq "$?" 0 "the writer (strata script --db) ended well"

# --- 4. "-" paths --------------------------------------------------------------
expect_rc 0 "snapshot -o -" sh -c "'$S' snapshot '$g' -o - > '$T/piped.snap'"
expect_rc 0 "snapshot -o - | restore - -o DB" sh -c "'$S' snapshot --gzip '$g' -o - | '$S' restore - -o '$T/piped.db'"
expect_rc 0 "the piped restore checks" "$S" check "$T/piped.db"
checks=$((checks + 1))
[ ! -e "$T/-" ] && [ ! -e "./-" ] || fail "a file named '-' was written"
expect_rc 0 "compact -o -" sh -c "'$S' compact -o - '$g' > '$T/cpipe.db'"
expect_err "bytes" "compact's summary goes to stderr when the file goes to stdout"
expect_rc 0 "the piped compaction checks" "$S" check "$T/cpipe.db"
expect_rc 0 "info - < DB" sh -c "'$S' info - < '$g'"
expect_out "^file +-$" "info names standard input '-'"
expect_rc 0 "keys - < DB" sh -c "'$S' keys - config < '$g'"
expect_out "limits" "keys from standard input"
expect_rc 0 "dump - < DB = dump DB" sh -c "'$S' dump - < '$g' > '$T/d1'; '$S' dump '$g' > '$T/d2'; cmp '$T/d1' '$T/d2'"
expect_rc 2 "--json with -o -" "$S" compact --json -o - "$g"
expect_rc 0 "gen -" sh -c "'$S' gen --keys 50 - > '$T/gpipe.db'"
expect_rc 0 "load - (dump in, db out)" sh -c "'$S' dump --max-hex 0 '$T/gpipe.db' | '$S' load - > '$T/lpipe.db'"
expect_rc 0 "salvage -o -" sh -c "'$S' salvage -o - '$T/lpipe.db' > '$T/spipe.db'"
expect_err "salvaged" "salvage's report goes to stderr when the file goes to stdout"
expect_rc 0 "surgery -o -" sh -c "'$S' surgery freelist rebuild -o - '$T/lpipe.db' > '$T/fpipe.db'"
expect_rc 0 "the piped surgery checks" "$S" check "$T/fpipe.db"
expect_rc 0 "gen/load/salvage through pipes give the same data" sh -c \
    "'$S' dump '$T/gpipe.db' > '$T/p1'; '$S' dump '$T/spipe.db' > '$T/p2'; cmp '$T/p1' '$T/p2'"
expect_rc 0 "restore -o -" sh -c "'$S' restore '$T/snap.db' -o - > '$T/rpipe.db'"
expect_rc 0 "the restore to stdout checks" "$S" check "$T/rpipe.db"
# Every command that reads a db takes '-' for standard input, and answers as
# it does for the file itself (messages name '-').
leaf=$("$S" pages "$g" | awk 'NR > 2 && $2 == "leaf" { print $1; exit }')
key1=$("$S" keys "$g" config | head -1)
for args in "info" "pages" "page @ $leaf" "page-item @ $leaf 0" "buckets" "keys @ config" \
    "get @ config $key1" "stats" "dump" "check" "hash"; do
    read -r -a words <<<"$args"
    [[ " ${words[*]} " == *" @ "* ]] || words+=(@)
    "$S" "${words[@]/#@/$g}" >"$T/want" 2>/dev/null
    want_rc=$?
    expect_rc "$want_rc" "${words[0]} - < DB" sh -c "$(printf '%q ' "$S" "${words[@]/#@/-}") < '$g'"
    checks=$((checks + 1))
    sed "s|$g|-|g" "$T/want" | cmp -s - "$T/out" || fail "${words[0]} - answers as ${words[0]} DB"
done
rm -f "$T/sin.db" "$T/gin.db"
expect_rc 0 "salvage - (a db on standard input)" sh -c "'$S' salvage -o '$T/sin.db' - < '$g'"
expect_out "salvaged" "salvage from standard input reports"
expect_rc 0 "salvage from standard input copies every key" sh -c \
    "'$S' dump '$g' > '$T/p1'; '$S' dump '$T/sin.db' > '$T/p2'; cmp '$T/p1' '$T/p2'"
expect_rc 0 "salvage --json - names the source '-'" sh -c "'$S' salvage --json -o '$T/sin2.db' - < '$g'"
expect_eq "$(jget 'd["source"]')" "-" "salvage --json source"
expect_rc 0 "surgery meta validate -" sh -c "'$S' surgery meta validate - < '$g'"
expect_out "current" "surgery from standard input reports the metas"
expect_rc 0 "surgery freelist rebuild -o DST -" sh -c "'$S' surgery freelist rebuild -o '$T/gin.db' - < '$g'"
expect_rc 0 "the surgery from standard input checks" "$S" check "$T/gin.db"
expect_rc 0 "compact - (a db on standard input)" sh -c "'$S' compact -o '$T/cin.db' - < '$g'"
expect_rc 0 "the compaction of standard input checks" "$S" check "$T/cin.db"

# --- 5. --timeout 0 waits forever (here: until the holder lets go) -----------
hold_writer_lock "$g"
"$S" keys --timeout 0 "$g" config >"$T/t0.out" 2>"$T/t0.err" &
waiter=$!
# The waiter must still be waiting while the lock is held (no early 1 ms give-up):
# it cannot finish before the holder is told to go, which happens only now.
checks=$((checks + 1))
kill -0 "$waiter" 2>/dev/null || fail "--timeout 0 gave up while the lock was held"
echo go >&7
wait "$waiter"
expect_eq "$?" 0 "--timeout 0 got the lock once it was free"
release_writer_lock

# --- 6. the rest ---------------------------------------------------------------
# Corruption messages name the page: damage the first element of a leaf
# (its position and key size), then list every bucket and get a key of each.
cp "$g" "$T/bad.db"
broken=$("$S" pages "$g" | awk 'NR > 2 && $2 == "leaf" && $3 > 3 && $4 == 0 { print $1 }' | tail -1)
poke "$T/bad.db" $((broken * 4096 + 16)) "ffffffffffffffff"
nbad=0
for b in $("$S" buckets "$g"); do
    for c in keys get; do
        args=("$T/bad.db" "$b")
        [ $c = get ] && args+=("$("$S" keys "$g" "$b" | head -1 | cut -f1)")
        "$S" $c "${args[@]}" >/dev/null 2>"$T/err"
        rc=$?
        [ $rc -eq 0 ] && continue
        [ $c = get ] && [ $rc -eq 1 ] && continue # the key itself may be what broke
        nbad=$((nbad + 1))
        checks=$((checks + 1))
        [ $rc -eq 3 ] || fail "$c on a damaged file: exit $rc, want 3"
        grep -Eq "page $broken" "$T/err" || fail "$c on a damaged file does not name page $broken: $(cat "$T/err")"
    done
done
checks=$((checks + 1))
[ $nbad -gt 0 ] || fail "no keys/get run met the damaged page $broken"
# dump --help offers only what dump uses.
expect_rc 0 "dump --help" "$S" dump --help
checks=$((checks + 1))
! grep -q -- "--key-format\|--value-format" "$T/out" || fail "dump --help offers a format dump ignores"
expect_rc 2 "dump refuses --key-format" "$S" dump --key-format hex "$g"
# info on an etcd snapshot mentions its trailer, and checks it.
expect_rc 0 "info on a snapshot with a trailer" "$S" info "$T/snap.db"
expect_out "etcd snapshot: the last 32 bytes are a SHA-256 trailer.*\(matches\)" "info names the trailer"
size=$(stat -c %s "$T/snap.db")
cp "$T/snap.db" "$T/badsnap.db"
poke "$T/badsnap.db" $((size - 1)) "00"
poke "$T/badsnap.db" $((size - 2)) "00"
expect_rc 1 "info on a snapshot whose trailer does not match" "$S" info --json "$T/badsnap.db"
expect_eq "$(jget 'd["etcd_trailer"]["matches"]')" false "info --json trailer mismatch"
# Every command's --help shows an example.
for cmd in $("$S" --help | awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }'); do
    "$S" "$cmd" --help >"$T/out" 2>&1
    checks=$((checks + 1))
    grep -qi "example" "$T/out" || fail "$cmd --help shows no example"
done
# ... and so does every subcommand's (bench WORKLOAD, etcd COMMAND), generated from its table.
"$S" completion list | awk 'NF == 2 && $2 !~ /^-/' >"$T/subs"
checks=$((checks + 1))
[ "$(wc -l <"$T/subs")" -ge 12 ] || fail "completion list names too few subcommands"
while read -r cmd sub; do
    "$S" "$cmd" "$sub" --help >"$T/out" 2>&1
    checks=$((checks + 1))
    grep -q "^usage: strata $cmd $sub" "$T/out" && grep -q "^example:" "$T/out" ||
        fail "$cmd $sub --help is not its generated help with an example"
done <"$T/subs"
# Bash completion: generated from the option tables, valid bash, completes.
"$S" completion bash >"$T/comp.bash" || fail "completion bash"
# What the script offers for "strata WORD..." with the cursor on the last word.
complete_words() {
    bash -c '. "$1"; shift; COMP_WORDS=(strata "$@"); COMP_CWORD=$#; _strata; echo "${COMPREPLY[*]}"' \
        _ "$T/comp.bash" "$@"
}
# expect_completion WANT DESC WORD...: completing "strata WORD..." offers WANT.
expect_completion() {
    local want=$1 desc=$2
    shift 2
    expect_eq "$(complete_words "$@")" "$want" "$desc"
}
checks=$((checks + 1))
bash -n "$T/comp.bash" || fail "the completion script is not valid bash"
expect_completion "--key-format" "completion of get --key" get --key
expect_completion "bytes" "completion of a format value" get --value-format b
expect_completion "snapshot" "completion of a command" sna
# Every command has an option table (completion, --help and the man page come
# from it): the writers and tools that used to parse their own options too.
"$S" completion list >"$T/list"
for want in "gen --seed" "gen --keys" "gen --page-size" "gen --flat" "gen --json" \
    "load --page-size" "load --json" "salvage --output" "salvage --orphans" "salvage --json" \
    "surgery --output" "surgery --from" "surgery --to" "surgery --json" "strerror --json" \
    "bench index --keys" "bench index --revs" "bench index --puts" \
    "bench bolt --count" "bench bolt --workloads" "bench bolt --dir" "bench bolt --fsync-secs" \
    "bench bolt --free-pages" "bench bolt --keep" \
    "bench lease --count" "bench lease --keys" "bench lease --expiring" "bench lease --ttl" \
    "bench lease --rate" "bench lease --put-rate" "bench lease --batch-limit" \
    "bench lease --workloads" "bench lease --dir" "bench lease --keep" \
    "bench mvcc --puts" "bench mvcc --keys" "bench mvcc --scale" "bench mvcc --workloads" \
    "bench mvcc --dir" "bench mvcc --pace-us" "bench mvcc --keep" "bench mvcc --phase-times" \
    "bench stall --rate" "bench stall --compact-at" "bench stall --defrag-at" \
    "bench stall --duration" "bench stall --scale" "bench stall --output" "bench stall --peer" \
    "bench stall --no-plot"; do
    checks=$((checks + 1))
    grep -qx -- "$want" "$T/list" || fail "completion list lacks '$want'"
done
for cmd in $("$S" --help | awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }'); do
    checks=$((checks + 1))
    grep -qx -- "    $cmd)" "$T/comp.bash" || fail "$cmd has no option table (no completion)"
done
expect_completion "freelist" "completion of a surgery subcommand" surgery free
expect_completion "--orphans" "completion of a salvage option" salvage --orp
expect_completion "4096" "completion of gen's page size" gen --page-size 40
# The table's parser: --json anywhere, negative codes are not options.
expect_rc 0 "strerror CODE --json" "$S" strerror -5104 --json
expect_out '"name": "BOLT_ECHECKSUM"' "strerror --json after the code"
expect_rc 2 "strerror without a code" "$S" strerror --json
expect_rc 2 "strerror of a word" "$S" strerror nope
expect_rc 2 "surgery with an option it does not have" "$S" surgery freelist rebuild --orphans -o "$T/x.db" "$T/x.db"
expect_err "usage: strata surgery SUBCOMMAND" "surgery's usage is the generated one"
expect_rc 2 "salvage without -o" "$S" salvage "$T/x.db"
expect_err "-o DST is required" "salvage says what is missing"
expect_rc 2 "bench index with a bad number" "$S" bench index -k 12x
# The bench workloads: each has its generated --help with an example, its own
# options in completion (after the workload's name), and refuses bad values
# before it measures anything.
for w in index bolt lease mvcc stall; do
    checks=$((checks + 1))
    "$S" bench "$w" --help >"$T/out" 2>&1 || fail "bench $w --help"
    grep -q "^usage: strata bench $w" "$T/out" || fail "bench $w --help is not the generated one"
    grep -q "^example:" "$T/out" || fail "bench $w --help shows no example"
done
expect_completion "mvcc" "completion of a bench workload" bench m
expect_completion "--phase-times" "completion of a bench mvcc option" bench mvcc --pha
expect_completion "--batch-limit" "completion of a bench lease option" bench lease --ba
expect_completion "" "bench stall does not offer lease's options" bench stall --ba
expect_completion "--fsync-secs" "completion of a bench bolt option" bench bolt --fsync
expect_completion "history hashkv" "completion of an etcd command" etcd h
expect_completion "--prefix" "completion of an etcd get option" etcd get --pre
expect_completion "" "etcd status does not offer get's options" etcd status --pre
expect_completion "json" "completion of etcd's -w" etcd get -w j
expect_rc 2 "bench without a workload" "$S" bench
expect_rc 2 "an unknown bench workload" "$S" bench nope
expect_err "unknown subcommand 'nope'" "bench names the unknown workload"
expect_rc 2 "bench bolt with a bad -n" "$S" bench bolt -n 12x --dir "$T/nobench"
expect_rc 2 "bench bolt with an unknown workload" "$S" bench bolt -w B9 --dir "$T/nobench"
expect_rc 2 "bench bolt with a bad --fsync-secs" "$S" bench bolt --fsync-secs x --dir "$T/nobench"
expect_rc 2 "bench lease with -n 0" "$S" bench lease -n 0 --dir "$T/nobench"
expect_rc 2 "bench lease with an unknown phase" "$S" bench lease -w rates,nope --dir "$T/nobench"
expect_err "unknown phase 'nope'" "bench lease names the phase"
expect_rc 2 "bench lease with a bad --ttl" "$S" bench lease --ttl 0 --dir "$T/nobench"
expect_rc 2 "bench lease with a bad --rate" "$S" bench lease --rate -1 --dir "$T/nobench"
expect_rc 2 "bench mvcc with an extra argument" "$S" bench mvcc extra --dir "$T/nobench"
expect_rc 2 "bench mvcc with a bad --pace-us" "$S" bench mvcc --pace-us 0 --dir "$T/nobench"
expect_rc 2 "bench stall with a bad --scale" "$S" bench stall --scale 1x -o "$T/nobench"
[ ! -e "$T/nobench" ] || fail "a refused bench wrote its directory"
# bench --json: the bench lines as one document (tiny runs), each line's
# figures where the text output has them.
expect_rc 0 "bench index --json" "$S" bench index -k 1000 -p 200 --json
expect_eq "$(jget 'd["workload"], d["ok"], d["results"][0]["name"], d["results"][0]["extra"]["K"]')" \
    "('index', True, 'strata-idx', 1000)" "bench index --json"
mkdir -p "$T/bench"
expect_rc 0 "bench bolt --json" "$S" bench bolt -n 200 -w B1,B4 --dir "$T/bench" --json
expect_eq "$(jget '[r["name"] for r in d["results"]], d["results"][1]["extra"]["found"], d["peak_rss_mib"] > 0')" \
    "(['B1', 'B4'], 200, True)" "bench bolt --json"
"$S" bench bolt -n 200 -w B1,B4 --dir "$T/bench" >"$T/bench.txt" 2>/dev/null
checks=$((checks + 1))
[ "$(awk '$1 == "B4" { print ($2 > 0), $5 }' "$T/bench.txt")" = "1 ops=200" ] ||
    fail "bench bolt's text line differs from its --json"
expect_rc 0 "bench lease --json" "$S" bench lease -n 300 -k 300 -w rates --dir "$T/bench" --json
expect_eq "$(jget '[r["name"] for r in d["results"]], d["results"][0]["extra"]["ops"], d["ok"]')" \
    "(['L-grant', 'L-put', 'L-renew', 'L-revoke'], 300, True)" "bench lease --json"
expect_rc 4 "bench lease --json where it cannot write" "$S" bench lease -n 300 -w rates --dir "$T/none/x" --json
expect_eq "$(jget 'd["ok"], d["results"]')" "(False, [])" "a failed bench's --json says so"
expect_rc 2 "bench with a refused value prints no document" "$S" bench bolt -n 20 --json --dir "$T/bench"
checks=$((checks + 1))
[ ! -s "$T/out" ] || fail "a refused bench --json printed on stdout"
# The man page documents every command, and each option in that command's section.
MAN=$HERE/../../docs/strata.1.scd
"$S" completion list >"$T/list"
# "COMMAND --opt" or "COMMAND SUB --opt" (a subcommand's section is "## COMMAND SUB").
while read -r line; do
    checks=$((checks + 1))
    opt=${line##* } cmd=${line% *}
    if [[ $opt != --* ]]; then
        opt="" cmd=$line
    fi
    awk -v c="## $cmd" '$0 == c { on = 1; next } /^#/ { on = 0 } on' "$MAN" >"$T/section"
    if [ -z "$opt" ]; then
        [ -s "$T/section" ] || fail "the man page has no section for $cmd"
    else
        grep -q -- "\*$opt\*" "$T/section" || fail "the man page's $cmd section lacks $opt"
    fi
done <"$T/list"
# The built man page (meson, scdoc), when scdoc is there.
if command -v scdoc >/dev/null 2>&1; then
    checks=$((checks + 1))
    scdoc <"$MAN" >"$T/strata.1" || fail "scdoc rejects docs/strata.1.scd"
fi
finish
