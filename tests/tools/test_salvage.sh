#!/usr/bin/env bash
# test_salvage.sh: strata salvage on files strata wrote, clean and damaged
# in the ways a disk or a bug damages them: the copy is always a valid
# file, holds only keys the source held, loses at most the damaged pages'
# keys, and every skip is reported.
. "$(dirname "$0")/lib.sh"

db=$T/s.db
expect_rc 0 "gen" "$S" gen --keys 3000 --seed 9 "$db"
expect_rc 0 "salvage --help" "$S" salvage --help
expect_rc 2 "salvage without -o" "$S" salvage "$db"
"$S" dump --max-hex 0 "$db" >"$T/new.dump"
expect_rc 0 "older state" "$S" surgery revert-meta-page -o "$T/old.db" "$db"
"$S" dump --max-hex 0 "$T/old.db" >"$T/old.dump"
cat "$T/new.dump" "$T/old.dump" | grep '^key ' | cut -d' ' -f1-3 | sort -u >"$T/known.keys"
nkeys=$(grep -c '^key ' "$T/new.dump")

# salvaged OUT [any]: the copy is valid and (unless "any": random damage
# can change key bytes, which no format check can see) holds only keys the
# source held, outside lost+found (hex 6c6f73742b666f756e64).
salvaged_ok() {
    expect_rc 0 "check $1" "$S" check "$1"
    "$S" dump --max-hex 0 "$1" >"$T/got.dump"
    [ "${2:-}" = any ] && return
    grep '^key ' "$T/got.dump" | grep -v '^key 6c6f73742b666f756e64' | cut -d' ' -f1-3 |
        sort -u >"$T/got.keys"
    checks=$((checks + 1))
    if [ -n "$(comm -23 "$T/got.keys" "$T/known.keys")" ]; then
        fail "$1 holds keys the source never had"
        comm -23 "$T/got.keys" "$T/known.keys" | head -3 | cut -c1-200
    fi
}

# --- clean ---------------------------------------------------------------
expect_rc 0 "salvage clean" "$S" salvage -o "$T/c.db" "$db"
expect_out "0 subtrees skipped" "nothing skipped"
salvaged_ok "$T/c.db"
"$S" dump --max-hex 0 "$T/c.db" >"$T/c.dump"
checks=$((checks + 1))
cmp -s "$T/new.dump" "$T/c.dump" || fail "clean salvage differs from the source"
expect_rc 2 "salvage onto an existing file" "$S" salvage -o "$T/c.db" "$db"

"$S" pages "$db" >"$T/pages"
root=$(current_root "$db")

# --- a damaged leaf of plain keys ------------------------------------------
leaf=""
for id in $(awk 'NR > 2 && $2 == "leaf" && $3 > 3 && $5 == "" { print $1 }' "$T/pages"); do
    if "$S" page "$db" "$id" | sed -n 2p | grep -q ' value='; then leaf=$id; break; fi
done
items=$(awk -v id="$leaf" 'NR > 2 && $1 == id { print $3 }' "$T/pages")
cp "$db" "$T/leaf.db"
poke "$T/leaf.db" $((leaf * 4096 + 8)) 2000
expect_rc 1 "salvage a damaged leaf" "$S" salvage -o "$T/l.db" "$T/leaf.db"
expect_out "^skipped page $leaf in bucket [^ ]+, keys \[.*\): invalid page type" "the skip names page, bucket, range"
salvaged_ok "$T/l.db"
got=$(grep -c '^key ' "$T/got.dump")
checks=$((checks + 1))
[ "$got" -ge $((nkeys - items)) ] || fail "lost more than the damaged leaf's $items keys: $got of $nkeys"

# --- a damaged branch: its leaves become orphans ---------------------------
branch=$(awk -v r="$root" 'NR > 2 && $2 == "branch" && $1 != r && $5 == "" { print $1; exit }' "$T/pages")
cp "$db" "$T/br.db"
poke "$T/br.db" $((branch * 4096 + 8)) 2000
expect_rc 1 "salvage a damaged branch" "$S" salvage -o "$T/b.db" "$T/br.db"
salvaged_ok "$T/b.db"
lost=$(( nkeys - $(grep -c '^key ' "$T/got.dump") ))
expect_rc 1 "salvage --orphans" "$S" salvage --orphans -o "$T/bo.db" "$T/br.db"
expect_out "^orphan leaf [0-9]+: [0-9]+ keys copied to lost\+found/[0-9]+" "orphans copied"
salvaged_ok "$T/bo.db"
expect_rc 0 "lost+found is a top-level bucket" "$S" buckets "$T/bo.db"
expect_out "^lost\+found$" "lost+found listed"
inlf=$(grep -c '^key 6c6f73742b666f756e64/' "$T/got.dump")
checks=$((checks + 1))
[ "$inlf" -ge "$lost" ] || fail "lost+found holds $inlf keys, the branch's subtree had $lost"

# --- a cycle: a branch points at itself -------------------------------------
cp "$db" "$T/cy.db"
printf "%016x" "$branch" | sed 's/../& /g' | awk '{ for (i = 8; i >= 1; i--) printf "%s", $i }' >"$T/le"
poke "$T/cy.db" $((branch * 4096 + 16 + 8)) "$(cat "$T/le")"
expect_rc 1 "salvage a cycle" "$S" salvage --orphans -o "$T/cy2.db" "$T/cy.db"
expect_out "skipped page $branch .*already reached" "the cycle is reported"
salvaged_ok "$T/cy2.db"

# --- a child pointer far past the end of the file ----------------------------
cp "$db" "$T/far.db"
poke "$T/far.db" $((branch * 4096 + 16 + 8)) ffffffffffff0000
expect_rc 1 "salvage an out-of-bounds child" "$S" salvage -o "$T/far2.db" "$T/far.db"
expect_out "page id out of bounds" "out of bounds reported"
salvaged_ok "$T/far2.db"

# --- the newest root is damaged: the older meta fills in ----------------------
cp "$db" "$T/root.db"
poke "$T/root.db" $((root * 4096 + 8)) 2000
expect_rc 1 "salvage a damaged root" "$S" salvage -o "$T/r2.db" "$T/root.db"
expect_out "^skipped page $root in bucket \(root\), keys \[first, last\)" "root skip"
expect_out "^filling the skipped ranges from meta [01]" "falls back to the older meta"
salvaged_ok "$T/r2.db"
checks=$((checks + 1))
[ "$(grep -c '^key ' "$T/got.dump")" -gt 0 ] || fail "nothing recovered from the older meta"

# --- 1500 nested buckets: followed to the bottom on the walk's own big stack ----
awk 'BEGIN { print "bolt-dump v1"; p = ""
    for (i = 0; i < 1500; i++) { p = p (i ? "/" : "") "61"; print "bucket " p " seq=" i }
    print "key " p " 6b 76"; print "end buckets=1500 keys=1" }' >"$T/deep.dump"
expect_rc 0 "load 1500 nested buckets" "$S" load "$T/deep.db" <"$T/deep.dump"
expect_rc 0 "salvage 1500 nested buckets" "$S" salvage --orphans -o "$T/deep2.db" "$T/deep.db"
expect_out "salvaged 1500 buckets and 1 keys" "every level salvaged"
"$S" dump --max-hex 0 "$T/deep2.db" >"$T/deep2.dump"
checks=$((checks + 1))
cmp -s "$T/deep.dump" "$T/deep2.dump" || fail "deep salvage differs (sequences included)"
expect_rc 0 "pages of 1500 nested buckets" "$S" pages "$T/deep.db"
expect_rc 0 "stats of 1500 nested buckets" "$S" stats "$T/deep.db"
expect_out "^	Number of levels in B\+tree: 1500$" "depth adds up over the nesting (the root not counted, as bbolt)"

# --- truncated, torn, junk ---------------------------------------------------
size=$(stat -c %s "$db")
head -c $((size / 2)) "$db" >"$T/trunc.db"
expect_rc 1 "salvage a truncated file" "$S" salvage --orphans -o "$T/t2.db" "$T/trunc.db"
salvaged_ok "$T/t2.db"
cp "$db" "$T/torn.db"
poke "$T/torn.db" 72 0000000000000001
poke "$T/torn.db" 4168 0000000000000001
expect_rc 3 "salvage with both metas torn" "$S" salvage -o "$T/torn2.db" "$T/torn.db"
expect_err "no valid meta page" "torn message"
checks=$((checks + 1))
[ ! -e "$T/torn2.db" ] || fail "a refused salvage left its output"
head -c 20000 /dev/urandom >"$T/junk.db"
expect_rc 3 "salvage junk" "$S" salvage -o "$T/j2.db" "$T/junk.db"

# --- random damage never crashes it and always yields a valid file -------------
for seed in $(seq 1 30); do
    cp "$db" "$T/rnd.db"
    for k in 1 2 3 4 5 6 7 8; do
        off=$(( (seed * 7919 + k * 104729) * 37 % size ))
        poke "$T/rnd.db" "$off" "$(printf '%02x%02x' $(( (seed * k * 31) % 256 )) $(( (seed + k) % 256 )))"
    done
    # The other commands on the same damage: a documented exit code, never a crash.
    for cmd in info pages stats check "surgery meta validate" "page --format hex" "page"; do
        case $cmd in page*) args="0 1 2 3 4 5 6 7 8 9 10 11 12" ;; *) args="" ;; esac
        # shellcheck disable=SC2086
        "$S" $cmd "$T/rnd.db" $args >/dev/null 2>"$T/err"
        rc=$?
        checks=$((checks + 1))
        [ $rc -le 3 ] || { fail "$cmd on random damage (seed $seed) exited $rc"; head -3 "$T/err"; }
    done
    rm -f "$T/rnd2.db"
    "$S" salvage --orphans -o "$T/rnd2.db" "$T/rnd.db" >"$T/out" 2>"$T/err"
    rc=$?
    checks=$((checks + 1))
    case $rc in
    0 | 1) salvaged_ok "$T/rnd2.db" any ;;
    3) ;;
    *) fail "salvage of random damage (seed $seed) exited $rc"; cat "$T/err" ;;
    esac
done

finish
