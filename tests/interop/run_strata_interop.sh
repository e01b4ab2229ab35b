#!/usr/bin/env bash
# run_strata_interop.sh: strata <-> real bbolt interoperability (issue 4).
#
#   run_strata_interop.sh [--big | --only a.db,b.db] [--flows LIST] [--rounds N]
#                         STRATA BOLTCHECK
#
# STRATA is the `strata` CLI, BOLTCHECK the Go tool built by build.sh. The
# strata commands used (exit codes as in tools/strata/cli.h: 0 ok,
# 1 finding, 2 usage, 3 cannot open, 4 internal):
#   strata check DB                   0 clean, 1 problems
#   strata dump [--max-hex N] DB      bolt-dump v1 on stdout
#   strata load DB < DUMP             creates DB from a dump
#
# Flows (--flows, default all: bbolt,strata,mixed,damage):
#   bbolt   bbolt -> strata. boltcheck gen writes the corner files with the
#           real bbolt; for each: strata check is clean, strata's dump equals
#           bbolt's byte for byte (default max-hex and max-hex 0), and the
#           file is not modified by strata's reads.
#   strata  strata -> bbolt. strata loads bbolt's dump of each corner file
#           (same logical content, strata's layout); bbolt's Tx.Check and the
#           strict walk are clean, bbolt's dump equals strata's and the
#           original's; then bbolt commits a transaction touching every
#           bucket (boltcheck mutate: puts, deletes, nested bucket create and
#           delete, sequences) and both checks pass again, and the result
#           equals the same mutation applied to bbolt's own original file.
#   mixed   Mixed histories, --rounds rounds (default 4) per corner file:
#           bbolt commits a mutation (freelist stored on odd rounds, not
#           stored -- NoFreelistSync -- on even rounds), then strata takes
#           its turn by rewriting the file from its own dump (strata dump |
#           strata load); after each half-round both checks run and the
#           content must equal a reference history kept by bbolt alone.
#           With STRATA_MUTATE set (tests/interop/strata_mutate), strata
#           instead applies the same seeded mutation in place.
#   damage  strata check on damaged copies (boltcheck corrupt) must report
#           (exit 1, or 3 for files it cannot open) and must not crash.
#
# --big adds the page-size-512 file with more than 0xFFFF free ids (~35 MB);
# --only runs on the named corner files alone (boltcheck gen -list names
# them; the damage flow then uses those of its files that are present).
# STRATA_LOAD_PAGESIZE_OPT: if strata load can choose the page size, set
# this to its option (e.g. "--page-size"); the strata flow then writes each
# corner at the original's page size (512, 4096, 16384) instead of strata's
# default. STRATA_LOAD_NOFREELIST_OPT likewise names strata load's option
# for writing without a stored freelist (NoFreelistSync); it is then passed
# for the corners that have none.
# Prints one line per failure and a summary; exit 0 when all passed, 1 when
# something failed, 2 on bad usage.
set -u

usage() {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0" >&2
    exit 2
}

big=0 only=
flows=bbolt,strata,mixed,damage
rounds=4
while [ $# -gt 0 ]; do
    case $1 in
    --big) big=1 ;;
    --only) only=$2; shift ;;
    --flows) flows=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    -h | --help) usage ;;
    --*) echo "unknown option $1" >&2; usage ;;
    *) break ;;
    esac
    shift
done
[ $# -eq 2 ] || usage
STRATA=$1 BC=$2
for p in "$STRATA" "$BC"; do
    [ -x "$p" ] || { echo "not executable: $p" >&2; exit 2; }
done
case $rounds in '' | *[!0-9]*) usage ;; esac

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-interop.XXXXXX")
if [ "${INTEROP_KEEP:-0}" = 1 ]; then echo "keeping $T"; else trap 'rm -rf "$T"' EXIT; fi
failures=0 checks=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# run WANT DESC CMD...: run CMD (output in $T/out), fail unless it exits WANT.
run() {
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

# same A B DESC: the two dump files must be byte-identical.
same() {
    checks=$((checks + 1))
    if ! "$BC" compare "$1" "$2" >"$T/cmp"; then
        fail "$3"
        cat "$T/cmp"
        return 1
    fi
    return 0
}

# both_check DB DESC: strata check, bbolt Tx.Check and the strict walk clean.
both_check() {
    run 0 "$2: strata check" "$STRATA" check "$1"
    run 0 "$2: bbolt check+strict" "$BC" inspect -sections check,strict "$1"
}

# both_dumps DB OUT DESC: strata's and bbolt's dumps (max-hex 0) must match;
# the dump is left in OUT.
both_dumps() {
    rm -f "$2" "$2.strata"
    run 0 "$3: strata dump" "$STRATA" dump --max-hex 0 "$1" && cp "$T/out" "$2.strata"
    run 0 "$3: bbolt dump" "$BC" dump -maxhex 0 "$1" && cp "$T/out" "$2"
    [ -f "$2" ] && [ -f "$2.strata" ] && same "$2" "$2.strata" "$3: strata's dump differs from bbolt's"
}

# freelist_opt DB: -nofreelistsync when DB has no stored freelist.
freelist_opt() {
    "$BC" inspect -sections info "$1" | grep -q 'freelist_encoding=none' && echo -nofreelistsync
}

# strata_turn DB SEED MODE REF: strata's turn. With STRATA_MUTATE (the
# strata_mutate program) strata modifies DB in place with the mutation
# `boltcheck mutate -seed SEED` defines, and bbolt applies the same mutation
# to the reference copy REF; without it, strata rewrites DB with the same
# content (dump + load).
strata_turn() {
    local db=$1 seed=$2 mode=$3 ref=$4
    if [ -n "${STRATA_MUTATE:-}" ]; then
        run 0 "strata turn: mutate in place (seed $seed, $mode)" \
            "$STRATA_MUTATE" -seed "$seed" -freelist "$mode" "$db" || return 1
        "$BC" mutate -seed "$seed" -freelist "$mode" "$ref" || fail "reference mutate (seed $seed)"
        "$BC" dump -maxhex 0 "$ref" >"$T/ref.dump"
        return 0
    fi
    run 0 "strata turn: dump" "$STRATA" dump --max-hex 0 "$db" || return 1
    cp "$T/out" "$T/turn.dump"
    rm -f "$db.new"
    run 0 "strata turn: load" "$STRATA" load "$db.new" <"$T/turn.dump" || return 1
    mv "$db.new" "$db"
}

echo "== generating the corner files with bbolt"
gen_args=()
[ $big = 1 ] && gen_args=(-big)
[ -n "$only" ] && gen_args=(-only "$only")
if ! "$BC" gen -out "$T/gen" "${gen_args[@]}" >"$T/gen.log" 2>&1; then
    cat "$T/gen.log"
    echo "boltcheck gen failed"
    exit 1
fi
files=$(ls "$T/gen" | grep '\.db$')
echo "$(echo "$files" | wc -l) files: $(echo $files)"

has_flow() { case ",$flows," in *",$1,"*) return 0 ;; esac; return 1; }

if has_flow bbolt; then
    echo "== bbolt -> strata"
    for f in $files; do
        db="$T/gen/$f"
        sum=$(sha256sum <"$db")
        run 0 "$f: strata check" "$STRATA" check "$db"
        run 0 "$f: bbolt dump" "$BC" dump "$db" && cp "$T/out" "$T/$f.b.dump"
        run 0 "$f: strata dump" "$STRATA" dump "$db" && cp "$T/out" "$T/$f.s.dump" &&
            same "$T/$f.b.dump" "$T/$f.s.dump" "$f: strata dump differs from bbolt's (default max-hex)"
        both_dumps "$db" "$T/$f.b0.dump" "$f"
        [ "$(sha256sum <"$db")" = "$sum" ] || fail "$f: strata's read-only commands changed the file"
    done
fi

if has_flow strata; then
    echo "== strata -> bbolt"
    for f in $files; do
        orig="$T/gen/$f"
        ps=$("$BC" inspect -sections info "$orig" | sed -n 's/.*page_size=\([0-9]*\).*/\1/p')
        "$BC" dump -maxhex 0 "$orig" >"$T/$f.orig.dump"
        sdb="$T/strata-$f"
        rm -f "$sdb"
        psopt=() nfsopt=()
        [ -n "${STRATA_LOAD_PAGESIZE_OPT:-}" ] && psopt=("$STRATA_LOAD_PAGESIZE_OPT" "$ps")
        [ -n "${STRATA_LOAD_NOFREELIST_OPT:-}" ] && [ -n "$(freelist_opt "$orig")" ] &&
            nfsopt=("$STRATA_LOAD_NOFREELIST_OPT")
        run 0 "$f: strata load" "$STRATA" load "${psopt[@]}" "${nfsopt[@]}" "$sdb" <"$T/$f.orig.dump" || continue
        if [ ${#psopt[@]} -gt 0 ] && ! "$BC" inspect -sections info "$sdb" | grep -q "page_size=$ps\$"; then
            fail "$f: strata load did not use page size $ps"
        fi
        if [ ${#nfsopt[@]} -gt 0 ] && [ -z "$(freelist_opt "$sdb")" ]; then
            fail "$f: strata load stored a freelist despite ${nfsopt[0]}"
        fi
        both_check "$sdb" "$f (strata-written)"
        both_dumps "$sdb" "$T/$f.sw.dump" "$f (strata-written)"
        same "$T/$f.orig.dump" "$T/$f.sw.dump" "$f: strata's file does not hold the original content"
        # bbolt commits on strata's file; the same mutation on bbolt's own copy.
        run 0 "$f: bbolt mutate strata's file" "$BC" mutate -seed 11 "$sdb" || continue
        both_check "$sdb" "$f (strata-written, bbolt-mutated)"
        both_dumps "$sdb" "$T/$f.swm.dump" "$f (strata-written, bbolt-mutated)"
        ref="$T/ref-$f"
        rm -f "$ref"
        "$BC" load -pagesize "$ps" $(freelist_opt "$orig") "$ref" <"$T/$f.orig.dump" &&
            "$BC" mutate -seed 11 "$ref" && "$BC" dump -maxhex 0 "$ref" >"$T/$f.ref.dump"
        same "$T/$f.ref.dump" "$T/$f.swm.dump" "$f: mutation of strata's file differs from the same mutation of bbolt's"
    done
fi

if has_flow mixed; then
    echo "== mixed histories ($rounds rounds)"
    for f in $files; do
        "$BC" dump -maxhex 0 "$T/gen/$f" >"$T/$f.m0.dump"
        x="$T/mixed-$f" ref="$T/mixedref-$f"
        rm -f "$x" "$ref"
        cp "$T/gen/$f" "$ref"
        run 0 "$f: strata load" "$STRATA" load "$x" <"$T/$f.m0.dump" || continue
        for r in $(seq 1 "$rounds"); do
            mode=sync
            [ $((r % 2)) = 0 ] && mode=nosync
            seed=$((100 + r))
            run 0 "$f round $r: bbolt mutate ($mode)" "$BC" mutate -seed $seed -freelist $mode "$x" || break
            "$BC" mutate -seed $seed -freelist $mode "$ref" || fail "$f round $r: reference mutate"
            "$BC" dump -maxhex 0 "$ref" >"$T/ref.dump"
            both_check "$x" "$f round $r after bbolt"
            both_dumps "$x" "$T/mx.dump" "$f round $r after bbolt"
            same "$T/ref.dump" "$T/mx.dump" "$f round $r: content differs from the bbolt-only history after bbolt's turn"
            smode=nosync
            [ "$mode" = nosync ] && smode=sync
            strata_turn "$x" $((200 + r)) $smode "$ref" || break
            both_check "$x" "$f round $r after strata"
            both_dumps "$x" "$T/mx.dump" "$f round $r after strata"
            same "$T/ref.dump" "$T/mx.dump" "$f round $r: content differs from the bbolt-only history after strata's turn"
        done
    done
fi

if has_flow damage; then
    echo "== strata check on damaged files"
    for spec in many_keys.db:key-order many_keys.db:separator many_keys.db:elem-pos many_keys.db:freelist-id \
        many_keys.db:header-id many_keys.db:page-type many_keys.db:cycle many_keys.db:truncate \
        many_keys.db:meta-both max_key.db:separator pagesize16k.db:key-order deletes.db:freelist-id \
        inline_nested.db:elem-pos nofreelistsync.db:truncate many_keys.db:freelist-dup \
        inline_nested.db:inline-id one_bucket.db:inline-id; do
        f=${spec%%:*} kind=${spec#*:}
        [ -f "$T/gen/$f" ] || continue
        d="$T/damaged-$kind-$f"
        cp "$T/gen/$f" "$d"
        "$BC" corrupt -kind "$kind" "$d" >/dev/null || { fail "corrupt $kind $f"; continue; }
        checks=$((checks + 1))
        "$STRATA" check "$d" >"$T/out" 2>&1
        rc=$?
        case $kind:$rc in
        meta-both:3 | truncate:1 | truncate:3 | *:1) ;;
        *) fail "strata check on $f damaged by $kind: exit $rc, want 1 (3 if it cannot open)"
           sed -n '1,5p' "$T/out" ;;
        esac
    done
fi

echo "$checks checks, $failures failures"
[ "$failures" -eq 0 ]
