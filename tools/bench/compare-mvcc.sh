#!/usr/bin/env bash
# compare-mvcc.sh: strata and etcd 3.4.23's storage layer side by side on
# docs/bench.md's M workloads (M1..M8), as compare.sh does for the B workloads.
#
#   tools/bench/compare-mvcc.sh [-s SCALE] [-r ROUNDS] [-w LIST] [-d DIR] [-o OUT]
#
#   -s SCALE   multiply N (1,000,000 puts), K (100,000 keys) and the M2..M5
#              counts by SCALE (1); both sides get the same scale
#   -r ROUNDS  rounds (3); each round runs strata then etcd (A B A B ...),
#              one process per implementation and round
#   -w LIST    workloads (M1,M2,M3,M4,M5,M6,M7,M8)
#   -d DIR     scratch directory for the db files (/tmp/strata-compare-mvcc)
#   -o OUT     raw outputs and the table (build/compare-mvcc-SCALE)
#
# The peer: ../shared/peers/etcd's mvccbench (PEERS to point elsewhere),
# built on first use with its build.sh into build/peers (PEERS_BUILD),
# run with etcd's backend defaults (batch 100 ms / 10,000, fsync per
# commit), the watchable store, and -m6-putter (a putter during defrag, as
# strata's M6 always runs one). strata: build/release (built if missing).
#
# Prints a markdown table of medians, the ratio strata/etcd with its range
# over the rounds (each round's strata over the same round's etcd), and
# the M5/M6/M8 extras. A benchmark: never part of `make test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

scale=1 rounds=3 dir=/tmp/strata-compare-mvcc out= list=M1,M2,M3,M4,M5,M6,M7,M8
while getopts "s:r:w:d:o:h" opt; do
    case $opt in
    s) scale=$OPTARG ;;
    r) rounds=$OPTARG ;;
    w) list=$OPTARG ;;
    d) dir=$OPTARG ;;
    o) out=$OPTARG ;;
    *) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
out=${out:-$root/build/compare-mvcc-$scale}
mkdir -p "$out" "$dir"

peers=${PEERS:-}
if [ -z "$peers" ]; then
    for p in "$root/../shared/peers" "$root/../../shared/peers"; do
        [ -d "$p" ] && peers=$(cd "$p" && pwd) && break
    done
fi
[ -n "$peers" ] && [ -d "$peers/etcd" ] || { echo "compare-mvcc.sh: no peers directory (set PEERS)" >&2; exit 2; }
pb=${PEERS_BUILD:-$root/build/peers}
mkdir -p "$pb"
[ -x "$pb/mvccbench" ] || sh "$peers/etcd/build.sh" "$pb"

strata=$root/build/release/tools/strata/strata
if [ ! -f "$root/build/release/build.ninja" ]; then
    meson setup "$root/build/release" -Dbuildtype=release >/dev/null
fi
ninja -C "$root/build/release" tools/strata/strata >/dev/null

echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (other work on the machine skews absolute figures; ratios are per round)" >&2
: >"$out/raw.txt"
for r in $(seq 1 "$rounds"); do
    for impl in strata etcd; do
        f="$out/$impl.$r.txt"
        echo "# round $r: $impl (load $(cut -d' ' -f1 /proc/loadavg))" >&2
        rm -rf "$dir/$impl"
        case $impl in
        strata) "$strata" bench mvcc --scale "$scale" -w "$list" --dir "$dir/strata" >"$f" 2>"$f.err" ;;
        etcd) "$pb/mvccbench" -scale "$scale" -only "$list" -m6-putter -asis 0 -dir "$dir/etcd" >"$f" 2>"$f.err" ;;
        esac || { echo "compare-mvcc.sh: $impl failed:" >&2; cat "$f.err" >&2; exit 1; }
        sed -n 's/^\(M[0-9] .*\|peak_rss_mib .*\)$/\1/p' "$f" | sed "s|^|$impl $r |" >>"$out/raw.txt"
    done
done
rm -rf "$dir/strata" "$dir/etcd"

python3 - "$out/raw.txt" "$scale" "$rounds" <<'PY' | tee "$out/table.md"
import statistics, sys
raw, scale, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
ops, mib, wall, ext, rss = {}, {}, {}, {}, {}
for line in open(raw):
    f = line.split()
    impl, r = f[0], int(f[1])
    if f[2] == "peak_rss_mib":
        rss.setdefault(impl, []).append(float(f[3]))
        continue
    name = f[2]
    ops.setdefault((impl, name), {})[r] = float(f[3])
    wall.setdefault((impl, name), []).append(float(f[4]))
    mib.setdefault((impl, name), []).append(float(f[5]))
    for kv in f[6:]:
        if "=" in kv:
            k, v = kv.split("=", 1)
            try:
                ext.setdefault((impl, name, k), []).append(float(v))
            except ValueError:
                ext.setdefault((impl, name, k), []).append(v)
def med(d, k):
    v = d.get(k)
    if v is None:
        return float("nan")
    v = list(v.values()) if isinstance(v, dict) else v
    v = [x for x in v if isinstance(x, float)]
    return statistics.median(v) if v else float("nan")
def fmt(x, d=0):
    return "-" if x != x else f"{x:,.{d}f}"
goal = {"M1": "≥ 5x", "M2": "≥ 5x", "M3": "≥ 5x", "M4": "≥ 5x", "M5": "stall ≤ 10 ms, p99 ≤ 1.5x alone",
        "M6": "≥ 3x, stall ≤ 10 ms", "M7": "≥ 5x", "M8": "≥ 5x, no loss"}
print(f"scale {scale}: medians of {rounds} alternated rounds (strata, etcd); ratio = median of strata/etcd per round [min–max]\n")
print("| workload | strata ops/s | etcd ops/s | strata/etcd [range] | wall s strata / etcd | file MiB strata / etcd | goal |")
print("|---|---:|---:|---:|---|---|---|")
for nm in ["M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8"]:
    s, e = ops.get(("strata", nm), {}), ops.get(("etcd", nm), {})
    if not s or not e:
        continue
    rat = [s[r] / e[r] for r in s if r in e and e[r] > 0]
    rs = f"{statistics.median(rat):.2f} [{min(rat):.2f}–{max(rat):.2f}]" if rat else "-"
    print(f"| {nm} | {fmt(med(ops, ('strata', nm)))} | {fmt(med(ops, ('etcd', nm)))} | {rs} | "
          f"{fmt(med(wall, ('strata', nm)), 3)} / {fmt(med(wall, ('etcd', nm)), 3)} | "
          f"{fmt(med(mib, ('strata', nm)), 1)} / {fmt(med(mib, ('etcd', nm)), 1)} | {goal[nm]} |")
print()
for nm, keys in [("M5", ["max_stall_ms", "p99_put_ms", "p50_put_ms", "p99_alone_ms", "concurrent_puts", "removed"]),
                 ("M6", ["max_stall_ms", "p99_put_ms", "p50_put_ms", "writer_lockout_ms", "file_before_mib", "file_after_mib", "key_entries"]),
                 ("M7", ["close_s", "key_entries"]),
                 ("M8", ["events", "expected", "lost", "reordered", "dup", "wrong_key", "timed_out", "put_ops_s"])]:
    parts = []
    for k in keys:
        s, e = med(ext, ("strata", nm, k)), med(ext, ("etcd", nm, k))
        if s == s or e == e:
            parts.append(f"{k} {fmt(s, 2)} / {fmt(e, 2)}")
    if parts:
        print(f"- {nm} (strata / etcd, medians): " + "; ".join(parts))
for nm in ["M5", "M6"]:
    for impl in ["strata", "etcd"]:
        v = ext.get((impl, nm, "max_stall_ms"))
        if v:
            print(f"- {nm} {impl} max_stall_ms per round: " + ", ".join(f"{x:.2f}" for x in v))
for nm in ["M8"]:
    for impl in ["strata", "etcd"]:
        v = [ext.get((impl, nm, k)) for k in ("lost", "reordered", "dup")]
        if all(v):
            print(f"- {nm} {impl} lost/reordered/dup per round: " + ", ".join(f"{int(a)}/{int(b)}/{int(c)}" for a, b, c in zip(*v)))
for impl in ("strata", "etcd"):  # etcd's mvccbench prints no peak line: its largest rss_mib
    if impl not in rss:
        v = [x for (i, n, k), xs in ext.items() if i == impl and k == "rss_mib" for x in xs]
        if v:
            rss[impl] = [max(v)]
print("\n| peak RSS MiB | strata | etcd |\n|---|---:|---:|")
print(f"| whole chain | {fmt(med(rss, 'strata'), 1)} | {fmt(med(rss, 'etcd'), 1)} |")
PY
