#!/usr/bin/env bash
# test_surgery.sh: strata surgery on files strata wrote: each repair writes
# a new file (never the source), and the result is what the repair says.
. "$(dirname "$0")/lib.sh"

db=$T/s.db
expect_rc 0 "gen" "$S" gen --keys 300 --seed 3 "$db"
sum_before=$(cksum <"$db")
expect_rc 0 "surgery --help" "$S" surgery --help
expect_rc 2 "surgery without a subcommand" "$S" surgery
expect_rc 2 "surgery unknown" "$S" surgery frobnicate -o "$T/x.db" "$db"
expect_rc 2 "freelist without an action" "$S" surgery freelist -o "$T/x.db" "$db"
expect_rc 2 "a repair without -o" "$S" surgery revert-meta-page "$db"
expect_rc 3 "a repair of a missing file" "$S" surgery revert-meta-page -o "$T/x.db" "$T/missing.db"
checks=$((checks + 1))
[ ! -e "$T/x.db" ] || fail "a refused repair left its output"

# --- meta validate ---------------------------------------------------------
expect_rc 0 "meta validate" "$S" surgery meta validate "$db"
expect_out "^meta 0: ok \(txid [0-9]+" "meta 0 ok"
expect_out "^meta 1: ok \(txid [0-9]+" "meta 1 ok"
cp "$db" "$T/m1.db"
poke "$T/m1.db" 4168 0000000000000001
expect_rc 1 "meta validate, torn meta 1" "$S" surgery meta validate "$T/m1.db"
expect_out "^meta 1: checksum mismatch" "meta 1 reported"
cp "$db" "$T/r.db"
cur=$("$S" info "$db" | awk '$1 == "current" { print $3 }')
root=$(current_root "$db")
poke "$T/r.db" $((root * 4096 + 8)) 1000 # the current root becomes a "freelist" page
expect_rc 1 "meta validate, root page of the wrong type" "$S" surgery meta validate "$T/r.db"
expect_out "^meta $cur: root page $root is a freelist page" "bad root reported"

# --- revert-meta-page ------------------------------------------------------
roots=$("$S" info "$db" | awk '$1 == "root" { print $2, $3 }')
read -r r0 r1 <<<"$roots"
old_root=$([ "$cur" = 0 ] && echo "$r1" || echo "$r0")
"$S" dump "$db" >"$T/new.dump"
expect_rc 0 "revert-meta-page" "$S" surgery revert-meta-page -o "$T/rev.db" "$db"
expect_rc 0 "info of the reverted file" "$S" info "$T/rev.db"
expect_out "^  root +$old_root +$old_root$" "both metas hold the older root"
expect_out "^current    meta $cur$" "the current slot stays current (its txid is kept)"
expect_rc 0 "check the reverted file" "$S" check "$T/rev.db"
"$S" dump "$T/rev.db" >"$T/old.dump"
checks=$((checks + 1))
! cmp -s "$T/new.dump" "$T/old.dump" || fail "revert changed nothing visible (the last commit had changes)"
expect_rc 2 "revert onto an existing output" "$S" surgery revert-meta-page -o "$T/rev.db" "$db"
expect_rc 1 "revert with the older meta torn" "$S" surgery revert-meta-page -o "$T/rev2.db" "$T/m1.db"
expect_err "meta 1, the older one, is not valid|no valid" "revert refusal" || true

# --- freelist abandon / rebuild ---------------------------------------------
expect_rc 0 "freelist abandon" "$S" surgery freelist abandon -o "$T/ab.db" "$db"
expect_rc 0 "info abandoned" "$S" info "$T/ab.db"
expect_out "^  freelist +none +none$" "both metas have no freelist"
expect_rc 0 "check abandoned" "$S" check "$T/ab.db"
expect_rc 0 "freelist rebuild" "$S" surgery freelist rebuild -o "$T/rb.db" "$T/ab.db"
expect_out "^freelist rebuilt: [0-9]+ free pages stored in page [0-9]+" "rebuild says where"
expect_rc 0 "check rebuilt" "$S" check "$T/rb.db"
"$S" dump "$T/rb.db" >"$T/rb.dump"
checks=$((checks + 1))
cmp -s "$T/new.dump" "$T/rb.dump" || fail "rebuild changed the data"

# A stored freelist that lies (a free id that is in use): check fails, rebuild fixes it.
freel=$(info_field "$db" freelist $((cur + 1)))
cp "$db" "$T/lie.db"
poke "$T/lie.db" $((freel * 4096 + 10)) 0100 # count 1 ...
printf "%016x" "$root" | sed 's/../& /g' | awk '{ for (i = 8; i >= 1; i--) printf "%s", $i }' >"$T/rootle"
poke "$T/lie.db" $((freel * 4096 + 16)) "$(cat "$T/rootle")" # ... and it is the root page
expect_rc 1 "check a lying freelist" "$S" check "$T/lie.db"
expect_rc 0 "rebuild a lying freelist" "$S" surgery freelist rebuild -o "$T/lie2.db" "$T/lie.db"
expect_rc 0 "check after rebuild" "$S" check "$T/lie2.db"

# --- copy-page -------------------------------------------------------------
"$S" pages "$db" >"$T/pages"
leaf=$(awk 'NR > 2 && $2 == "leaf" && $3 > 2 && $5 == "" { print $1; exit }' "$T/pages")
free1=$(awk 'NR > 2 && $2 == "free" { print $1; exit }' "$T/pages")
expect_rc 0 "copy-page" "$S" surgery copy-page --from "$leaf" --to "$free1" -o "$T/cp.db" "$db"
expect_rc 0 "page the copy" "$S" page "$T/cp.db" "$free1"
sed -n '2,$p' "$T/out" >"$T/to.items"
"$S" page "$db" "$leaf" | sed -n '2,$p' >"$T/from.items"
checks=$((checks + 1))
cmp -s "$T/from.items" "$T/to.items" || fail "copied page decodes differently"
expect_out "^page $free1: leaf" "copied page's header id is its new position"
expect_rc 0 "a copy onto a free page changes no live data" "$S" check "$T/cp.db"
expect_rc 2 "copy-page onto a meta page" "$S" surgery copy-page --from "$leaf" --to 1 -o "$T/cp2.db" "$db"
expect_rc 2 "copy-page without --to" "$S" surgery copy-page --from "$leaf" -o "$T/cp2.db" "$db"

# --- clear-page-elements -----------------------------------------------------
n=$(awk -v id="$leaf" 'NR > 2 && $1 == id { print $3 }' "$T/pages")
expect_rc 0 "clear-page-elements" "$S" surgery clear-page-elements --from 1 --to 3 -o "$T/cl.db" "$db" "$leaf"
expect_out "removed elements \[1, 3\) of leaf page $leaf, $((n - 2)) left" "clear says what it did"
expect_rc 0 "page after clear" "$S" page "$T/cl.db" "$leaf"
expect_out "^page $leaf: leaf \(flags 0x02\), $((n - 2)) items" "count after clear"
k0=$("$S" page-item --key-only "$db" "$leaf" 0)
k3=$("$S" page-item --key-only "$db" "$leaf" 3)
expect_eq "$("$S" page-item --key-only "$T/cl.db" "$leaf" 0)" "$k0" "element 0 kept"
expect_eq "$("$S" page-item --key-only "$T/cl.db" "$leaf" 1)" "$k3" "element 3 moved to 1"
expect_rc 0 "check after clearing the middle" "$S" check "$T/cl.db"
expect_rc 0 "clear to the end" "$S" surgery clear-page-elements --from 2 -o "$T/cl2.db" "$db" "$leaf"
expect_out ", 2 left" "clear to the end"
expect_rc 2 "clear a bad range" "$S" surgery clear-page-elements --from 3 --to 2 -o "$T/cl3.db" "$db" "$leaf"
branch=$(awk 'NR > 2 && $2 == "branch" { print $1; exit }' "$T/pages")
if [ -n "$branch" ]; then
    expect_rc 1 "clear a whole branch" "$S" surgery clear-page-elements --from 0 -o "$T/cl4.db" "$db" "$branch"
    expect_err "empty" "branch refusal"
    expect_rc 0 "clear a branch element" "$S" surgery clear-page-elements --from 0 --to 1 -o "$T/cl5.db" "$db" "$branch"
    expect_out "reached from nowhere" "clearing a child warns about leaked pages"
    expect_rc 1 "check after clearing a branch element" "$S" check "$T/cl5.db"
    expect_out "unreachable unfreed" "check sees the leaked pages"
    expect_rc 0 "rebuild after clearing" "$S" surgery freelist rebuild -o "$T/cl6.db" "$T/cl5.db"
    expect_rc 0 "check after rebuild" "$S" check "$T/cl6.db"
fi
cp "$db" "$T/bad.db"
poke "$T/bad.db" $((leaf * 4096 + 8)) 2000
expect_rc 1 "clear a damaged page" "$S" surgery clear-page-elements --from 0 --to 1 -o "$T/cl7.db" "$T/bad.db" "$leaf"

expect_eq "$(cksum <"$db")" "$sum_before" "the source was never written"
finish
