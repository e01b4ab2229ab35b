#!/bin/bash
# test_mvcc_diff.sh STRATA SCRIPT_GEN MVCCORACLE: the differential test of
# strata's mvcc store against the real etcd 3.4.23 mvcc (issue 13).
#
# Random scripts of script_gen (seeded; profiles default and corner
# alternate) run through `strata script` and through mvccoracle (etcd's
# mvcc, lease and backend packages driven by the same script, built from
# ../shared/peers/etcd by script_build_oracle.sh); the outputs and exit
# codes must be identical, byte for byte. The scripts run in parallel
# (MVCC_DIFF_JOBS, default the number of cores), each pair on its own.
# Every fourth script runs strata with a 1 ms batch interval and a batch
# limit of 3, every fourth with 1 h and 10^9: the output must not depend
# on when the backend commits.
#
# On a mismatch: the seed and profile, the command that makes the script
# again, and the first differing output line of each side, and the script
# line (op) that printed it (both sides rerun with --echo / -echo). The
# scripts and outputs are kept in the directory printed when
# MVCC_DIFF_KEEP=1.
#
# Every third script also has watch ops (script_gen --watch), and two in
# three lease ops, once `strata script --list-ops` has them.
#
# Knobs (the CI run uses the defaults): MVCC_DIFF_SCRIPTS (20),
# MVCC_DIFF_OPS (1500 lines per script), MVCC_DIFF_SEED (the first seed;
# default STRATA_TEST_SEED or 1; script i uses seed + i), MVCC_DIFF_JOBS,
# MVCC_DIFF_PROFILE (default, corner, or alternate: the default),
# MVCC_DIFF_WATCH / MVCC_DIFF_LEASE (0: none, 1: in every script; default
# every third / two in three).
set -u

# batching_of I: the backend options strata runs script I with.
batching_of() {
    case $(($1 % 4)) in
    2) echo "--batch-interval 1h --batch-limit 1000000000" ;;
    3) echo "--batch-interval 1ms --batch-limit 3" ;;
    *) echo "default" ;;
    esac
}

if [ "${1:-}" = --one ]; then
    # Worker: --one DIR I SEED PROFILE [FLAG...] (run by xargs below).
    shift
    dir=$1 i=$2 seed=$3 profile=$4
    shift 4
    cd "$dir" || exit 1
    "$GEN" --seed "$seed" --ops "$OPS" --profile "$profile" "$@" >"s$i.txt" || exit 1
    # Scripts with leases: every other one with a lessor minimum TTL of 7 s
    # on both sides (grants below it are raised to it).
    min_ttl=0
    case " $* " in *" --no-lease "*) ;; *) [ $((i % 2)) -eq 1 ] && min_ttl=7 ;; esac
    "$ORACLE" -min-ttl "$min_ttl" <"s$i.txt" >"o$i.out" 2>"o$i.err"
    echo $? >"o$i.rc"
    batching=$(batching_of "$i")
    [ "$batching" = default ] && batching=
    # shellcheck disable=SC2086
    "$STRATA" script --min-ttl "$min_ttl" $batching <"s$i.txt" >"t$i.out" 2>"t$i.err"
    echo $? >"t$i.rc"
    exit 0
fi

if [ $# -ne 3 ]; then
    echo "usage: $0 STRATA SCRIPT_GEN MVCCORACLE" >&2
    exit 2
fi
for f in "$@"; do
    if [ ! -x "$f" ]; then
        echo "$0: $f: not an executable" >&2
        exit 2
    fi
done
# absolute paths: the workers run inside the temporary directory
STRATA=$(realpath "$1") GEN=$(realpath "$2") ORACLE=$(realpath "$3")
export STRATA GEN ORACLE
export OPS=${MVCC_DIFF_OPS:-1500}
n=${MVCC_DIFF_SCRIPTS:-20}
base=${MVCC_DIFF_SEED:-${STRATA_TEST_SEED:-1}}
jobs=${MVCC_DIFF_JOBS:-$(nproc 2>/dev/null || echo 2)}
mode=${MVCC_DIFF_PROFILE:-alternate}

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-mvcc-diff.XXXXXX")
if [ "${MVCC_DIFF_KEEP:-0}" = 1 ]; then
    echo "keeping $T"
else
    trap 'rm -rf "$T"' EXIT
fi

# Watch ops (watch, cancel; ORACLE.md rule W) in every third script, when
# this strata has them (MVCC_DIFF_WATCH=0: never, 1: in every script).
have_watch=0
"$STRATA" script --list-ops | grep -qx watch && have_watch=1
watch_of() {
    case ${MVCC_DIFF_WATCH:-third} in
    0) ;;
    1) [ "$have_watch" = 1 ] && echo --watch ;;
    *) [ "$have_watch" = 1 ] && [ $(($1 % 3)) -eq 2 ] && echo --watch ;;
    esac
}

# Lease ops (lease ..., put ... lease=ID): script_gen makes them unless
# --no-lease. Two scripts in three have them (i % 3 != 0; the others are kv
# only) when strata has the lessor's ops (MVCC_DIFF_LEASE=0: none, 1: in
# every script).
have_lease=0
"$STRATA" script --list-ops | grep -qx lease && have_lease=1
lease_of() {
    local with=0
    case ${MVCC_DIFF_LEASE:-third} in
    0) ;;
    1) with=$have_lease ;;
    *) [ "$have_lease" = 1 ] && [ $(($1 % 3)) -ne 0 ] && with=1 ;;
    esac
    [ "$with" = 1 ] || echo --no-lease
}

# flags_of I: the generator's op flags for script I.
flags_of() {
    local w l
    w=$(watch_of "$1")
    l=$(lease_of "$1")
    echo $w $l
}

profile_of() {
    case $mode in
    alternate) if [ $(($1 % 2)) -eq 0 ]; then echo default; else echo corner; fi ;;
    *) echo "$mode" ;;
    esac
}

nwatch=0 nlease=0
for ((i = 0; i < n; i++)); do
    [ -n "$(watch_of $i)" ] && nwatch=$((nwatch + 1))
    [ -z "$(lease_of $i)" ] && nlease=$((nlease + 1))
done
echo "mvcc differential test: $n scripts of $OPS lines ($nwatch with watch ops, $nlease with lease ops), seeds $base..$((base + n - 1)), $jobs at a time"
start=$(date +%s)
for ((i = 0; i < n; i++)); do
    flags=$(flags_of $i)
    # no trailing blank: xargs -L would join the next line to this one
    echo "$T $i $((base + i)) $(profile_of $i)${flags:+ }$flags"
done | xargs -P "$jobs" -L 1 "$0" --one
end=$(date +%s)

# first_diff A B: "LINE<TAB>a-line<TAB>b-line" of the first differing output line.
first_diff() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        for (n = 1; ; n++) {
            ra = (getline la < a) > 0; rb = (getline lb < b) > 0
            if (!ra && !rb) exit
            if (!ra) la = "<end of output>"
            if (!rb) lb = "<end of output>"
            if (!ra || !rb || la != lb) { printf "%d\t%s\t%s\n", n, la, lb; exit }
        }
    }'
}

failures=0
lines=0
errors=0
for ((i = 0; i < n; i++)); do
    seed=$((base + i))
    profile=$(profile_of $i)
    if [ ! -f "$T/o$i.rc" ] || [ ! -f "$T/t$i.rc" ]; then
        echo "FAIL: seed $seed ($profile): the script or a run did not finish"
        failures=$((failures + 1))
        continue
    fi
    orc=$(cat "$T/o$i.rc")
    trc=$(cat "$T/t$i.rc")
    if [ "$orc" -ne 0 ]; then
        echo "FAIL: seed $seed ($profile): mvccoracle exited $orc (a generator bug?):"
        sed -n '1,5p' "$T/o$i.err"
        failures=$((failures + 1))
        continue
    fi
    if [ "$trc" -ne "$orc" ] || ! cmp -s "$T/o$i.out" "$T/t$i.out"; then
        failures=$((failures + 1))
        echo "FAIL: seed $seed profile $profile: strata script differs from etcd (exit $trc, etcd $orc)"
        mt=0
        [ -z "$(lease_of $i)" ] && [ $((i % 2)) -eq 1 ] && mt=7
        echo "  script: $GEN --seed $seed --ops $OPS --profile $profile $(flags_of $i) (strata batching: $(batching_of $i); min-ttl $mt on both sides)"
        IFS=$'\t' read -r at want got < <(first_diff "$T/o$i.out" "$T/t$i.out")
        if [ -n "${at:-}" ]; then
            echo "  first difference at output line $at:"
            echo "    etcd:   ${want:0:300}"
            echo "    strata: ${got:0:300}"
        fi
        # Again with the script lines echoed, to name the op that differs.
        "$ORACLE" -echo <"$T/s$i.txt" >"$T/o$i.echo" 2>/dev/null
        "$STRATA" script --echo <"$T/s$i.txt" >"$T/t$i.echo" 2>/dev/null
        IFS=$'\t' read -r at want got < <(first_diff "$T/o$i.echo" "$T/t$i.echo")
        if [ -n "${at:-}" ]; then
            op=$(head -n "$at" "$T/o$i.echo" | grep '^> ' | tail -n 1)
            k=$(head -n "$at" "$T/o$i.echo" | grep -c '^> ')
            # the script line of the k-th op (lines with tokens: not blank, not a comment)
            line=$(awk -v k="$k" '{ s = $0; sub(/^[ \t\r]+/, "", s) }
                s != "" && substr(s, 1, 1) != "#" && ++n == k { print NR; exit }' "$T/s$i.txt")
            echo "  the op: ${op:0:300} (script line $line)"
        fi
        sed -n '1,3p' "$T/t$i.err" | sed 's/^/  strata stderr: /'
        continue
    fi
    lines=$((lines + $(wc -l <"$T/o$i.out")))
    errors=$((errors + $(grep -c 'error=' "$T/o$i.out")))
done

echo "figure: mvcc diff: $n scripts x $OPS lines, $((n - failures)) identical, $failures different; $lines output lines compared ($errors error results); $((end - start)) s"
if [ "$failures" -ne 0 ]; then
    echo "$failures script(s) differ (replay one: MVCC_DIFF_SEED=SEED MVCC_DIFF_SCRIPTS=1 MVCC_DIFF_PROFILE=PROFILE MVCC_DIFF_KEEP=1)"
    exit 1
fi
echo "ok"
exit 0
