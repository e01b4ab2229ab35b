#!/usr/bin/env bash
# test_bench_mvcc.sh: `strata bench mvcc` at a tiny scale (a smoke run, never
# a timed test): every M line is printed once, in docs/bench.md's bench line
# shape, with sane fields (ops > 0, wall > 0), and the bench's own checks
# hold: M2/M3 found every key M1 wrote, M7 reopened at the same revision,
# M8 lost, reordered and duplicated nothing (checked against the puts made)
# and every event carried its key and value. Then bad flags are refused.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "bench mvcc --help" "$S" bench mvcc --help
expect_out "example:" "--help shows an example"
expect_rc 2 "an unknown workload" "$S" bench mvcc -w M9 --dir "$T/b"
expect_rc 2 "a bad scale" "$S" bench mvcc --scale -1 --dir "$T/b"
expect_rc 2 "a bad -n" "$S" bench mvcc -n x --dir "$T/b"
expect_rc 0 "bench mvcc --json" "$S" bench mvcc --scale 0.01 -w M1 --dir "$T/b" --json
expect_eq "$(jget 'd["workload"], d["ok"], d["results"][0]["name"], d["results"][0]["ops_per_s"] > 0')" \
    "('mvcc', True, 'M1', True)" "bench mvcc --json"

# --scale 0.01: N = 10,000 puts on K = 1,000 keys (the M8 layout of the peer needs K >= 900).
expect_rc 0 "bench mvcc" "$S" bench mvcc --scale 0.01 --dir "$T/b"
cp "$T/out" "$T/bench.out"
for m in M1 M2 M3 M4 M5 M6 M7 M8; do
    checks=$((checks + 1))
    n=$(grep -c "^$m " "$T/bench.out")
    [ "$n" = 1 ] || { fail "$m printed $n times"; continue; }
    checks=$((checks + 1))
    awk -v m="$m" '$1 == m {
        ok = NF >= 5 && $2 + 0 > 0 && $3 + 0 > 0 && $4 + 0 > 0
        for (i = 5; i <= NF; i++) if ($i !~ /^[a-z0-9_]+=[-0-9.a-z]+$/) ok = 0
        exit !ok }' "$T/bench.out" || fail "$m line not sane: $(grep "^$m " "$T/bench.out")"
done
# field VALUE of workload M: field M NAME
field() { awk -v m="$1" -v k="$2" '$1 == m { for (i = 5; i <= NF; i++) { split($i, a, "="); if (a[1] == k) print a[2] } }' "$T/bench.out"; }
want() {
    checks=$((checks + 1))
    local got
    got=$(field "$1" "$2")
    [ "$got" = "$3" ] || fail "$1 $2=$got, want $3"
}
want M1 puts 10000
want M1 rev 10001
want M2 gets 1000
want M5 compact_rev 9001
want M5 removed 8000
want M8 lost 0
want M8 reordered 0
want M8 dup 0
want M8 wrong_key 0
want M8 timed_out false
want M8 events "$(field M8 expected)"
want M7 rev_after "$(field M7 rev_before)"
checks=$((checks + 1))
[ "$(field M8 expected)" -gt 0 ] || fail "M8 expected no event"
checks=$((checks + 1))
[ "$(field M5 concurrent_puts)" -ge 0 ] && [ -n "$(field M5 max_stall_ms)" ] &&
    [ -n "$(field M5 p99_put_ms)" ] || fail "M5 lacks its stall figures"
checks=$((checks + 1))
grep -q '^peak_rss_mib [0-9.]*$' "$T/bench.out" || fail "no peak_rss_mib line"
checks=$((checks + 1))
[ "$(tail -n 1 "$T/bench.out" | cut -d' ' -f1)" = peak_rss_mib ] || fail "peak_rss_mib not last"
checks=$((checks + 1))
[ ! -e "$T/b/m.db" ] && [ ! -e "$T/b/m8.db" ] || fail "files left without --keep"

# A single workload of the chain: M8 alone.
expect_rc 0 "bench mvcc -w M8" "$S" bench mvcc -n 200000 --scale 0.01 -w M8 --dir "$T/b"
expect_out "^M8 .* lost=0 reordered=0 dup=0 " "M8 alone"
checks=$((checks + 1))
! grep -q "^M1 " "$T/out" || fail "-w M8 printed M1"

finish
