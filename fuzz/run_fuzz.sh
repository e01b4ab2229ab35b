#!/usr/bin/env bash
# run_fuzz.sh: one libFuzzer session as a meson test.
#
# usage: run_fuzz.sh FUZZER NAME ARTIFACT_DIR SEED_DIR...
#
# Runs FUZZER for $STRATA_FUZZ_SECONDS (default: $STRATA_FUZZ_TARGET_SECONDS,
# the target's own time fuzz/meson.build sets, else 30) on a working corpus
# kept next to ARTIFACT_DIR (corpus-NAME, so each run goes on from what the
# earlier ones found) seeded from the SEED_DIRs (which are only read),
# keeps any crasher in ARTIFACT_DIR (to be copied into fuzz/regress/NAME/
# as a regression test), and prints one figure line:
#   figure: fuzz NAME: N executions in S s, corpus C, 0 crashes
# Exit status: libFuzzer's (0 only when nothing crashed, leaked or timed out).
set -uo pipefail
fuzzer=$1 name=$2 artifacts=$3
shift 3
seconds=${STRATA_FUZZ_SECONDS:-${STRATA_FUZZ_TARGET_SECONDS:-30}}
corpus_dir="$(dirname "$artifacts")/corpus-$name"
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$corpus_dir" "$artifacts"
log="$work/log"
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$artifacts/" "$corpus_dir" "$@" >"$log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
corpus=$(find "$corpus_dir" -type f | wc -l)
if [ "$rc" -ne 0 ]; then
    tail -60 "$log"
    echo "fuzz $name: FAILED (exit $rc) after ${execs:-?} executions; crasher in $artifacts/"
    ls -la "$artifacts"
    exit "$rc"
fi
echo "figure: fuzz $name: ${execs:-0} executions in ${seconds} s, corpus $corpus, 0 crashes"
