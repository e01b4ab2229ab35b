#!/usr/bin/env bash
# test_freelist_overflow.sh BOLTCHECK: the page-size-512 file whose freelist
# holds more than 0xFFFF ids (header count 0xFFFF, real count in the first
# u64; about 35 MB, the least the format allows) is clean for Tx.Check and
# the strict walk, survives a bbolt commit in both freelist modes, and
# load(dump) reproduces its dump.
. "$(dirname "$0")/lib.sh"

f=freelist_overflow_ps512.db
expect_rc 0 "gen $f" "$BC" gen -out "$T/g" -only $f && cat "$T/last.out"
db="$T/g/$f"
if expect_rc 0 "inspect $f" "$BC" inspect -sections check,strict,info "$db"; then
    expect_out '^info: file_size=[0-9]+ page_size=512$' "$f page size"
    expect_out 'freelist_encoding=count-overflow' "$f freelist count escape"
    expect_out '^check: ok$' "$f check"
    expect_out '^strict: ok$' "$f strict"
fi
"$BC" dump -maxhex 0 "$db" >"$T/0.dump"
expect_rc 0 "load $f" "$BC" load -pagesize 512 "$T/re.db" <"$T/0.dump"
"$BC" dump -maxhex 0 "$T/re.db" >"$T/re.dump"
expect_rc 0 "$f: load(dump)" "$BC" compare "$T/0.dump" "$T/re.dump"

expect_rc 0 "mutate $f" "$BC" mutate -seed 1 "$db"
expect_rc 0 "inspect $f after mutate" "$BC" inspect -sections check,strict,info "$db"
expect_out 'freelist_encoding=count-overflow' "$f still escaped after a commit"
expect_rc 0 "mutate $f (nosync)" "$BC" mutate -seed 2 -freelist nosync "$db"
expect_rc 0 "inspect $f after nosync mutate" "$BC" inspect -sections check,strict,info "$db"
expect_out 'freelist_encoding=none' "$f without stored freelist"
expect_rc 0 "mutate $f (sync again)" "$BC" mutate -seed 3 -freelist sync "$db"
expect_rc 0 "inspect $f after sync mutate" "$BC" inspect -sections check,strict,info "$db"
expect_out 'freelist_encoding=count-overflow' "$f freelist rebuilt with the escape"
finish
