#!/usr/bin/env bash
# test_bench_mvcc_stall.sh: `strata bench stall` on a tiny store (a smoke
# run, never timed): the STALL line has every phase's figures, the timeline
# has one line per put counted, the windows file both windows in order, and
# gnuplot drew a PNG and an SVG. Then bad flags are refused.
. "$(dirname "$0")/lib.sh"

expect_rc 0 "bench stall --help" "$S" bench stall --help
expect_out "example:" "--help shows an example"
expect_rc 2 "defrag before compaction" "$S" bench stall --compact-at 2 --defrag-at 1 -o "$T/x"
expect_rc 2 "duration before defrag" "$S" bench stall --defrag-at 3 --duration 2 -o "$T/x"
expect_rc 2 "a bad rate" "$S" bench stall --rate 0 -o "$T/x"
expect_rc 0 "bench stall --json" "$S" bench stall --scale 0.002 --rate 200 --duration 1 \
    --compact-at 0.2 --defrag-at 0.5 --no-plot -o "$T/j" --json
expect_eq "$(jget 'd["results"][0]["name"], d["results"][0]["extra"]["rate"], d["peak_rss_mib"] > 0')" \
    "('STALL', 200, True)" "bench stall --json"

o=$T/stall
expect_rc 0 "bench stall" "$S" bench stall --scale 0.005 --rate 500 --duration 1.5 \
    --compact-at 0.3 --defrag-at 0.8 -o "$o"
expect_out "^STALL [0-9.]+ [0-9.]+ [0-9.]+ rate=500 " "the STALL line"
for p in before compact between defrag after; do
    expect_out " ${p}_puts=[0-9]+ ${p}_p50_ms=[0-9.]+ ${p}_p99_ms=[0-9.]+ ${p}_p999_ms=[0-9.]+ ${p}_max_ms=[0-9.]+ ${p}_over_10ms=[0-9]+" "phase $p"
done
expect_out "^peak_rss_mib [0-9.]+$" "peak_rss_mib last"
puts=$(sed -n 's/.* puts=\([0-9]*\) .*/\1/p' "$T/out")
checks=$((checks + 1))
[ -n "$puts" ] && [ "$puts" -gt 0 ] || fail "no puts counted"
checks=$((checks + 1))
[ "$(grep -vc '^#' "$o/stall-strata.txt")" = "$puts" ] || fail "timeline lines != puts ($puts)"
checks=$((checks + 1))
awk '!/^#/ && (NF != 2 || $1 < 0 || $2 < 0) { bad = 1 } END { exit bad }' "$o/stall-strata.txt" ||
    fail "timeline lines not 'start_ms latency_ms'"
checks=$((checks + 1))
awk '$1 == "compact" { c0 = $2; c1 = $3 } $1 == "defrag" { d0 = $2; d1 = $3 }
     END { exit !(c0 >= 300 && c1 >= c0 && d0 >= c1 && d1 >= d0) }' "$o/stall-windows.txt" ||
    fail "windows out of order: $(cat "$o/stall-windows.txt")"
checks=$((checks + 1))
[ "$(head -c 8 "$o/stall.png" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ] || fail "stall.png is no PNG"
checks=$((checks + 1))
grep -q "<svg" "$o/stall.svg" || fail "stall.svg is no SVG"
checks=$((checks + 1))
[ ! -e "$o/stall.db" ] || fail "the store was left behind"

finish
