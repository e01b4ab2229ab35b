# lib.sh: shared helpers of the interop test scripts (bash; sourced, not run).
# Each script gets the boltcheck binary as $1 and works in a fresh temporary
# directory $T that is removed on exit (kept when INTEROP_KEEP=1).

set -u
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 BOLTCHECK [args]" >&2
    exit 2
fi
BC=$1
shift
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-interop.XXXXXX")
if [ "${INTEROP_KEEP:-0}" = 1 ]; then
    echo "keeping $T"
else
    trap 'rm -rf "$T"' EXIT
fi
failures=0

# fail MSG: record a failure and go on (the script exits 1 at the end).
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_rc WANT DESCRIPTION CMD...: run CMD, fail unless it exits WANT.
# Its output goes to $T/last.out (stdout and stderr).
expect_rc() {
    local want=$1 desc=$2 got
    shift 2
    "$@" >"$T/last.out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$desc: exit $got, want $want"
        sed -n '1,15p' "$T/last.out"
        return 1
    fi
    return 0
}

# expect_out PATTERN DESCRIPTION: the last output must match PATTERN (grep -E).
expect_out() {
    if ! grep -Eq -- "$1" "$T/last.out"; then
        fail "$2: output lacks /$1/"
        sed -n '1,15p' "$T/last.out"
    fi
}

# corners DIR: the .db files gen wrote into DIR, one per line.
corners() {
    ls "$1" | grep '\.db$'
}

# page_size FILE: the page size boltcheck's info section reports.
page_size() {
    "$BC" inspect -sections info "$1" | sed -n 's/.*page_size=\([0-9]*\).*/\1/p'
}

# freelist_opt FILE: -nofreelistsync when FILE has no stored freelist.
freelist_opt() {
    if "$BC" inspect -sections info "$1" | grep -q 'freelist_encoding=none'; then
        echo -nofreelistsync
    fi
}

# finish: print the verdict and exit.
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s)"
        exit 1
    fi
    echo "all passed"
    exit 0
}
