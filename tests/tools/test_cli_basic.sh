#!/usr/bin/env bash
# test_cli_basic.sh STRATA: the contracts of gen, dump, load, check,
# buckets, keys and get on files strata writes: round trips, exit codes
# (0 ok, 1 finding, 2 usage, 3 cannot open), lock handling, bad dumps, and
# damaged files (an error, never a crash).
set -u
strata=$(realpath "$1")
[ -x "$strata" ] || { echo "usage: $0 STRATA (an executable)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-cli-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fails=0
expect() { # expected-exit description command...
    local want=$1 what=$2
    shift 2
    "$@" >out 2>err
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want"
        sed 's/^/  | /' err | head -5
        fails=$((fails + 1))
    fi
}

expect 0 "gen" "$strata" gen --seed 3 --keys 4000 a.db
expect 0 "check a fresh file" "$strata" check a.db
grep -qx OK out || { echo "FAIL: check did not print OK"; fails=$((fails + 1)); }
expect 2 "gen refuses to overwrite" "$strata" gen a.db

# The dump round trip: load(dump --max-hex 0 X) holds X's content.
"$strata" dump --max-hex 0 a.db >a.dump
expect 0 "load" "$strata" load b.db <a.dump
"$strata" dump --max-hex 0 b.db | cmp -s - a.dump || {
    echo "FAIL: dump of the loaded copy differs"
    fails=$((fails + 1))
}
expect 0 "check the loaded copy" "$strata" check b.db
expect 2 "load refuses an existing file" "$strata" load b.db <a.dump

# Reading commands and their findings.
expect 0 "buckets" "$strata" buckets a.db
[ "$(tr '\n' ' ' <out)" = "accounts blobs config events tenants " ] || {
    echo "FAIL: buckets printed: $(cat out)"
    fails=$((fails + 1))
}
expect 0 "keys of a nested bucket" "$strata" keys a.db config
grep -q "limits	(bucket)" out || { echo "FAIL: keys does not flag buckets"; fails=$((fails + 1)); }
expect 0 "get" "$strata" get a.db config limits max-conn
[ "$(cat out)" = "1024" ] || { echo "FAIL: get printed $(cat out)"; fails=$((fails + 1)); }
expect 0 "get with hex names" "$strata" get --bucket-format hex --key-format hex a.db 636f6e666967 7265706c69636173
expect 0 "get with 0x names" "$strata" get a.db 0x636f6e666967 0x7265706c69636173
expect 1 "get of a missing key" "$strata" get a.db config nope
expect 1 "keys of a missing bucket" "$strata" keys a.db nope
expect 2 "bad hex" "$strata" get --key-format hex a.db zz k
expect 2 "unknown option" "$strata" check --bogus a.db
expect 2 "missing argument" "$strata" dump
expect 2 "unknown command" "$strata" frobnicate
expect 3 "missing file" "$strata" check missing.db
head -c 8192 /dev/urandom >junk.db
expect 3 "not a bolt file" "$strata" dump junk.db

# A writer's exclusive lock: read-only opens time out with exit 3 and a hint.
if command -v flock >/dev/null 2>&1; then
    flock -x a.db sleep 5 &
    holder=$!
    sleep 0.2
    expect 3 "file locked by a writer" "$strata" check --timeout 100ms a.db
    grep -q "locked" err || { echo "FAIL: no lock hint"; fails=$((fails + 1)); }
    expect 0 "check --live reads a file a writer holds" "$strata" check --live a.db
    grep -qx OK out || { echo "FAIL: check --live did not print OK"; fails=$((fails + 1)); }
    kill "$holder" 2>/dev/null
    wait "$holder" 2>/dev/null
fi

# Bad dumps stop with the line number and create nothing.
printf 'bolt-dump v1\nbucket 61 seq=0\nkey 61 6b sha256:5:%064d\nend buckets=1 keys=1\n' 0 >hashed.dump
expect 1 "load rejects sha256 fields" "$strata" load c.db <hashed.dump
grep -q "line 3" err || { echo "FAIL: no line number for sha256"; fails=$((fails + 1)); }
[ ! -e c.db ] || { echo "FAIL: a failed load left c.db"; fails=$((fails + 1)); }
head -n 50 a.dump >truncated.dump
expect 1 "load rejects a truncated dump" "$strata" load c.db <truncated.dump
printf 'bolt-dump v1\nkey 61 6b 76\nend buckets=0 keys=1\n' >orphan.dump
expect 1 "load rejects a key in a missing bucket" "$strata" load c.db <orphan.dump
printf 'bolt-dump v1\nbucket 61 seq=0\nend buckets=2 keys=0\n' >totals.dump
expect 1 "load checks the end totals" "$strata" load c.db <totals.dump
ls c.db* >/dev/null 2>&1 && { echo "FAIL: failed loads left files"; fails=$((fails + 1)); }

# Damaged copies: every command answers with an error or a finding, never
# a crash (exit >= 128) or an internal error.
size=$(stat -c %s a.db)
for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
    cp a.db d.db
    # overwrite 64 bytes at a seeded offset inside the used pages
    off=$(( (seed * 2654435761) % (size / 2) + 8192 ))
    head -c 64 /dev/zero | tr '\0' '\377' | dd of=d.db bs=1 seek="$off" conv=notrunc 2>/dev/null
    for cmd in check dump "keys d.db accounts" "buckets"; do
        set -- $cmd
        c=$1
        shift
        [ $# -eq 0 ] && set -- d.db
        "$strata" "$c" "$@" >/dev/null 2>&1
        rc=$?
        if [ "$rc" -ge 4 ]; then
            echo "FAIL: $c on a damaged file (seed $seed, offset $off): exit $rc"
            fails=$((fails + 1))
        fi
    done
done

echo "test_cli_basic: $fails failures"
[ "$fails" -eq 0 ]
