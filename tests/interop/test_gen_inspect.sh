#!/usr/bin/env bash
# test_gen_inspect.sh BOLTCHECK: the corner-case files bbolt writes are
# clean for bbolt's Tx.Check and for the strict walk, and two generations
# give byte-identical canonical dumps (the content is seeded; page layouts
# may differ, dumps may not).
. "$(dirname "$0")/lib.sh"

expect_rc 0 "gen A" "$BC" gen -out "$T/a" && cat "$T/last.out"
expect_rc 0 "gen B" "$BC" gen -out "$T/b"
n=0
for f in $(corners "$T/a"); do
    n=$((n + 1))
    if expect_rc 0 "inspect $f" "$BC" inspect -sections check,strict,info "$T/a/$f"; then
        expect_out '^check: ok$' "inspect $f"
        expect_out '^strict: ok$' "inspect $f"
        expect_out '^result: ok$' "inspect $f"
    fi
    expect_rc 0 "dump A/$f" "$BC" dump -maxhex 0 "$T/a/$f" && cp "$T/last.out" "$T/$f.a.dump"
    expect_rc 0 "dump B/$f" "$BC" dump -maxhex 0 "$T/b/$f" && cp "$T/last.out" "$T/$f.b.dump"
    expect_rc 0 "$f: dumps of two generations" "$BC" compare "$T/$f.a.dump" "$T/$f.b.dump"
    head -n1 "$T/$f.a.dump" | grep -qx 'bolt-dump v1' || fail "$f: dump header"
    tail -n1 "$T/$f.a.dump" | grep -Eqx 'end buckets=[0-9]+ keys=[0-9]+' || fail "$f: dump end line"
done
[ "$n" -ge 15 ] || fail "only $n corner files generated"

# Spot checks of the dump format on known content.
grep -qx 'bolt-dump v1' "$T/empty.db.a.dump" && [ "$(wc -l <"$T/empty.db.a.dump")" -eq 2 ] ||
    fail "empty.db: dump is not just header and end"
grep -qx 'end buckets=0 keys=0' "$T/empty.db.a.dump" || fail "empty.db: end line"
grep -qx 'key 77696467657473 656d7074792d76616c7565 -' "$T/one_bucket.db.a.dump" ||
    fail "one_bucket.db: empty value not written as -"
grep -q '^key - ' "$T/root_keys.db.a.dump" || fail "root_keys.db: no root-bucket key (path -)"
grep -qx 'bucket 7365712d6d6178 seq=18446744073709551615' "$T/sequences.db.a.dump" ||
    fail "sequences.db: seq-max not 2^64-1"
# torn_meta.db: bbolt falls back to the older meta, so the last commit is gone.
if grep -q "$(printf 'lost-in-torn-commit' | od -An -tx1 | tr -d ' \n')" "$T/torn_meta.db.a.dump"; then
    fail "torn_meta.db: the torn commit is visible"
fi
# Hashing above max-hex (default 32768): large values appear as sha256:LEN:HEX.
expect_rc 0 "dump large_values.db (default max-hex)" "$BC" dump "$T/a/large_values.db"
expect_out '^key [0-9a-f]+ 6b sha256:1048576:[0-9a-f]{64}$' "large_values.db hashed 1 MiB value"
expect_rc 0 "dump max_key.db (default max-hex)" "$BC" dump "$T/a/max_key.db"
if grep -q 'sha256:32768:' "$T/last.out"; then fail "max_key.db: a 32768-byte key was hashed"; fi
finish
