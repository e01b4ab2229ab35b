#!/usr/bin/env bash
# test_mutate.sh BOLTCHECK: bbolt commits `mutate` transactions (puts,
# deletes, nested bucket create and delete, sequences in every bucket) on
# every corner file, switching the freelist mode between rounds; after each
# round Tx.Check and the strict walk are clean, the dump changed, the
# mutation is deterministic (two generations of a file, mutated alike, give
# the same dump), and load(dump) reproduces the dump.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "gen A" "$BC" gen -out "$T/a"
expect_rc 0 "gen B" "$BC" gen -out "$T/b"
for f in $(corners "$T/a"); do
    "$BC" dump -maxhex 0 "$T/a/$f" >"$T/$f.0.dump"
    prev="$T/$f.0.dump"
    round=0
    for mode in keep nosync sync; do
        round=$((round + 1))
        for side in a b; do
            expect_rc 0 "$f round $round ($mode): mutate $side" "$BC" mutate -seed "$round" -freelist "$mode" "$T/$side/$f"
        done
        if expect_rc 0 "$f round $round: inspect" "$BC" inspect -sections check,strict,info "$T/a/$f"; then
            case $mode in
            nosync) expect_out 'freelist_encoding=none' "$f round $round: no stored freelist" ;;
            sync) expect_out 'freelist_encoding=count-' "$f round $round: stored freelist" ;;
            esac
        fi
        "$BC" dump -maxhex 0 "$T/a/$f" >"$T/$f.$round.dump"
        "$BC" dump -maxhex 0 "$T/b/$f" >"$T/$f.$round.b.dump"
        expect_rc 0 "$f round $round: deterministic" "$BC" compare "$T/$f.$round.dump" "$T/$f.$round.b.dump"
        if cmp -s "$prev" "$T/$f.$round.dump"; then
            fail "$f round $round: mutate changed nothing"
        fi
        grep -q "^bucket $(printf 'mut-top-%d' $round | od -An -tx1 | tr -d ' \n') seq=1$" "$T/$f.$round.dump" ||
            fail "$f round $round: no mut-top bucket"
        prev="$T/$f.$round.dump"
        rm -f "$T/re.db"
        expect_rc 0 "$f round $round: load" "$BC" load "$T/re.db" <"$T/$f.$round.dump" &&
            "$BC" dump -maxhex 0 "$T/re.db" >"$T/re.dump" &&
            expect_rc 0 "$f round $round: load(dump)" "$BC" compare "$T/$f.$round.dump" "$T/re.dump"
    done
done
# Even rounds leave a mutsub-<seed> bucket in every original bucket; odd
# rounds delete it again within the same transaction.
grep -q "/$(printf 'mutsub-2' | od -An -tx1 | tr -d ' \n') seq=0$" "$T/sequences.db.2.dump" ||
    fail "round 2 left no nested mutsub-2 bucket"
if grep -q "$(printf 'mutsub-' | od -An -tx1 | tr -d ' \n')" "$T/sequences.db.3.dump"; then
    fail "round 3 left a mutsub bucket"
fi
finish
