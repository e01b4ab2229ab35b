#!/usr/bin/env bash
# test_strict_fuzz.sh BOLTCHECK [SEEDS]: seeded random damage (1-8 bytes,
# mostly in page headers and element arrays) never makes boltcheck crash:
# inspect (strict, Tx.Check, dump) and mutate exit 0, 1 or 2, never 3 --
# i.e. the strict walk catches everything bbolt would fault or panic on
# before bbolt sees the file. Most damage must be reported.
. "$(dirname "$0")/lib.sh"
seeds=${1:-40}

files=many_keys.db,max_key.db,inline_nested.db,deep_nesting.db,nofreelistsync.db,sequences.db,pagesize16k.db,root_keys.db
expect_rc 0 gen "$BC" gen -out "$T/g" -only "$files"
total=0 reported=0
for f in ${files//,/ }; do
    for s in $(seq 1 "$seeds"); do
        total=$((total + 1))
        cp "$T/g/$f" "$T/x.db"
        "$BC" corrupt -kind random -seed "$s" "$T/x.db" >"$T/what" 2>&1 || { fail "corrupt $f seed $s"; continue; }
        "$BC" inspect -sections strict,check,dump "$T/x.db" >"$T/out" 2>&1
        rc=$?
        case $rc in
        0) ;;
        1 | 2) reported=$((reported + 1)) ;;
        *) fail "inspect $f after random damage seed $s: exit $rc ($(cat "$T/what"))"
           grep -v '^key \|^bucket ' "$T/out" | sed -n '1,8p' ;;
        esac
        "$BC" mutate -seed 1 "$T/x.db" >"$T/out" 2>&1
        rc=$?
        if [ "$rc" -gt 2 ]; then
            fail "mutate $f after random damage seed $s: exit $rc ($(cat "$T/what"))"
            sed -n '1,8p' "$T/out"
        elif [ "$rc" -eq 0 ]; then
            # A mutation bbolt accepted must leave a clean file.
            "$BC" inspect "$T/x.db" >"$T/out" 2>&1 || {
                fail "$f seed $s: bbolt's commit on a file the walk passed is not clean"
                sed -n '1,8p' "$T/out"
            }
        fi
    done
done
echo "$reported of $total damaged files reported"
[ $((reported * 2)) -ge "$total" ] || fail "only $reported of $total damaged files reported"
finish
