#!/usr/bin/env bash
# test_load_roundtrip.sh BOLTCHECK: load(dump(X)) reproduces X's dump, for
# every corner file, at the file's own page size and freelist mode and at a
# different page size; and load rejects malformed dumps without creating a
# file.
. "$(dirname "$0")/lib.sh"

expect_rc 0 gen "$BC" gen -out "$T/g"
for f in $(corners "$T/g"); do
    src="$T/g/$f"
    expect_rc 0 "dump $f" "$BC" dump -maxhex 0 "$src" || continue
    cp "$T/last.out" "$T/$f.dump"
    ps=$(page_size "$src")
    for variant in same ps512; do
        out="$T/$f.$variant.loaded"
        if [ $variant = same ]; then
            opts="-pagesize $ps $(freelist_opt "$src")"
        else
            opts="-pagesize 512"
        fi
        # shellcheck disable=SC2086
        expect_rc 0 "load $f ($variant)" "$BC" load $opts "$out" <"$T/$f.dump" || continue
        expect_rc 0 "inspect loaded $f ($variant)" "$BC" inspect -sections check,strict "$out"
        expect_rc 0 "dump loaded $f ($variant)" "$BC" dump -maxhex 0 "$out" || continue
        cp "$T/last.out" "$T/$f.$variant.dump"
        expect_rc 0 "$f ($variant): load(dump) reproduces the dump" "$BC" compare "$T/$f.dump" "$T/$f.$variant.dump"
    done
done
[ "$(page_size "$T/pagesize16k.db.same.loaded")" = 16384 ] || fail "page size 16384 not kept"
"$BC" inspect -sections info "$T/nofreelistsync.db.same.loaded" | grep -q 'freelist_encoding=none' ||
    fail "nofreelistsync mode not kept"

# Malformed dumps: exit 1 and no file left behind.
bad() {
    printf "$1" >"$T/bad.dump"
    rm -f "$T/bad.db"
    expect_rc 1 "load rejects: $2" "$BC" load "$T/bad.db" <"$T/bad.dump"
    [ -e "$T/bad.db" ] && fail "load left a file after: $2"
}
bad 'bolt-dump v2\nend buckets=0 keys=0\n' "wrong header"
bad 'bolt-dump v1\n' "missing end line"
bad 'bolt-dump v1\nbucket 61 seq=0\nend buckets=2 keys=0\n' "wrong totals"
bad 'bolt-dump v1\nkey 61 6b 76\nend buckets=0 keys=1\n' "key in unknown bucket"
bad 'bolt-dump v1\nbucket 61 seq=0\nkey 61 6b sha256:3:00\nend buckets=1 keys=1\n' "hashed value"
bad 'bolt-dump v1\nbucket 61/62 seq=0\nend buckets=1 keys=0\n' "bucket before its parent"
bad 'bolt-dump v1\nbucket 61 seq=0\nkey 61 zz 00\nend buckets=1 keys=1\n' "bad hex"
bad 'bolt-dump v1\nend buckets=0 keys=0\nend buckets=0 keys=0\n' "text after end"
# And an existing target is never overwritten.
expect_rc 2 "load refuses an existing file" "$BC" load "$T/g/empty.db" <"$T/empty.db.dump"
finish
