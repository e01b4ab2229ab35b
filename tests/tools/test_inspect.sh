#!/usr/bin/env bash
# test_inspect.sh: strata info, pages, page, page-item and stats on files
# written by strata (gen, load), clean and damaged byte by byte.
. "$(dirname "$0")/lib.sh"

db=$T/s.db
expect_rc 0 "gen" "$S" gen --keys 300 --seed 3 "$db"

for cmd in info pages page page-item stats; do
    expect_rc 0 "$cmd --help" "$S" "$cmd" --help
    expect_out "usage: strata $cmd" "$cmd --help"
    expect_rc 2 "$cmd without arguments" "$S" "$cmd"
    case $cmd in
    page) extra="2" ;;
    page-item) extra="2 0" ;;
    *) extra="" ;;
    esac
    # shellcheck disable=SC2086
    expect_rc 3 "$cmd on a missing file" "$S" "$cmd" "$T/missing.db" $extra
done

# Every command listed by `strata --help` has its own --help (exit 0, to stdout).
for cmd in $("$S" --help | awk '/^commands:/ { on = 1; next } on && NF == 0 { on = 0 } on { print $1 }'); do
    expect_rc 0 "$cmd --help" "$S" "$cmd" --help
    expect_out "usage: strata $cmd" "$cmd --help text"
done

# --- info ---------------------------------------------------------------
expect_rc 0 "info" "$S" info "$db"
expect_out "^page size  4096$" "info page size"
expect_out "^  status +ok +ok$" "info status"
expect_out "^  magic +0xed0cdaed +0xed0cdaed$" "info magic"
pgid=$(info_field "$db" pgid 1)
root=$(current_root "$db")
expect_eq "$(u64le "$db" 56)" "$pgid" "info pgid is meta 0's bytes 56..63"

# --- pages: the runs cover [0, pgid) exactly ------------------------------
expect_rc 0 "pages" "$S" pages "$db"
expect_out "^0 +meta" "pages meta 0"
covered=$(awk 'NR > 2 { n += ($2 == "free") ? 1 : $4 + 1 } END { print n }' "$T/out")
expect_eq "$covered" "$pgid" "pages cover the high-water mark"
leaf=$(awk 'NR > 2 && $2 == "leaf" && $3 > 1 && $5 == "" { print $1; exit }' "$T/out")
freel=$(awk 'NR > 2 && $2 == "freelist" { print $1; exit }' "$T/out")
cur=$("$S" info "$db" | awk '$1 == "current" { print $3 }')
expect_eq "$freel" "$(info_field "$db" freelist $((cur + 1)))" "pages shows the current freelist page"
nfree=$(awk 'NR > 2 && $2 == "free"' "$T/out" | wc -l)

# --- page ---------------------------------------------------------------
expect_rc 0 "page 0 1 root" "$S" page "$db" 0 1 "$root"
expect_out "^page 0: meta" "page 0 is a meta page"
expect_out "^  pgid +$pgid$" "page 0's pgid"
expect_out "^page $root: (branch|leaf)" "root page type"
expect_rc 0 "page freelist" "$S" page "$db" "$freel"
expect_out "^  $nfree free ids$" "freelist page count matches pages' free lines"
expect_rc 0 "page --format hex" "$S" page --format hex "$db" 0
expect_out "^00000010  ed da 0c ed 02 00 00 00" "hexdump shows the magic at offset 16"
expect_rc 2 "page with a bad id" "$S" page "$db" x1
expect_rc 3 "page past the end" "$S" page "$db" 999999
expect_err "page 999999: page lies past the end of the file" "page past the end message"

# --- page-item agrees with page -----------------------------------------
expect_rc 0 "page leaf" "$S" page --key-format hex "$db" "$leaf"
k1=$(sed -n 's/^  \[1\] key=\([0-9a-f]*\).*/\1/p' "$T/out")
expect_rc 0 "page-item key" "$S" page-item --key-format hex --key-only "$db" "$leaf" 1
expect_eq "$(cat "$T/out")" "$k1" "page-item key = page's element 1"
expect_rc 0 "page-item" "$S" page-item "$db" "$leaf" 0
expect_out "^key: " "page-item key line"
expect_out "^(value|bucket): " "page-item value line"
expect_rc 1 "page-item past count" "$S" page-item "$db" "$leaf" 65535
expect_err "has [0-9]+ elements; no element 65535" "page-item past count message"
expect_rc 1 "page-item on a meta page" "$S" page-item "$db" 0 0
expect_rc 2 "page-item --key-only --value-only" "$S" page-item --key-only --value-only "$db" 2 0

# --- stats agree with the dump -------------------------------------------
"$S" dump "$db" >"$T/dump" || fail "dump"
read -r B K < <(sed -n 's/^end buckets=\([0-9]*\) keys=\([0-9]*\)$/\1 \2/p' "$T/dump")
# bbolt's stats: the top-level buckets added up, the root not counted.
ntop=$("$S" buckets "$db" | wc -l)
expect_rc 0 "stats" "$S" stats --json "$db"
expect_eq "$(jget 'd["keys"]')" "$((K + B - ntop))" "stats keys = dump keys + nested bucket elements"
expect_eq "$(jget 'd["buckets"]')" "$B" "stats buckets = dump buckets (root not counted)"
expect_eq "$(jget 'd["matched"]')" "$ntop" "stats adds up every top-level bucket"
expect_eq "$(jget 'd["extra"]["pages"]')" "$pgid" "stats extra pages = the high-water mark"
expect_rc 0 "stats text" "$S" stats "$db"
expect_out "^Aggregate statistics for $ntop buckets$" "stats text is bbolt's"
expect_out "^	Number of keys/value pairs: $((K + B - ntop))$" "stats text keys"
expect_out "^Extra \(strata" "stats extra figures are labelled"
bucket=$("$S" buckets "$db" | head -1)
expect_rc 0 "stats of a prefix" "$S" stats --json "$db" "$bucket"
expect_eq "$(jget 'd["matched"] >= 1 and d["buckets"] >= 1')" true "stats of a prefix"
expect_rc 0 "stats of a prefix nothing has" "$S" stats --json "$db" no-such-bucket
expect_eq "$(jget 'd["matched"]')" 0 "stats of a missing prefix matches nothing (bbolt: exit 0)"

# --- a file strata load wrote --------------------------------------------
printf 'bolt-dump v1\nbucket 61 seq=0\nkey 61 6b31 7631\nkey 61 6b32 -\nbucket 61/62 seq=7\nkey 61/62 6b 76\nend buckets=2 keys=3\n' >"$T/small.dump"
expect_rc 0 "load" "$S" load "$T/small.db" <"$T/small.dump"
expect_rc 0 "stats small" "$S" stats --json "$T/small.db"
expect_eq "$(jget 'd["keys"]')" 4 "stats small keys (a: k1 k2 b; b: k)"
# a holds a bucket, so it is paged; a/b is inline; depth = a + b (bbolt leaves the root out).
expect_eq "$(jget 'd["inline_buckets"]')" 1 "stats small inline"
expect_eq "$(jget 'd["depth"]')" 2 "stats small depth"
sroot=$(current_root "$T/small.db")
expect_rc 0 "page small root" "$S" page "$T/small.db" "$sroot"
expect_out "\[0\] key=a bucket root=[0-9]+ seq=0$" "page shows the paged bucket"
aroot=$(sed -n 's/.*key=a bucket root=\([0-9]*\).*/\1/p' "$T/out")
expect_rc 0 "page a's root" "$S" page "$T/small.db" "$aroot"
expect_out "\[0\] key=b bucket root=0 seq=7 \(inline, 1 keys\)" "page shows the inline bucket"

# --- damage --------------------------------------------------------------
cp "$db" "$T/m0.db"
poke "$T/m0.db" 72 0000000000000001 # meta 0's checksum
expect_rc 1 "info with a torn meta 0" "$S" info "$T/m0.db"
expect_out "^meta 0 \(page 0\): checksum mismatch" "info names the bad meta"
expect_out "^current    meta 1$" "info falls back to meta 1"
expect_rc 0 "pages with a torn meta 0" "$S" pages "$T/m0.db"
cp "$T/m0.db" "$T/m01.db"
poke "$T/m01.db" 4168 0000000000000001 # meta 1's checksum too
expect_rc 1 "info with both metas torn" "$S" info "$T/m01.db"
expect_rc 3 "pages with both metas torn" "$S" pages "$T/m01.db"
expect_rc 3 "stats with both metas torn" "$S" stats "$T/m01.db"

cp "$db" "$T/leaf.db"
poke "$T/leaf.db" $((leaf * 4096 + 8)) 2000 # page type 0x20
expect_rc 1 "page on a bad page type" "$S" page "$T/leaf.db" "$leaf"
expect_out "problem: unknown page type" "page reports the type"
expect_rc 0 "pages with a bad page type" "$S" pages "$T/leaf.db"
expect_out "^$leaf +unknown .*flags 0x0020" "pages marks the page"
expect_rc 3 "stats with a bad page" "$S" stats "$T/leaf.db"
expect_err "page $leaf" "stats names the page"

cp "$db" "$T/elem.db"
poke "$T/elem.db" $((leaf * 4096 + 16 + 4)) ffff0000 # element 0's pos
expect_rc 1 "page with an element out of bounds" "$S" page "$T/elem.db" "$leaf"
expect_out "\[0\] problem: element key/value runs past the end of the page" "page names the element"
expect_out "^  \[1\] key=" "page still decodes element 1"
expect_rc 1 "page-item on the bad element" "$S" page-item "$T/elem.db" "$leaf" 0
expect_rc 0 "page-item on a good element of a bad page" "$S" page-item "$T/elem.db" "$leaf" 1

cp "$db" "$T/ov.db"
poke "$T/ov.db" $((leaf * 4096 + 12)) ffffff7f # overflow far past the end
expect_rc 1 "page with a huge overflow" "$S" page "$T/ov.db" "$leaf"
expect_out "overflow runs past the end of the file; showing one page" "page explains"

head -c 10000 /dev/urandom >"$T/junk.db"
expect_rc 3 "info on junk" "$S" info "$T/junk.db"
expect_rc 3 "pages on junk" "$S" pages "$T/junk.db"
expect_rc 3 "page on junk" "$S" page "$T/junk.db" 2
expect_rc 3 "page-item on junk" "$S" page-item "$T/junk.db" 2 0
expect_rc 3 "stats on junk" "$S" stats "$T/junk.db"
: >"$T/empty.db"
expect_rc 3 "info on an empty file" "$S" info "$T/empty.db"

# --- a writer holds the lock ----------------------------------------------
flock -x "$db" -c "touch '$T/locked'; while [ ! -e '$T/release' ]; do sleep 0.05; done" &
holder=$!
while [ ! -e "$T/locked" ]; do sleep 0.05; done
# info and pages read with pread and take no lock (issue 20); stats maps the
# file and waits for the lock, then names its --live.
for cmd in info pages; do
    expect_rc 0 "$cmd on a locked file (no lock taken)" "$S" "$cmd" --timeout 100ms "$db"
done
expect_rc 3 "stats on a locked file" "$S" stats --timeout 100ms "$db"
expect_err "locked by a process that has it open for writing; read it anyway with 'strata stats --live'" "stats lock hint"
expect_rc 0 "stats --live on a locked file" "$S" stats --live "$db"
touch "$T/release"
wait "$holder"

finish
