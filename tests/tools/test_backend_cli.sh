#!/usr/bin/env bash
# test_backend_cli.sh: the backend layer's operator commands (hash,
# snapshot, restore, defrag) on files strata writes (gen --flat, load of
# hand-written dumps): hash against an independent CRC-32C, hash kept by
# every content-preserving operation and changed by one edited value,
# --ignore, snapshot/restore round trips in every form, damaged snapshots,
# defrag, refusals (nested buckets, locks, missing, empty) that leave files
# untouched, and usage errors.
. "$(dirname "$0")/lib.sh"

# same_file A B DESCRIPTION: byte-identical files.
same_file() {
    checks=$((checks + 1))
    cmp -s "$1" "$2" || fail "$3"
}

# same_dump A B DESCRIPTION: equal canonical dumps.
same_dump() {
    "$S" dump "$1" >"$T/dump.a" 2>&1
    "$S" dump "$2" >"$T/dump.b" 2>&1
    checks=$((checks + 1))
    cmp -s "$T/dump.a" "$T/dump.b" || fail "$3"
}

# absent PATH DESCRIPTION
absent() {
    checks=$((checks + 1))
    [ ! -e "$1" ] || fail "$2: $1 exists"
}

hash_of() { "$S" hash -q "$@" 2>&1; }

# hx TEXT: the bytes of TEXT as lower-case hex (dump fields).
hx() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

# crc32c: CRC-32C (Castagnoli) of standard input, decimal; written out here
# so the hash is checked against something that is not strata.
crc32c() {
    python3 -c '
import sys
crc = 0xFFFFFFFF
for b in sys.stdin.buffer.read():
    crc ^= b
    for _ in range(8):
        crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
print(crc ^ 0xFFFFFFFF)'
}

# hold_lock MODE FILE: hold flock(MODE) on FILE for 2 s in the background
# (sets $lock_pid); returns once the lock is held.
hold_lock() {
    rm -f "$T/locked"
    (
        exec 9<"$2"
        flock "-$1" 9
        touch "$T/locked"
        sleep 2
    ) &
    lock_pid=$!
    local i
    for i in $(seq 100); do
        [ -e "$T/locked" ] && return 0
        sleep 0.05
    done
    fail "could not take the lock on $2"
}

# ---- usage ------------------------------------------------------------------
for c in hash snapshot restore defrag; do
    expect_rc 0 "$c --help" "$S" "$c" --help
    expect_out "^usage: strata $c " "$c --help prints its usage"
done
db=$T/flat.db
expect_rc 0 "gen --flat" "$S" gen --flat --keys 3000 --seed 7 "$db"
expect_rc 0 "buckets of a flat file" "$S" buckets "$db"
expect_eq "$(tr '\n' ' ' <"$T/out")" "accounts blobs config events " "gen --flat makes no nested buckets"
cp "$db" "$T/flat.orig"
expect_rc 2 "hash without FILE" "$S" hash
expect_rc 2 "hash with two files" "$S" hash "$db" "$db"
expect_rc 2 "hash with an unknown option" "$S" hash --bogus "$db"
expect_rc 2 "hash --ignore BUCKET/ (empty key)" "$S" hash --ignore meta/ "$db"
expect_rc 2 "hash --ignore /KEY (empty bucket)" "$S" hash --ignore /k "$db"
expect_rc 2 "hash --ignore '' " "$S" hash --ignore '' "$db"
expect_rc 2 "hash --ignore that is not hex" "$S" hash --key-format hex --ignore zz/00 "$db"
expect_err "not hex" "the bad hex is named"
expect_rc 2 "hash with a bad --timeout" "$S" hash --timeout soon "$db"
expect_rc 2 "snapshot without -o" "$S" snapshot "$db"
expect_err "-o OUT is required" "snapshot says what is missing"
expect_rc 2 "snapshot without FILE" "$S" snapshot -o "$T/x.snap"
expect_rc 2 "snapshot with an unknown option" "$S" snapshot --zip -o "$T/x.snap" "$db"
expect_rc 2 "restore without -o" "$S" restore "$T/x.snap"
expect_rc 2 "restore without SNAPSHOT" "$S" restore -o "$T/x.db"
expect_rc 2 "restore takes no --timeout" "$S" restore --timeout 1s -o "$T/x.db" "$T/x.snap"
expect_rc 2 "defrag without FILE" "$S" defrag
expect_rc 2 "defrag with two files" "$S" defrag "$db" "$db"
expect_rc 2 "defrag with an unknown option" "$S" defrag -o "$T/x.db" "$db"
absent "$T/x.snap" "usage errors write nothing"
absent "$T/x.db" "usage errors write nothing"
same_file "$db" "$T/flat.orig" "usage errors left the file alone"

# ---- hash: the definition, checked against an independent CRC-32C -------------
expect_eq "$(printf 123456789 | crc32c)" 3808858755 "the test's own CRC-32C (check value 0xe3069283)"
{
    echo "bolt-dump v1"
    echo "bucket $(hx b) seq=0"
    echo "key $(hx b) $(hx k1) $(hx v1)"
    echo "key $(hx b) $(hx k2) $(hx value-two)"
    echo "bucket $(hx meta) seq=3"
    echo "key $(hx meta) $(hx consistent_index) 0000000000000009"
    echo "key $(hx meta) $(hx term) $(hx 2)"
    echo "end buckets=2 keys=4"
} >"$T/small.dump"
expect_rc 0 "load small" "$S" load "$T/small.db" <"$T/small.dump"
grep -v "$(hx consistent_index)" "$T/small.dump" | sed 's/^end buckets=2 keys=4$/end buckets=2 keys=3/' >"$T/noci.dump"
expect_rc 0 "load small without consistent_index" "$S" load "$T/noci.db" <"$T/noci.dump"
cp "$T/small.db" "$T/small.orig"
want=$(printf 'bk1v1k2value-twometaterm2' | crc32c)
expect_rc 0 "hash small" "$S" hash "$T/small.db"
expect_out "^$T/small.db: hash $want \(ignoring meta/consistent_index\)$" \
    "hash is CRC-32C over names, keys and values, without meta/consistent_index"
all=$( (printf 'bk1v1k2value-twometaconsistent_index'; printf '\0\0\0\0\0\0\0\x09'; printf 'term2') | crc32c)
expect_rc 0 "hash --no-default-ignores" "$S" hash --no-default-ignores "$T/small.db"
expect_out "^$T/small.db: hash $all \(ignoring nothing\)$" "--no-default-ignores hashes every pair"
expect_eq "$(hash_of "$T/noci.db")" "$want" "a missing consistent_index hashes as an ignored one"
expect_eq "$(hash_of --no-default-ignores "$T/noci.db")" "$want" "nothing else is ignored"
expect_eq "$(hash_of --ignore b/k2 "$T/small.db")" "$(printf 'bk1v1metaterm2' | crc32c)" \
    "--ignore b/k2 leaves out that pair"
expect_eq "$(hash_of --ignore b "$T/small.db")" "$(printf 'bmetaterm2' | crc32c)" \
    "--ignore b leaves out every key of b, not its name"
expect_eq "$(hash_of --key-format hex --ignore "$(hx b)/$(hx k1)" "$T/small.db")" \
    "$(printf 'bk2value-twometaterm2' | crc32c)" "--ignore in hex"
expect_eq "$(hash_of --ignore nosuch --ignore b/nosuch "$T/small.db")" "$want" \
    "ignoring what is not there changes nothing"
expect_rc 0 "hash with both kinds of --ignore" "$S" hash --ignore b --ignore meta/term "$T/small.db"
expect_out "\(ignoring meta/consistent_index, every key of b, meta/term\)$" "the ignores are listed"
same_file "$T/small.db" "$T/small.orig" "hash changed the file"
printf 'bolt-dump v1\nend buckets=0 keys=0\n' >"$T/empty.dump"
expect_rc 0 "load an empty db" "$S" load "$T/nothing.db" <"$T/empty.dump"
expect_eq "$(hash_of "$T/nothing.db")" 0 "an empty db hashes to 0"

# ---- hash on a generated file: stable, read-only, and sensitive ----------------
h=$(hash_of "$db")
expect_eq "$(hash_of "$db")" "$h" "hash is stable across runs"
expect_rc 0 "hash" "$S" hash "$db"
expect_out "^$db: hash $h \(ignoring meta/consistent_index\)$" "hash prints its one line"
same_file "$db" "$T/flat.orig" "hash changed the file"
cp "$db" "$T/ro.db"
chmod 444 "$T/ro.db"
expect_eq "$(hash_of "$T/ro.db")" "$h" "hash of a read-only file"
# Edit one value of a load-able dump: the hash changes, unless that key is ignored.
"$S" dump --max-hex 0 "$db" >"$T/flat.dump"
line=$(grep -n "^key $(hx config) $(hx replicas) " "$T/flat.dump" | cut -d: -f1)
sed "${line}s/ $(hx 3)\$/ $(hx 4)/" "$T/flat.dump" >"$T/edited.dump"
checks=$((checks + 1))
[ "$(diff "$T/flat.dump" "$T/edited.dump" | grep -c '^[<>]')" = 2 ] || fail "the edit changed one line"
expect_rc 0 "load the unchanged dump" "$S" load "$T/reloaded.db" <"$T/flat.dump"
expect_rc 0 "load the edited dump" "$S" load "$T/edited.db" <"$T/edited.dump"
expect_eq "$(hash_of "$T/reloaded.db")" "$h" "a reload of the same dump hashes the same"
h_edit=$(hash_of "$T/edited.db")
checks=$((checks + 1))
[ "$h_edit" != "$h" ] || fail "one changed value did not change the hash ($h)"
expect_eq "$(hash_of --ignore config/replicas "$T/edited.db")" \
    "$(hash_of --ignore config/replicas "$db")" "ignoring the edited key makes them equal again"
expect_eq "$(hash_of --ignore config "$T/edited.db")" "$(hash_of --ignore config "$db")" \
    "ignoring the edited key's bucket makes them equal again"
# Ignoring a whole bucket equals emptying it.
grep -v "^key $(hx config) " "$T/flat.dump" >"$T/nocfg.dump"
nkeys=$(grep -c '^key ' "$T/nocfg.dump")
sed -i "s/^end buckets=4 keys=[0-9]*\$/end buckets=4 keys=$nkeys/" "$T/nocfg.dump"
expect_rc 0 "load without config's keys" "$S" load "$T/nocfg.db" <"$T/nocfg.dump"
expect_eq "$(hash_of --ignore config "$db")" "$(hash_of "$T/nocfg.db")" \
    "--ignore BUCKET hashes as if the bucket were empty"

# Content-preserving operations keep the hash.
expect_rc 0 "compact" "$S" compact -o "$T/compact.db" "$db"
expect_eq "$(hash_of "$T/compact.db")" "$h" "compact keeps the hash"
expect_rc 0 "gen --flat at page size 1024" "$S" gen --flat --keys 3000 --seed 7 --page-size 1024 "$T/ps1k.db"
expect_eq "$(hash_of "$T/ps1k.db")" "$h" "the same content at another page size hashes the same"

# ---- snapshot and restore --------------------------------------------------------
n=0
for form in "" "--trailer" "--gzip" "--trailer --gzip"; do
    n=$((n + 1))
    # shellcheck disable=SC2086
    expect_rc 0 "snapshot $form" "$S" snapshot $form -o "$T/s$n.snap" "$db"
    case $form in
    "") word="plain" ;;
    --trailer) word="sha256 trailer" ;;
    --gzip) word="gzip" ;;
    *) word="sha256 trailer, gzip" ;;
    esac
    expect_out "^$db: [0-9]+-byte image -> $T/s$n.snap: [0-9]+ bytes \($word\)$" "snapshot $form prints its line"
    image=$(awk '{ sub(/-byte/, "", $2); print $2 }' "$T/out")
    expect_eq "$(stat -c %s "$T/s$n.snap")" "$(sed -n 's/.*: \([0-9]*\) bytes (.*/\1/p' "$T/out")" \
        "snapshot $form reports the bytes it wrote"
    checks=$((checks + 1))
    [ ! -s "$T/err" ] || fail "snapshot $form wrote to a stderr that is not a terminal"
    case $form in
    "") expect_eq "$(stat -c %s "$T/s$n.snap")" "$image" "a plain snapshot is the image" ;;
    --trailer) expect_eq "$(stat -c %s "$T/s$n.snap")" $((image + 32)) "the trailer adds 32 bytes" ;;
    *) expect_eq "$(peek "$T/s$n.snap" 0 2)" 1f8b "--gzip writes gzip" ;;
    esac
    expect_rc 0 "restore $form" "$S" restore "$T/s$n.snap" -o "$T/r$n.db"
    case $form in
    "") word="plain, no sha256 trailer to verify" ;;
    --trailer) word="sha256 trailer verified" ;;
    --gzip) word="gzip, no sha256 trailer to verify" ;;
    *) word="gzip, sha256 trailer verified" ;;
    esac
    expect_out "^restored $T/s$n.snap into $T/r$n.db: $image bytes \($word\)$" "restore $form prints its line"
    same_dump "$db" "$T/r$n.db" "snapshot $form + restore changed the dump"
    expect_eq "$(hash_of "$T/r$n.db")" "$h" "snapshot $form + restore keeps the hash"
    expect_rc 0 "check the restored file ($form)" "$S" check "$T/r$n.db"
done
same_file "$db" "$T/flat.orig" "snapshot changed its source"
checks=$((checks + 1))
ls "$T" | grep -q -e '\.snapshot-' -e '\.defrag\.tmp' && fail "a temporary file was left behind"
expect_rc 0 "restore from standard input" "$S" restore - -o "$T/stdin.db" <"$T/s4.snap"
expect_out "^restored standard input into $T/stdin.db: " "restore names standard input"
same_dump "$db" "$T/stdin.db" "restore from a pipe changed the dump"
# A trailer snapshot gzip'ed by gzip(1) restores and is verified.
gzip -c <"$T/s2.snap" >"$T/ext.snap.gz"
expect_rc 0 "restore a gzip(1)'ed snapshot" "$S" restore "$T/ext.snap.gz" -o "$T/ext.db"
expect_out "\(gzip, sha256 trailer verified\)$" "gzip(1) + trailer recognised"
same_dump "$db" "$T/ext.db" "restore of gzip(1) output changed the dump"
# Any bolt file can be snapshotted, nested buckets and all.
expect_rc 0 "gen (nested buckets)" "$S" gen --keys 2000 --seed 3 "$T/nested.db"
cp "$T/nested.db" "$T/nested.orig"
expect_rc 0 "snapshot a nested file" "$S" snapshot --trailer -o "$T/nested.snap" "$T/nested.db"
expect_rc 0 "restore it" "$S" restore "$T/nested.snap" -o "$T/nested2.db"
same_dump "$T/nested.db" "$T/nested2.db" "nested snapshot round trip changed the dump"
expect_rc 0 "snapshot a read-only file" "$S" snapshot -o "$T/ro.snap" "$T/ro.db"

# Refusals: an existing output is never touched; a damaged snapshot creates nothing.
echo keep >"$T/exists"
expect_rc 2 "snapshot onto an existing file" "$S" snapshot -o "$T/exists" "$db"
expect_err "exists" "snapshot says why"
expect_rc 2 "restore onto an existing file" "$S" restore "$T/s1.snap" -o "$T/exists"
expect_eq "$(cat "$T/exists")" keep "existing outputs untouched"
expect_rc 3 "snapshot of a missing file" "$S" snapshot -o "$T/m.snap" "$T/missing.db"
absent "$T/m.snap" "a failed snapshot left its output"
absent "$T/missing.db" "snapshot created its missing source"
size=$(stat -c %s "$T/s2.snap")
cp "$T/s2.snap" "$T/bad.snap"
poke "$T/bad.snap" $((size - 5)) "$(printf '%02x' $((0x$(peek "$T/bad.snap" $((size - 5)) 1) ^ 0xff)))"
expect_rc 1 "restore with a damaged trailer" "$S" restore "$T/bad.snap" -o "$T/bad.db"
expect_err "BACKEND_ESNAPSHOTCHECKSUM" "the checksum is named"
expect_err "bad.db was not created" "restore says nothing was made"
absent "$T/bad.db" "a refused restore left DB"
for f in "$T"/bad.db.restore-*; do absent "$f" "a refused restore left its temporary file"; done
cp "$T/s2.snap" "$T/bad2.snap"
poke "$T/bad2.snap" 20000 "$(printf '%02x' $((0x$(peek "$T/bad2.snap" 20000 1) ^ 0x01)))"
expect_rc 1 "restore with a damaged image (trailer intact)" "$S" restore "$T/bad2.snap" -o "$T/bad.db"
gzip -c <"$T/bad.snap" >"$T/bad.snap.gz"
expect_rc 1 "restore a gzip'ed snapshot with a damaged trailer" "$S" restore "$T/bad.snap.gz" -o "$T/bad.db"
absent "$T/bad.db" "a refused restore left DB"
cp "$T/s4.snap" "$T/badz.snap"
gsize=$(stat -c %s "$T/badz.snap")
poke "$T/badz.snap" $((gsize / 2)) "$(printf '%02x' $((0x$(peek "$T/badz.snap" $((gsize / 2)) 1) ^ 0xff)))"
expect_rc 3 "restore a damaged gzip stream" "$S" restore "$T/badz.snap" -o "$T/bad.db"
expect_err "BACKEND_ESNAPSHOTFORMAT" "a damaged gzip stream is not a snapshot"
head -c 5000 "$T/s1.snap" >"$T/short.snap"
expect_rc 3 "restore a truncated snapshot" "$S" restore "$T/short.snap" -o "$T/bad.db"
echo "not a snapshot" >"$T/text.snap"
expect_rc 3 "restore a text file" "$S" restore "$T/text.snap" -o "$T/bad.db"
expect_rc 3 "restore a missing snapshot" "$S" restore "$T/nosuch.snap" -o "$T/bad.db"
absent "$T/bad.db" "failed restores left DB"

# ---- defrag ------------------------------------------------------------------------
cp "$db" "$T/d.db"
"$S" dump "$db" >"$T/before.dump"
keys=$(grep -c '^key ' "$T/before.dump")
before=$(stat -c %s "$T/d.db")
expect_rc 0 "defrag" "$S" defrag "$T/d.db"
after=$(stat -c %s "$T/d.db")
expect_out "^$T/d.db: $before bytes -> $after bytes \([0-9.]+%\)$" "defrag prints both sizes"
expect_out "^copied $keys keys in [0-9]+\.[0-9]{3} s$" "defrag copied every key once"
checks=$((checks + 1))
[ "$after" -lt "$before" ] || fail "defrag did not shrink a file with deletes ($before -> $after)"
same_dump "$db" "$T/d.db" "defrag changed the dump"
expect_rc 0 "check after defrag" "$S" check "$T/d.db"
expect_eq "$(hash_of "$T/d.db")" "$h" "defrag keeps the hash"
absent "$T/d.db.defrag.tmp" "defrag left its copy"
expect_rc 0 "defrag again" "$S" defrag "$T/d.db"
same_dump "$db" "$T/d.db" "a second defrag changed the dump"
cp "$T/ps1k.db" "$T/ps1k.orig"
expect_rc 0 "defrag at page size 1024" "$S" defrag "$T/ps1k.db"
expect_rc 0 "info after defrag" "$S" info "$T/ps1k.db"
expect_out "^page size +1024$" "defrag keeps the page size"
same_dump "$T/ps1k.orig" "$T/ps1k.db" "defrag at page size 1024 changed the dump"
expect_rc 0 "check after defrag at page size 1024" "$S" check "$T/ps1k.db"

# Not etcd's shape: a nested bucket, a plain key at the top. Refused (exit 1), untouched.
expect_rc 1 "hash a nested file" "$S" hash "$T/nested.db"
expect_err "nested bucket.*BACKEND_ENESTED" "hash says why"
expect_rc 1 "defrag a nested file" "$S" defrag "$T/nested.db"
expect_err "BACKEND_ENESTED" "defrag says why"
expect_err "strata compact" "defrag points to compact"
same_file "$T/nested.db" "$T/nested.orig" "a refused defrag changed the file"
absent "$T/nested.db.defrag.tmp" "a refused defrag left its copy"
printf 'bolt-dump v1\nbucket %s seq=0\nkey %s %s %s\nkey - %s %s\nend buckets=1 keys=2\n' \
    "$(hx b)" "$(hx b)" "$(hx k)" "$(hx v)" "$(hx top)" "$(hx plain)" >"$T/plain.dump"
expect_rc 0 "load a file with a plain top-level key" "$S" load "$T/plain.db" <"$T/plain.dump"
cp "$T/plain.db" "$T/plain.orig"
expect_rc 1 "hash a plain top-level key" "$S" hash "$T/plain.db"
expect_err "plain key at the top level" "hash says why"
expect_err "plain key at the top level.*BACKEND_ENOTBUCKET" "hash names the code"
expect_rc 1 "defrag a plain top-level key" "$S" defrag "$T/plain.db"
expect_err "BACKEND_ENOTBUCKET" "defrag names the code"
same_file "$T/plain.db" "$T/plain.orig" "a refused defrag changed the file"

# Cannot open: missing, empty, not bolt, damaged. Nothing is created or written.
expect_rc 3 "hash a missing file" "$S" hash "$T/missing.db"
expect_rc 3 "defrag a missing file" "$S" defrag "$T/missing.db"
absent "$T/missing.db" "a missing file was created"
: >"$T/empty.db"
expect_rc 3 "hash an empty file" "$S" hash "$T/empty.db"
expect_rc 3 "defrag an empty file" "$S" defrag "$T/empty.db"
expect_rc 3 "snapshot an empty file" "$S" snapshot -o "$T/e.snap" "$T/empty.db"
expect_eq "$(stat -c %s "$T/empty.db")" 0 "an empty file stays empty"
head -c 16384 /dev/urandom >"$T/junk.db"
cp "$T/junk.db" "$T/junk.orig"
expect_rc 3 "hash a file that is not bolt" "$S" hash "$T/junk.db"
expect_rc 3 "defrag a file that is not bolt" "$S" defrag "$T/junk.db"
same_file "$T/junk.db" "$T/junk.orig" "defrag wrote to a file that is not bolt"
cp "$db" "$T/damaged.db"
root=$(current_root "$db")
poke "$T/damaged.db" $((root * 4096 + 8)) 2000
cp "$T/damaged.db" "$T/damaged.orig"
expect_rc 3 "hash a damaged file" "$S" hash "$T/damaged.db"
expect_err "BOLT_ECORRUPT" "hash names the corruption"
expect_rc 3 "defrag a damaged file" "$S" defrag "$T/damaged.db"
same_file "$T/damaged.db" "$T/damaged.orig" "a failed defrag changed a damaged file"
absent "$T/damaged.db.defrag.tmp" "a failed defrag left its copy"

# Locks: a writer keeps hash and defrag out (exit 3 with a hint); a reader
# keeps only defrag out.
cp "$db" "$T/l.db"
hold_lock x "$T/l.db"
expect_rc 3 "hash a file a writer holds" "$S" hash --timeout 200ms "$T/l.db"
expect_err "open for writing.*--timeout" "hash hints at the writer"
expect_rc 3 "snapshot a file a writer holds" "$S" snapshot --timeout 200ms -o "$T/l.snap" "$T/l.db"
expect_rc 3 "defrag a file a writer holds" "$S" defrag --timeout 200ms "$T/l.db"
expect_err "needs the file to itself" "defrag hints at the other process"
wait "$lock_pid"
hold_lock s "$T/l.db"
expect_rc 0 "hash a file another reader holds" "$S" hash --timeout 200ms "$T/l.db"
expect_rc 3 "defrag a file a reader holds" "$S" defrag --timeout 200ms "$T/l.db"
expect_err "needs the file to itself" "defrag hints at the other process"
wait "$lock_pid"
same_file "$T/l.db" "$db" "refused commands changed a locked file"
absent "$T/l.snap" "a refused snapshot left its output"

finish
