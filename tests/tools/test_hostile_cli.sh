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

finish
