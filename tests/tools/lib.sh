# lib.sh: shared helpers of the CLI test scripts (bash; sourced, not run).
# Each script gets the strata binary as $1 (and, for the bbolt ones, the
# boltcheck binary as $2) and works in a fresh temporary directory $T,
# removed on exit (kept when TOOLS_KEEP=1).

set -u
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
    echo "usage: $0 STRATA [BOLTCHECK]" >&2
    exit 2
fi
S=$1
shift
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-tools.XXXXXX")
if [ "${TOOLS_KEEP:-0}" = 1 ]; then
    echo "keeping $T"
else
    trap 'rm -rf "$T"' EXIT
fi
failures=0
checks=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_rc WANT DESCRIPTION CMD...: run CMD (stdout to $T/out, stderr to
# $T/err); fail unless it exits WANT.
expect_rc() {
    local want=$1 desc=$2 got
    shift 2
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$desc: exit $got, want $want"
        sed -n '1,10p' "$T/out" "$T/err"
        return 1
    fi
    return 0
}

# expect_out PATTERN DESCRIPTION: stdout of the last command matches (grep -E).
expect_out() {
    checks=$((checks + 1))
    if ! grep -Eq -- "$1" "$T/out"; then
        fail "$2: stdout lacks /$1/"
        sed -n '1,15p' "$T/out"
    fi
}

# expect_err PATTERN DESCRIPTION: stderr of the last command matches.
expect_err() {
    checks=$((checks + 1))
    if ! grep -Eq -- "$1" "$T/err"; then
        fail "$2: stderr lacks /$1/"
        sed -n '1,15p' "$T/err"
    fi
}

# expect_eq GOT WANT DESCRIPTION
expect_eq() {
    checks=$((checks + 1))
    if [ "$1" != "$2" ]; then
        fail "$3: got '$1', want '$2'"
    fi
}

# poke FILE OFFSET HEXBYTES: overwrite bytes in place ("ff00" writes 2 bytes).
poke() {
    local esc
    esc=$(echo "$3" | sed 's/../\\x&/g')
    printf "$esc" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# peek FILE OFFSET N: N bytes as lower-case hex.
peek() {
    od -An -tx1 -v -j "$2" -N "$3" "$1" | tr -d ' \n'
}

# u64le FILE OFFSET: a little-endian u64 in decimal (values < 2^53 are exact).
u64le() {
    local h i out=""
    h=$(peek "$1" "$2" 8)
    for i in 14 12 10 8 6 4 2 0; do out="$out${h:$i:2}"; done
    echo $((16#$out))
}

# info_field DB NAME COLUMN: a field of `strata info` (COLUMN 1 = meta 0, 2 = meta 1).
info_field() {
    "$S" info "$1" | awk -v n="$2" -v c="$3" '$1 == n { print $(c + 1) }'
}

# current_root DB: the root page of the current meta.
current_root() {
    local cur
    cur=$("$S" info "$1" | awk '$1 == "current" { print $3 }')
    info_field "$1" root $((cur + 1))
}

# jget EXPR [FILE]: a value of the JSON document in FILE ($T/out by default), by a
# python3 expression over it as d (e.g. 'd["metas"][0]["txid"]'); booleans
# print as true/false, null as null. Exit 1 when it is not JSON.
jget() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[2]))
v = eval(sys.argv[1])
print(json.dumps(v) if isinstance(v, (bool, type(None), dict, list)) else v)' "$1" "${2:-$T/out}"
}

# hold_writer_lock FILE: a process takes the writer's lock of FILE (flock
# LOCK_EX, as bolt_open for writing does) and holds it until
# release_writer_lock; a line written to fd 7 lets it go earlier (wait for
# it with release_writer_lock all the same).
hold_writer_lock() {
    rm -f "$T/hold.in" "$T/hold.out"
    mkfifo "$T/hold.in" "$T/hold.out"
    python3 -c 'import fcntl, sys
f = open(sys.argv[1], "rb")
fcntl.flock(f, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()' "$1" <"$T/hold.in" >"$T/hold.out" &
    holder=$!
    exec 7>"$T/hold.in" 8<"$T/hold.out"
    read -r line <&8
    expect_eq "$line" locked "a writer holds the lock of $1"
}
release_writer_lock() {
    exec 7>&- 8<&-
    wait "$holder" 2>/dev/null
}

finish() {
    echo "$checks checks, $failures failures"
    [ "$failures" -eq 0 ]
}
