#!/usr/bin/env bash
# test_strict_corrupt.sh BOLTCHECK: the strict walk finds each kind of
# damage and boltcheck never crashes on it: a damaged file gives exit 1
# (problems), a file without a valid meta exit 2, never exit 3. Also checks
# that the crash containment itself works (an unguarded bbolt read of a
# damaged file is reported as exit 3, not as a result).
. "$(dirname "$0")/lib.sh"

expect_rc 0 gen "$BC" gen -out "$T/g" -only many_keys.db,max_key.db,pagesize16k.db,deletes.db,inline_nested.db,nofreelistsync.db,one_bucket.db

# corrupt FILE KIND WANT_RC PATTERN: damage a copy of FILE with KIND, then
# inspect must exit WANT_RC and its strict section must match PATTERN.
corrupt() {
    local src=$1 kind=$2 want=$3 pat=$4 f rc
    f="$T/$kind-$src"
    cp "$T/g/$src" "$f"
    expect_rc 0 "corrupt $kind $src" "$BC" corrupt -kind "$kind" "$f" || return
    sed -n 1p "$T/last.out"
    expect_rc "$want" "inspect after $kind on $src" "$BC" inspect -sections strict,check "$f" || return
    expect_out "$pat" "$kind on $src"
    # The other commands that open the file must refuse or succeed, never crash.
    "$BC" dump "$f" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 3 ] && fail "dump after $kind on $src crashed"
    cp "$f" "$f.m"
    "$BC" mutate -seed 1 "$f.m" >/dev/null 2>&1
    rc=$?
    [ "$rc" -eq 3 ] && fail "mutate after $kind on $src crashed"
}

corrupt many_keys.db key-order 1 '^strict: problem: .*keys out of order'
corrupt max_key.db key-order 1 '^strict: problem: .*keys out of order'
corrupt pagesize16k.db key-order 1 '^strict: problem: .*keys out of order'
# bbolt's own Check passes a lowered separator (docs/format.md section 4).
corrupt many_keys.db separator 1 '^strict: problem: .*differs from the separator'
expect_out '^check: ok$' "separator: bbolt Check misses it"
corrupt deletes.db separator 1 '^strict: problem: .*differs from the separator'
corrupt max_key.db separator 1 '^strict: problem: .*differs from the separator'
corrupt many_keys.db elem-pos 1 '^strict: problem \(fatal\): .*past the [0-9]+ bytes of the page'
expect_out '^check: skipped' "elem-pos: bbolt not run"
corrupt inline_nested.db elem-pos 1 '^strict: problem \(fatal\): .*past the'
corrupt many_keys.db freelist-id 1 '^strict: problem: freelist: id [0-9]+ outside \[2, pgid='
corrupt deletes.db freelist-id 1 '^strict: problem: freelist: id [0-9]+ outside'
corrupt many_keys.db freelist-dup 1 '^strict: problem: freelist: id [0-9]+ listed twice'
expect_out '^check: page [0-9]+: already freed$' "freelist-dup: bbolt agrees"
corrupt deletes.db freelist-dup 1 '^strict: problem: freelist: id [0-9]+ listed twice'
# bbolt's Check skips inline buckets entirely.
corrupt inline_nested.db inline-id 1 '^strict: problem: inline bucket .*page header id=9 overflow=0, want 0 and 0'
expect_out '^check: ok$' "inline-id: bbolt Check misses it"
corrupt one_bucket.db inline-id 1 '^strict: problem: inline bucket'
corrupt many_keys.db header-id 1 '^strict: problem \(fatal\): .*header id [0-9]+ differs from its position'
corrupt pagesize16k.db header-id 1 '^strict: problem \(fatal\): .*header id [0-9]+ differs from its position'
corrupt many_keys.db page-type 1 '^strict: problem \(fatal\): .*flags 0x20'
corrupt many_keys.db cycle 1 '^strict: problem \(fatal\): page [0-9]+: multiple references'
corrupt many_keys.db truncate 1 '^strict: problem \(fatal\): file is [0-9]+ bytes, shorter than pgid'
corrupt nofreelistsync.db truncate 1 'shorter than pgid'
corrupt many_keys.db meta-both 2 '^strict: cannot open'

# A torn meta page alone is not damage: bbolt falls back to the other one.
expect_rc 0 "gen torn_meta" "$BC" gen -out "$T/g" -only torn_meta.db
expect_rc 0 "inspect torn_meta" "$BC" inspect -sections strict,check "$T/g/torn_meta.db"
expect_out '^strict: note: meta [01] invalid \(checksum mismatch\)' "torn meta noted"

# Missing file and a short file cannot be opened.
expect_rc 2 "inspect missing file" "$BC" inspect "$T/nope.db"
head -c 1000 "$T/g/many_keys.db" >"$T/short.db"
expect_rc 2 "inspect 1000-byte file" "$BC" inspect "$T/short.db"

# Crash containment: handing a damaged file to bbolt anyway makes bbolt
# fault or panic in its child process; boltcheck must say so with exit 3.
cp "$T/g/many_keys.db" "$T/crash.db"
"$BC" corrupt -kind elem-pos "$T/crash.db" >/dev/null
expect_rc 3 "unguarded bbolt read of a damaged file" "$BC" inspect -unguarded -sections check,dump "$T/crash.db"
expect_out '^crash: ' "crash reported"
finish
