#!/usr/bin/env bash
# test_hostile_cli.sh: issue 21's findings about the CLI, each as the case
# that showed it: one page-size probe for the raw readers and the engine,
# snapshot and restore verifying what they copy, the writers' exit codes
# when their output cannot be written (RLIMIT_FSIZE), gen leaving nothing
# behind, and clear-page-elements on a page without elements.
. "$(dirname "$0")/lib.sh"

db=$T/g.db
expect_rc 0 "gen" "$S" gen --keys 3000 --seed 21 "$db"

# meta_set FILE PAGE_OFFSET FIELD_OFFSET FMT VALUE: rewrite one meta field
# and its checksum (FNV-1a 64 of bytes 16..71), so the meta stays valid.
meta_set() {
    python3 - "$@" <<'PY'
import struct, sys
path, base, off, fmt, val = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
b = bytearray(open(path, 'rb').read())
struct.pack_into('<' + fmt, b, base + off, val)
h = 0xcbf29ce484222325
for c in b[base + 16:base + 72]:
    h = ((h ^ c) * 0x100000001b3) & 0xffffffffffffffff
struct.pack_into('<Q', b, base + 72, h)
open(path, 'wb').write(bytes(b))
PY
}

# --- 7: one page-size probe ---------------------------------------------------
# A valid meta 0 naming page size 513: the engine opens the file with it, so
# info must too (it said "not a bolt file"), and snapshot must not call the
# image it copies good.
cp "$db" "$T/p513.db"
meta_set "$T/p513.db" 0 24 I 513
expect_rc 1 "info on page size 513 (meta 1 is then unreadable: a finding)" "$S" info "$T/p513.db"
expect_out "^page size +513" "info uses the engine's page size"
expect_rc 1 "check on page size 513" "$S" check "$T/p513.db"
expect_rc 1 "snapshot of page size 513" "$S" snapshot "$T/p513.db" -o "$T/p513.snap"
expect_err "was written, but it copies a damaged db" "snapshot says the copy is damaged"
checks=$((checks + 1))
[ -f "$T/p513.snap" ] || fail "the damaged snapshot should still be written"

# --- 6: a short address space (ulimit -v) still opens files ---------------------
# Skipped for sanitizer builds, which reserve terabytes of shadow memory.
if grep -q -e __asan_init -e __tsan_init "$S"; then
    echo "skip: ulimit -v under a sanitizer"
else
    expect_rc 0 "check under ulimit -v 1000000" bash -c "ulimit -v 1000000; exec \"\$0\" check \"\$1\"" "$S" "$db"
    expect_rc 0 "dump under ulimit -v 1000000" bash -c "ulimit -v 1000000; exec \"\$0\" dump \"\$1\"" "$S" "$db"
fi

# --- 3: snapshot and restore verify what they copy ------------------------------
expect_rc 0 "snapshot of a good db" "$S" snapshot "$db" -o "$T/good.snap"
expect_rc 0 "restore of a good snapshot" "$S" restore "$T/good.snap" -o "$T/good.db"
"$S" pages "$db" >"$T/pages"
leaf=$(awk 'NR > 2 && $2 == "leaf" && $3 > 3 { print $1; exit }' "$T/pages")
cp "$db" "$T/bad.db"
poke "$T/bad.db" $((leaf * 4096 + 8)) 2000 # not a page type
expect_rc 1 "snapshot of a damaged db" "$S" snapshot "$T/bad.db" -o "$T/bad.snap"
expect_err "page $leaf" "snapshot names the damaged page"
expect_rc 1 "snapshot --gzip --trailer of a damaged db" "$S" snapshot --gzip --trailer "$T/bad.db" -o "$T/bad.snap.gz"
expect_rc 1 "restore of a damaged snapshot" "$S" restore "$T/bad.snap" -o "$T/bad.restored"
expect_err "was written, but the snapshot held a damaged db" "restore says the db is damaged"
expect_rc 1 "restore of a damaged gzip snapshot" "$S" restore "$T/bad.snap.gz" -o "$T/bad2.restored"
expect_rc 1 "check agrees" "$S" check "$T/bad.restored"

# --- 8: writers whose output cannot be written exit 3 with the real errno -------
# `ulimit -f` makes writes past 64 KiB fail with EFBIG (SIGXFSZ ignored).
limited() {
    (trap '' XFSZ; ulimit -f 64; exec "$@")
}
expect_rc 3 "salvage onto a file that cannot grow" limited "$S" salvage -o "$T/sv.db" "$db"
expect_err "File too large|EFBIG" "salvage names the errno"
checks=$((checks + 1))
[ ! -e "$T/sv.db" ] || fail "salvage left a partial output"
expect_rc 3 "freelist rebuild onto a file that cannot grow" limited "$S" surgery freelist rebuild -o "$T/fr.db" "$db"
expect_err "File too large|EFBIG" "surgery keeps EFBIG (not EIO)"
checks=$((checks + 1))
[ ! -e "$T/fr.db" ] || fail "surgery left a partial output"
expect_rc 3 "gen onto a file that cannot grow" limited "$S" gen --keys 3000 "$T/gen.db"
checks=$((checks + 1))
[ ! -e "$T/gen.db" ] || fail "gen left a partial output behind"

# --- 8: clear-page-elements on a page without elements --------------------------
printf 'bolt-dump v1\nend buckets=0 keys=0\n' >"$T/empty.dump"
expect_rc 0 "an empty db" "$S" load "$T/empty.db" <"$T/empty.dump"
eroot=$(current_root "$T/empty.db")
expect_rc 1 "clear [0, 1) of a page with no elements" "$S" surgery clear-page-elements --from 0 --to 1 -o "$T/e1.db" "$T/empty.db" "$eroot"
expect_rc 1 "clear from 1 of a page with no elements" "$S" surgery clear-page-elements --from 1 -o "$T/e2.db" "$T/empty.db" "$eroot"
expect_rc 1 "page-item out of range agrees" "$S" page-item "$T/empty.db" "$eroot" 0
expect_rc 2 "a range that is no range is still usage" "$S" surgery clear-page-elements --from 3 --to 2 -o "$T/e3.db" "$T/empty.db" "$eroot"

# --- 1, 2: walks stop at a page reached twice; compact refuses disorder ----------
# mutate FILE share: the first paged top-level bucket's root := the next one's
# (two buckets share a subtree); root: := the root bucket's own page; swap:
# two keys of the first leaf of the first paged top-level bucket swapped (keys
# out of order). Through the current meta, pointers where the format puts them
# (docs/format.md).
mutate() {
    python3 - "$@" <<'PY'
import struct, sys
path, what = sys.argv[1], sys.argv[2]
b = bytearray(open(path, 'rb').read())
def meta(off):
    magic, ver, ps = struct.unpack_from('<III', b, off + 16)
    root, = struct.unpack_from('<Q', b, off + 32)
    txid, = struct.unpack_from('<Q', b, off + 64)
    return ps, root, txid
ps, root0, tx0 = meta(0)
_, root1, tx1 = meta(ps)
root = root1 if tx1 > tx0 else root0
def elems(pid):
    off = pid * ps
    flags, count = struct.unpack_from('<HH', b, off + 8)
    out = []
    for i in range(count):
        e = off + 16 + 16 * i
        if flags == 2:
            f, pos, ks, vs = struct.unpack_from('<IIII', b, e)
            out.append((e, f, e + pos, ks, vs))
        else:
            pos, ks, child = struct.unpack_from('<IIQ', b, e)
            out.append((e, child, e + pos, ks, 0))
    return flags, out
flags, top = elems(root)
assert flags == 2, 'root bucket is not a single leaf'
paged = [(k + ks) for (e, f, k, ks, vs) in top if f & 1 and struct.unpack_from('<Q', b, k + ks)[0] != 0]
if what == 'share':
    r2, = struct.unpack_from('<Q', b, paged[1])
    struct.pack_into('<Q', b, paged[0], r2)
elif what == 'root':
    struct.pack_into('<Q', b, paged[0], root)
else:
    pid, = struct.unpack_from('<Q', b, paged[0])
    while True:
        flags, el = elems(pid)
        if flags == 2:
            break
        pid = el[0][1]
    (e0, f0, k0, ks0, _), (e1, f1, k1, ks1, _) = el[0], el[1]
    assert ks0 == ks1
    b[k0:k0 + ks0], b[k1:k1 + ks1] = bytes(b[k1:k1 + ks1]), bytes(b[k0:k0 + ks0])
open(path, 'wb').write(bytes(b))
PY
}
# expect_refused DESC CMD...: a clear refusal: exit 1 or 3 (never 0, never 4 or a sanitizer's).
expect_refused() {
    local desc=$1 got
    shift
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne 1 ] && [ "$got" -ne 3 ]; then
        fail "$desc: exit $got, want 1 or 3"
        sed -n '1,5p' "$T/out" "$T/err"
    fi
}
flat=$T/flat.db
expect_rc 0 "gen --flat" "$S" gen --flat --keys 3000 --seed 5 "$flat"
cp "$flat" "$T/shared.db"
mutate "$T/shared.db" share
expect_refused "dump of buckets sharing a subtree" "$S" dump "$T/shared.db"
expect_refused "compact of buckets sharing a subtree" "$S" compact -o "$T/sh1.db" "$T/shared.db"
expect_err "reached twice" "compact says why"
checks=$((checks + 1))
[ ! -e "$T/sh1.db" ] || fail "compact left a destination"
expect_refused "compact --tx-max-size of buckets sharing a subtree" "$S" compact --tx-max-size 65536 -o "$T/sh2.db" "$T/shared.db"
checks=$((checks + 1))
[ ! -e "$T/sh2.db" ] || fail "compact --tx-max-size left a destination"
expect_refused "hash of buckets sharing a subtree" "$S" hash "$T/shared.db"
expect_err "page [0-9]+: reached twice" "hash names the page"
expect_refused "dump of buckets sharing a subtree" "$S" dump "$T/shared.db"
expect_err "page [0-9]+: reached twice" "dump names the page"
expect_refused "dump --json of buckets sharing a subtree" "$S" dump --json "$T/shared.db"
expect_err "page [0-9]+: reached twice" "dump --json names the page"
checks=$((checks + 1))
[ ! -s "$T/out" ] || fail "dump --json printed a document of a shared subtree"
sum_before=$(cksum <"$T/shared.db")
expect_refused "defrag of buckets sharing a subtree" "$S" defrag "$T/shared.db"
expect_eq "$(cksum <"$T/shared.db")" "$sum_before" "defrag left the file as it was"
expect_rc 1 "check agrees" "$S" check "$T/shared.db"
# The listings: a bucket whose root is its sibling's page listed the sibling's
# keys as its own (issue 21 #1: keys/buckets stop at a page entered twice).
for b in $("$S" buckets "$flat"); do
    expect_rc 3 "keys of $b beside buckets sharing a subtree" "$S" keys "$T/shared.db" "$b"
    expect_err "page [0-9]+: reached twice" "keys of $b names the page"
    checks=$((checks + 1))
    [ ! -s "$T/out" ] || fail "keys of $b listed $(wc -l <"$T/out") keys of a shared subtree"
done
expect_rc 3 "buckets inside a bucket sharing a subtree" "$S" buckets "$T/shared.db" "$("$S" buckets "$flat" | head -1)"
expect_err "page [0-9]+: reached twice" "buckets names the page"
expect_rc 0 "the top-level listing reads only the root's pages" "$S" buckets "$T/shared.db"
cp "$flat" "$T/atroot.db"
mutate "$T/atroot.db" root
first=$("$S" buckets "$flat" | head -1)
expect_rc 3 "keys of a bucket rooted at the root bucket's page" "$S" keys "$T/atroot.db" "$first"
expect_err "page [0-9]+: reached twice" "keys names the root's page"
checks=$((checks + 1))
[ ! -s "$T/out" ] || fail "keys listed the root's entries as the bucket's keys"

cp "$flat" "$T/swapped.db"
mutate "$T/swapped.db" swap
expect_refused "compact of keys out of order" "$S" compact -o "$T/sw1.db" "$T/swapped.db"
expect_err "out of order" "compact says the keys are out of order"
checks=$((checks + 1))
[ ! -e "$T/sw1.db" ] || fail "compact of disordered keys left a destination"
expect_refused "dump of keys out of order" "$S" dump "$T/swapped.db"
expect_err "page [0-9]+: keys out of order" "dump names the leaf"
expect_refused "dump --json of keys out of order" "$S" dump --json "$T/swapped.db"
expect_err "page [0-9]+: keys out of order" "dump --json names the leaf"
expect_rc 1 "check agrees on the disorder" "$S" check "$T/swapped.db"

# --- 5: a freelist whose ids are out of order -----------------------------------
# The first two ids of the current meta's freelist swapped: bbolt sorts such a
# list on read; a read-write open refuses it, naming the page (it is the mark of
# a damaged page). Prints the freelist page id.
unsort_freelist() {
    python3 - "$1" <<'PY'
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, 'rb').read())
ps, = struct.unpack_from('<I', b, 24)
metas = []
for m in (0, 1):
    fl, = struct.unpack_from('<Q', b, m * ps + 48)
    txid, = struct.unpack_from('<Q', b, m * ps + 64)
    metas.append((txid, fl))
fl = max(metas)[1]
count, = struct.unpack_from('<H', b, fl * ps + 10)
assert count >= 2 and count != 0xFFFF, count
ids = fl * ps + 16
a, c = struct.unpack_from('<QQ', b, ids)
assert a < c
struct.pack_into('<QQ', b, ids, c, a)
open(path, 'wb').write(bytes(b))
print(fl)
PY
}
cp "$flat" "$T/unsorted.db"
flpage=$(unsort_freelist "$T/unsorted.db")
sum_before=$(cksum <"$T/unsorted.db")
expect_rc 3 "defrag (a read-write open) of an unsorted freelist" "$S" defrag "$T/unsorted.db"
expect_err "page $flpage: freelist id [0-9]+ \(entry 1 of [0-9]+\) not in ascending order" "defrag names the freelist page"
expect_eq "$(cksum <"$T/unsorted.db")" "$sum_before" "defrag left the file as it was"
expect_rc 1 "check of an unsorted freelist" "$S" check "$T/unsorted.db"
expect_out "page $flpage: freelist ids not in ascending order" "check names the freelist page"
expect_rc 0 "read-only commands still read it" "$S" dump "$T/unsorted.db"
cp "$flat" "$T/sorted.db"
expect_rc 0 "the same file before the swap opens read-write" "$S" defrag "$T/sorted.db"

# --- every read-side command on the hostile corpus ------------------------------
# fuzz/corpus/db/hostile-* (written by test_hostile2's generator): each command
# ends with 0, 1 or 3 (never usage, internal or a sanitizer's code) and writes
# a bounded amount, whatever the structure.
corpus=$(dirname "$0")/../../fuzz/corpus/db
n=0
for f in "$corpus"/hostile-*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    h=$T/h.db
    cp "$f" "$h"
    for cmd in "info" "pages" "check" "dump" "buckets" "stats" "hash" "keys:a" "compact" \
        "compact-tx" "salvage" "snapshot"; do
        rm -f "$T/h.out.db"
        case $cmd in
        keys:a) set -- keys "$h" a ;;
        compact) set -- compact -o "$T/h.out.db" "$h" ;;
        compact-tx) set -- compact --tx-max-size 4096 -o "$T/h.out.db" "$h" ;;
        salvage) set -- salvage -o "$T/h.out.db" "$h" ;;
        snapshot) set -- snapshot "$h" -o "$T/h.out.db" ;;
        *) set -- "$cmd" "$h" ;;
        esac
        checks=$((checks + 1))
        "$S" "$@" >"$T/out" 2>"$T/err"
        got=$?
        case $got in
        0 | 1 | 3) ;;
        *)
            fail "$cmd on $(basename "$f"): exit $got"
            sed -n '1,5p' "$T/err"
            ;;
        esac
        size=$(($(wc -c <"$T/out") + $(wc -c <"$T/err")))
        [ "$size" -lt 4000000 ] || fail "$cmd on $(basename "$f"): $size bytes of output"
        # A copy that says it succeeded is a good db; salvage's copy always is.
        if [ -f "$T/h.out.db" ] && { [ "$got" = 0 ] || [ "$cmd" = salvage ]; }; then
            expect_rc 0 "$cmd on $(basename "$f"): the copy checks" "$S" check "$T/h.out.db"
        fi
    done
done
checks=$((checks + 1))
[ "$n" -ge 6 ] || fail "the hostile corpus has $n files (want the generator's shapes)"

finish
