#!/usr/bin/env bash
# test_compact.sh: strata compact (bolt_compact) on files strata wrote:
# same dump, clean check, full pages, commits by --tx-max-size, refusals.
. "$(dirname "$0")/lib.sh"

db=$T/s.db
expect_rc 0 "gen" "$S" gen --keys 2000 --seed 5 "$db"
expect_rc 0 "compact --help" "$S" compact --help
expect_rc 2 "compact without -o" "$S" compact "$db"
expect_rc 2 "compact with a bad --tx-max-size" "$S" compact --tx-max-size x -o "$T/x.db" "$db"

expect_rc 0 "compact" "$S" compact -o "$T/c.db" "$db"
expect_out "written bottom-up$" "the default writes pages directly"
expect_out "s.db: [0-9]+ bytes -> .*c.db: [0-9]+ bytes" "compact prints both sizes"
"$S" dump "$db" >"$T/a.dump"
"$S" dump "$T/c.db" >"$T/b.dump"
checks=$((checks + 1))
cmp -s "$T/a.dump" "$T/b.dump" || fail "compacted dump differs from the source's"
expect_rc 0 "check the copy" "$S" check "$T/c.db"
expect_rc 0 "pages of the copy" "$S" pages "$T/c.db"
# Written bottom-up: no free pages at all.
nfree=$(awk 'NR > 2 && $2 == "free"' "$T/out" | wc -l)
expect_eq "$nfree" 0 "free pages in a bottom-up copy"

# Full pages: leaf bytes in use over allocated above 90% (the source is near 50-70%).
fill() {
    "$S" stats --json "$1" >"$T/fill.json" && jget 'd["leaf_inuse"] * 100 // d["leaf_alloc"]' "$T/fill.json"
}
src_fill=$(fill "$db")
dst_fill=$(fill "$T/c.db")
checks=$((checks + 1))
[ "$dst_fill" -ge 90 ] || fail "compacted leaf fill $dst_fill%, want >= 90%"
checks=$((checks + 1))
[ "$dst_fill" -gt "$src_fill" ] || fail "compacted fill $dst_fill% not above the source's $src_fill%"

# Sequences survive (the dump carries them; check one explicitly).
printf 'bolt-dump v1\nbucket 61 seq=42\nkey 61 6b 76\nbucket 61/62 seq=18446744073709551615\nend buckets=2 keys=1\n' >"$T/seq.dump"
expect_rc 0 "load seq" "$S" load "$T/seq.db" <"$T/seq.dump"
expect_rc 0 "compact seq" "$S" compact --no-sync -o "$T/seq2.db" "$T/seq.db"
expect_rc 0 "dump seq copy" "$S" dump "$T/seq2.db"
expect_out "^bucket 61 seq=42$" "sequence of a"
expect_out "^bucket 61/62 seq=18446744073709551615$" "sequence of a/b"

# Small transactions: several commits, same content.
expect_rc 0 "compact --tx-max-size" "$S" compact --tx-max-size 4096 -o "$T/small.db" "$db"
expect_out "in ([2-9]|[1-9][0-9]+) transactions" "tx-max-size makes several commits"
checks=$((checks + 1))
[ ! -s "$T/err" ] || fail "compact wrote progress to a stderr that is not a terminal"
"$S" dump "$T/small.db" >"$T/c.dump"
checks=$((checks + 1))
cmp -s "$T/a.dump" "$T/c.dump" || fail "--tx-max-size copy differs"
expect_rc 0 "check small-tx copy" "$S" check "$T/small.db"
fill_tx=$(fill "$T/small.db")
checks=$((checks + 1))
[ "$fill_tx" -ge 85 ] || fail "transactional copy leaf fill $fill_tx%, want >= 85%"
expect_rc 0 "compact --tx-max-size 0" "$S" compact --tx-max-size 0 -o "$T/zero.db" "$db"
expect_out "written bottom-up$" "--tx-max-size 0 is the bottom-up copy"

# Refusals: an existing destination is never touched; a damaged source
# leaves no destination behind.
echo keep >"$T/exists.db"
expect_rc 2 "compact onto an existing file" "$S" compact -o "$T/exists.db" "$db"
expect_eq "$(cat "$T/exists.db")" "keep" "existing destination untouched"
cp "$db" "$T/bad.db"
root=$(current_root "$db")
poke "$T/bad.db" $((root * 4096 + 8)) 2000
expect_rc 3 "compact a damaged source" "$S" compact -o "$T/bad2.db" "$T/bad.db"
expect_err "page $root" "compact names the damaged page"
checks=$((checks + 1))
[ ! -e "$T/bad2.db" ] || fail "a failed compact left its destination"
expect_rc 3 "compact a missing source" "$S" compact -o "$T/m2.db" "$T/missing.db"

finish
