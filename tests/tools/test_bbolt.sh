#!/usr/bin/env bash
# test_bbolt.sh STRATA BOLTCHECK: the inspection and repair commands on
# files the real bbolt 1.3.6 wrote (boltcheck gen: every layout corner),
# clean and damaged (boltcheck corrupt), with bbolt judging the results:
# stats equal bbolt's Bucket.Stats, and what compact, salvage and surgery
# write passes bbolt's Tx.Check and strict walk with the same dump.
. "$(dirname "$0")/lib.sh"
BC=${1:?usage: test_bbolt.sh STRATA BOLTCHECK}
[ -x "$BC" ] || { echo "no boltcheck at $BC" >&2; exit 2; }

G=$T/gen
"$BC" gen -out "$G" >"$T/gen.log" 2>&1 || { cat "$T/gen.log"; exit 1; }

# bbolt_ok FILE DESC: bbolt opens FILE and finds nothing wrong.
bbolt_ok() {
    checks=$((checks + 1))
    if ! "$BC" inspect -sections check,strict "$1" >"$T/bc.out" 2>&1; then
        fail "$2: bbolt rejects $1"
        sed -n '1,6p' "$T/bc.out"
    fi
}

# same_dump A B DESC: bbolt dumps A and B identically.
same_dump() {
    checks=$((checks + 1))
    "$BC" dump -maxhex 0 "$1" >"$T/a.dump" 2>&1
    "$BC" dump -maxhex 0 "$2" >"$T/b.dump" 2>&1
    cmp -s "$T/a.dump" "$T/b.dump" || fail "$3: dumps of $1 and $2 differ"
}

for f in $(ls "$G" | grep '\.db$'); do
    db=$G/$f
    # buckets, keys and get answer as bbolt's own canonical dump says.
    "$BC" dump -maxhex 0 "$db" >"$T/bb.dump" 2>&1
    awk '$1 == "bucket" && $2 !~ /\// { print $2 }' "$T/bb.dump" >"$T/want.buckets"
    checks=$((checks + 1))
    "$S" buckets --bucket-format hex "$db" >"$T/got.buckets" 2>"$T/err" &&
        cmp -s "$T/want.buckets" "$T/got.buckets" || fail "buckets of $f differ from bbolt's dump"
    # The bucket of the first plain key in a bucket, and that key.
    first=$(awk '$1 == "key" && $2 != "-" && $3 !~ /^sha256/ && $4 !~ /^sha256/ { print; exit }' "$T/bb.dump")
    if [ -n "$first" ]; then
        set -- $first
        path=$2 key=$3 val=$4
        [ "$val" = "-" ] && val=
        awk -v p="$path" '$1 == "key" && $2 == p { print $3 }
            $1 == "bucket" && index($2, p "/") == 1 && substr($2, length(p) + 2) !~ /\// {
                print substr($2, length(p) + 2) "\t(bucket)" }' "$T/bb.dump" |
            sed 's/^-$//' >"$T/want.keys"
        checks=$((checks + 1))
        "$S" keys --bucket-format hex --key-format hex "$db" $(echo "$path" | tr / ' ') >"$T/got.keys" 2>"$T/err" &&
            cmp -s "$T/want.keys" "$T/got.keys" || fail "keys of $path in $f differ from bbolt's dump"
        checks=$((checks + 1))
        got=$("$S" get --bucket-format hex --key-format hex --value-format hex "$db" $(echo "$path" | tr / ' ') "$key" 2>"$T/err")
        [ "$got" = "$val" ] || fail "get $path $key in $f: '$got', bbolt's dump has '$val'"
    fi
    want_info=0
    [ "$f" = torn_meta.db ] && want_info=1
    expect_rc $want_info "info $f" "$S" info "$db"
    expect_rc $want_info "meta validate $f" "$S" surgery meta validate "$db"

    # pages: the runs cover the high-water mark; the free count is bbolt's.
    expect_rc 0 "pages $f" "$S" pages "$db"
    "$BC" inspect -sections info "$db" >"$T/info" 2>&1
    pgid=$(sed -n 's/.* pgid=\([0-9]*\).*/\1/p' "$T/info" | head -1)
    covered=$(awk 'NR > 2 { n += ($2 == "free") ? 1 : $4 + 1 } END { print n }' "$T/out")
    expect_eq "$covered" "$pgid" "pages of $f cover pgid"
    nfree=$(awk 'NR > 2 && $2 == "free"' "$T/out" | wc -l)
    expect_eq "$nfree" "$(sed -n 's/.* free=\([0-9]*\).*/\1/p' "$T/info" | head -1)" "free pages of $f"
    ids=$(awk 'NR > 2 && $2 != "free" { print $1 }' "$T/out" | head -200 | tr '\n' ' ')
    # shellcheck disable=SC2086
    expect_rc $want_info "page on every page of $f" "$S" page "$db" $ids

    # stats: bbolt's CLI figures ('bbolt stats PATH [PREFIX]': top-level
    # buckets added up, the root not counted), as boltcheck clistats computes
    # them with bbolt's Bucket.Stats; the extra free-page count is bbolt's too.
    first_bucket=$(head -1 "$T/want.buckets")
    prefixes=""
    case $f in many_keys.db | inline_nested.db | root_keys.db) prefixes="${first_bucket:0:2}" ;; esac
    for prefix in "" $prefixes; do
        "$BC" clistats -prefix "$prefix" "$db" >"$T/clistats" 2>&1 || fail "boltcheck clistats $f"
        expect_rc 0 "stats $f '$prefix'" "$S" stats --json --bucket-format hex "$db" ${prefix:+"$prefix"}
        checks=$((checks + 1))
        diffs=$(python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
theirs = dict(l.strip().split("=", 1) for l in open(sys.argv[2]) if "=" in l)
for k, v in sorted(theirs.items()):
    if str(d.get(k)) != v:
        print("%s: strata %s, bbolt %s" % (k, d.get(k), v))' "$T/out" "$T/clistats" 2>&1)
        [ -z "$diffs" ] || fail "stats $f prefix '$prefix' differs from bbolt's CLI: $diffs"
    done
    expect_eq "$(jget 'd["extra"]["pages"]')" "$pgid" "stats $f extra pages"
    expect_eq "$(jget 'd["extra"]["free_pages"]')" "$nfree" "stats $f extra free pages"

    # compact and salvage: bbolt accepts the copy and reads the same data.
    expect_rc 0 "compact $f" "$S" compact -o "$T/c-$f" "$db"
    bbolt_ok "$T/c-$f" "compact $f"
    same_dump "$db" "$T/c-$f" "compact $f"
    expect_rc 0 "compact --tx-max-size $f" "$S" compact --tx-max-size 65536 -o "$T/ct-$f" "$db"
    bbolt_ok "$T/ct-$f" "compact --tx-max-size $f"
    same_dump "$db" "$T/ct-$f" "compact --tx-max-size $f"
    expect_rc 0 "salvage $f" "$S" salvage --orphans -o "$T/s-$f" "$db"
    expect_out "0 subtrees skipped, 0 orphan leaves" "salvage of clean $f"
    bbolt_ok "$T/s-$f" "salvage $f"
    same_dump "$db" "$T/s-$f" "salvage $f"

    # surgery: the freelist round trip and the revert leave files bbolt accepts.
    expect_rc 0 "freelist abandon $f" "$S" surgery freelist abandon -o "$T/fa-$f" "$db"
    bbolt_ok "$T/fa-$f" "freelist abandon $f"
    expect_rc 0 "freelist rebuild $f" "$S" surgery freelist rebuild -o "$T/fr-$f" "$T/fa-$f"
    bbolt_ok "$T/fr-$f" "freelist rebuild $f"
    same_dump "$db" "$T/fr-$f" "freelist rebuild $f"
    if [ "$f" != empty.db ] && [ "$f" != torn_meta.db ]; then
        expect_rc 0 "revert-meta-page $f" "$S" surgery revert-meta-page -o "$T/rv-$f" "$db"
        bbolt_ok "$T/rv-$f" "revert-meta-page $f"
    fi
    rm -f "$T"/*-"$f"
done

# Damaged bbolt files: no command crashes or hangs; every exit code is one
# of the documented ones; salvage always leaves a file bbolt accepts.
for f in deep_tree.db many_keys.db deep_nesting.db inline_nested.db nofreelistsync.db; do
    for kind in key-order separator elem-pos freelist-id header-id page-type cycle truncate \
        freelist-dup inline-id meta-both random; do
        cp "$G/$f" "$T/d.db"
        "$BC" corrupt -kind "$kind" -seed 3 "$T/d.db" >/dev/null 2>&1 || continue
        for cmd in info pages stats check "surgery meta validate"; do
            # shellcheck disable=SC2086
            "$S" $cmd "$T/d.db" >"$T/out" 2>"$T/err"
            rc=$?
            checks=$((checks + 1))
            [ $rc -le 3 ] || { fail "$cmd on $f/$kind exited $rc"; head -3 "$T/err"; }
        done
        rm -f "$T/d2.db"
        "$S" salvage --orphans -o "$T/d2.db" "$T/d.db" >"$T/out" 2>"$T/err"
        rc=$?
        checks=$((checks + 1))
        case $rc in
        0 | 1) bbolt_ok "$T/d2.db" "salvage of $f/$kind" ;;
        3) [ "$kind" = meta-both ] || fail "salvage of $f/$kind: cannot open ($(head -1 "$T/err"))" ;;
        *) fail "salvage of $f/$kind exited $rc"; head -3 "$T/err" ;;
        esac
        if [ "$kind" != meta-both ] && [ "$kind" != key-order ] && [ "$kind" != separator ] &&
            [ "$kind" != freelist-id ] && [ "$kind" != freelist-dup ] && [ $rc -eq 0 ] &&
            [ "$kind" != truncate ] && [ "$kind" != random ]; then
            fail "salvage of $f/$kind reported nothing skipped"
        fi
    done
done

finish
