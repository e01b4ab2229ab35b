#!/bin/bash
# test_script_db.sh STRATA SCRIPT_GEN MVCCORACLE: `strata script --db FILE`
# on db files the real etcd wrote, and etcd on files strata wrote (issue 13:
# "with --db FILE, FILE is opened as it is"; docs/design.md: etcd data both ways).
#
# Each seeded script (script_gen) is cut in two halves at a line outside
# any txn. The first half runs through etcd's mvccoracle (-dir, -keep) and
# through `strata script --db`; each side's output must be the same. Then
# the second half runs four times:
#   etcd on etcd's file (the reference), strata on a copy of etcd's file,
#   strata on strata's file, and etcd on a copy of strata's file;
# all four outputs must be identical: the restore of either side's file
# (index, revisions, compaction marks) gives the same store.
#
# Knobs: SCRIPT_DB_SCRIPTS (6), SCRIPT_DB_OPS (800), SCRIPT_DB_SEED
# (default STRATA_TEST_SEED or 1000).
set -u
if [ $# -ne 3 ] || [ ! -x "$1" ] || [ ! -x "$2" ] || [ ! -x "$3" ]; then
    echo "usage: $0 STRATA SCRIPT_GEN MVCCORACLE" >&2
    exit 2
fi
strata=$1 gen=$2 oracle=$3
n=${SCRIPT_DB_SCRIPTS:-6}
ops=${SCRIPT_DB_OPS:-800}
base=${SCRIPT_DB_SEED:-${STRATA_TEST_SEED:-1000}}
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-script-db.XXXXXX")
trap 'rm -rf "$T"' EXIT
failures=0

# same WHAT A B: fail unless files A and B are identical.
same() {
    if ! cmp -s "$2" "$3"; then
        failures=$((failures + 1))
        echo "FAIL: seed $seed: $1 (first difference below: the first file, then the second)"
        diff "$2" "$3" | sed -n '1,6p' | cut -c1-300
        return 1
    fi
    return 0
}

# run WHAT CMD...: run CMD; fail unless it exits 0.
run() {
    local what=$1
    shift
    if ! "$@" 2>"$T/err"; then
        failures=$((failures + 1))
        echo "FAIL: seed $seed: $what exited non-zero: $(head -c 300 "$T/err")"
        return 1
    fi
}

for ((i = 0; i < n; i++)); do
    seed=$((base + i))
    profile=default
    [ $((i % 2)) -eq 1 ] && profile=corner
    d="$T/$i"
    mkdir -p "$d/etcd" "$d/etcd2" "$d/strata2"
    "$gen" --seed "$seed" --ops "$ops" --profile "$profile" >"$d/s.txt"
    # the first line at or after the middle that is outside a txn starts the second half
    cut=$(awk -v half=$((ops / 2)) '
        { tok = $1 }
        NR >= half && depth == 0 { print NR; exit }
        tok == "txn" { depth = 1 } tok == "end" { depth = 0 }' "$d/s.txt")
    head -n $((cut - 1)) "$d/s.txt" >"$d/a.txt"
    tail -n +"$cut" "$d/s.txt" >"$d/b.txt"

    run "etcd, first half" "$oracle" -dir "$d/etcd" -keep <"$d/a.txt" >"$d/a.etcd" || continue
    run "strata, first half" "$strata" script --db "$d/strata.db" <"$d/a.txt" >"$d/a.strata" || continue
    same "first half: strata script --db differs from etcd" "$d/a.etcd" "$d/a.strata" || continue
    cp "$d/etcd/db" "$d/etcd.db"
    cp "$d/strata.db" "$d/strata2/db"

    run "etcd on its file" "$oracle" -dir "$d/etcd" -keep <"$d/b.txt" >"$d/b.etcd" || continue
    run "strata on etcd's file" "$strata" script --db "$d/etcd.db" <"$d/b.txt" >"$d/b.strata_on_etcd" || continue
    run "strata on its file" "$strata" script --db "$d/strata.db" <"$d/b.txt" >"$d/b.strata" || continue
    run "etcd on strata's file" "$oracle" -dir "$d/strata2" -keep <"$d/b.txt" >"$d/b.etcd_on_strata" || continue
    same "second half: strata on etcd's file" "$d/b.etcd" "$d/b.strata_on_etcd"
    same "second half: strata on its own file" "$d/b.etcd" "$d/b.strata"
    same "second half: etcd on strata's file" "$d/b.etcd" "$d/b.etcd_on_strata"
    echo "seed $seed ($profile): cut at line $cut, $(wc -l <"$d/b.etcd") output lines of the second half"
done
echo "figure: script db: $n scripts of $ops lines cut in two, both halves on both sides' files, $failures failure(s)"
[ "$failures" -eq 0 ] || exit 1
echo "ok"
