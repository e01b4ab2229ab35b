#!/bin/bash
# test_script_examples.sh STRATA EXAMPLES: every example script of the
# shared etcd peer (SHARED/peers/etcd/examples/*.txt, each with the output
# the real etcd 3.4.23 mvcc printed for it in *.out) run through
# `strata script`: the output must be the .out file, byte for byte, and
# the exit status 0.
#
# An example that uses the lessor's ops (a line starting with `lease`) or
# the watchers' (`watch`, `cancel`) runs only when this build's runner has
# them (`strata script --list-ops`); the others are listed as not run yet.
# The kv examples (no such op) always run, and there must be at least one.
set -u
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -d "$2" ]; then
    echo "usage: $0 STRATA EXAMPLES_DIR" >&2
    exit 2
fi
strata=$1 dir=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-script-examples.XXXXXX")
trap 'rm -rf "$T"' EXIT
ops=$("$strata" script --list-ops) || {
    echo "FAIL: strata script --list-ops"
    exit 1
}
have() { printf '%s\n' "$ops" | grep -qx "$1"; }

failures=0 ran=0 kv=0
skipped=()
for txt in "$dir"/*.txt; do
    name=$(basename "$txt" .txt)
    want="$dir/$name.out"
    [ -f "$want" ] || continue
    needs=()
    grep -Eq '^[[:space:]]*lease([[:space:]]|$)' "$txt" && needs+=(lease)
    grep -Eq '^[[:space:]]*(watch|cancel)([[:space:]]|$)' "$txt" && needs+=(watch)
    missing=()
    for op in "${needs[@]}"; do
        have "$op" || missing+=("$op")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        skipped+=("$name (needs ${missing[*]})")
        continue
    fi
    [ ${#needs[@]} -eq 0 ] && kv=$((kv + 1))
    ran=$((ran + 1))
    "$strata" script <"$txt" >"$T/$name.out" 2>"$T/$name.err"
    rc=$?
    if [ "$rc" -ne 0 ] || ! cmp -s "$want" "$T/$name.out"; then
        failures=$((failures + 1))
        echo "FAIL: example $name: exit $rc; first difference (etcd's .out, then strata):"
        diff "$want" "$T/$name.out" | sed -n '1,6p' | cut -c1-300
        sed -n '1,3p' "$T/$name.err" | sed 's/^/  stderr: /'
    else
        echo "ok: $name ($(wc -l <"$want") lines)"
    fi
done
for s in "${skipped[@]}"; do
    echo "not run yet: $s"
done
echo "figure: script examples: $ran run ($kv kv-only), $failures different, ${#skipped[@]} waiting for lease/watch ops"
if [ "$kv" -eq 0 ]; then
    echo "FAIL: no kv example found in $dir"
    exit 1
fi
[ "$failures" -eq 0 ] || exit 1
echo "ok"
