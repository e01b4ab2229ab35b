#!/usr/bin/env bash
# compare.sh: strata, bbolt and LMDB side by side on docs/bench.md's B workloads.
#
#   tools/bench/compare.sh [-n N] [-r ROUNDS] [-c CHAINS] [-d DIR] [-o OUT]
#
#   -n N       keys of B1/B2, gets of B4 (1000000); B3 uses N/10
#   -r ROUNDS  rounds (3); each round runs every chain on strata, bbolt and
#              LMDB one after the other (A B C A B C ...), one process per
#              chain, so peak RSS belongs to that chain (docs/bench.md)
#   -c CHAINS  chains separated by spaces (default: all six of docs/bench.md)
#   -d DIR     scratch directory for the db files (/tmp/strata-compare)
#   -o OUT     where raw outputs and the table go (build/compare-N)
#   -f SECS    also run the fsync probe (SECS per variant) and relate B3 to it
#
# Peers: built on first use from the shared peers directory (PEERS, default
# ../shared/peers next to the checkout) into build/peers (PEERS_BUILD),
# never inside the shared directory: boltbench with Debian's bbolt 1.3.6 in
# GOPATH mode, lmdbbench with liblmdb. strata: build/release (built if
# missing, -Dbuildtype=release: library defaults).
#
# Prints a markdown table of medians and the ratios strata/bbolt and
# strata/LMDB (ops/s; file MiB; peak RSS per chain). A benchmark: never
# part of `make test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

n=1000000 rounds=3 dir=/tmp/strata-compare out= fsync_secs=0
chains="B1,B4,B5,B6,B7 B2 B3 B1-nosync B2-nosync B3-nosync"
while getopts "n:r:c:d:o:f:h" opt; do
    case $opt in
    n) n=$OPTARG ;;
    r) rounds=$OPTARG ;;
    c) chains=$OPTARG ;;
    d) dir=$OPTARG ;;
    o) out=$OPTARG ;;
    f) fsync_secs=$OPTARG ;;
    *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
out=${out:-$root/build/compare-$n}
mkdir -p "$out" "$dir"

peers=${PEERS:-}
if [ -z "$peers" ]; then
    for p in "$root/../shared/peers" "$root/../../shared/peers"; do
        [ -d "$p" ] && peers=$(cd "$p" && pwd) && break
    done
fi
[ -n "$peers" ] && [ -d "$peers" ] || { echo "compare.sh: no peers directory (set PEERS)" >&2; exit 2; }
pb=${PEERS_BUILD:-$root/build/peers}
mkdir -p "$pb"

# ---- build what is missing
if [ ! -x "$pb/boltbench" ]; then
    if ! command -v go >/dev/null || ! dpkg -s golang-github-coreos-bbolt-dev >/dev/null 2>&1; then
        echo "compare.sh: installing golang-go and bbolt 1.3.6 source (as $peers/bbolt/scripts/build.sh does)" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q golang-go golang-github-coreos-bbolt-dev >/dev/null
    fi
    src=$(dpkg -L golang-github-coreos-bbolt-dev | grep -m1 '/src/go.etcd.io/bbolt$')
    (cd "$peers/bbolt" &&
        GO111MODULE=off GOPATH=${src%/src/go.etcd.io/bbolt} GOFLAGS= GOPROXY=off \
            GOCACHE=${GOCACHE:-${HOME:-/tmp}/.cache/go-build} go build -o "$pb/boltbench" ./boltbench)
fi
if [ ! -x "$pb/lmdbbench" ]; then
    dpkg -s liblmdb-dev >/dev/null 2>&1 || apt-get install -y -q liblmdb-dev >/dev/null
    # The flags of $peers/lmdb/Makefile, with the binary outside the shared tree.
    ${CC:-cc} -O2 -Wall -Wextra -o "$pb/lmdbbench" "$peers/lmdb/lmdbbench.c" -llmdb
fi
strata=$root/build/release/tools/strata/strata
if [ ! -f "$root/build/release/build.ninja" ]; then
    meson setup "$root/build/release" -Dbuildtype=release >/dev/null
fi
ninja -C "$root/build/release" tools/strata/strata >/dev/null

run_one() { # impl chain round -> appends to raw
    local impl=$1 chain=$2 r=$3 f
    f="$out/$impl.$r.${chain//,/_}.txt"
    case $impl in
    strata) rm -rf "$dir/strata"; "$strata" bench bolt -n "$n" -w "$chain" --dir "$dir/strata" >"$f" 2>"$f.err" ;;
    bbolt) rm -rf "$dir/bbolt"; "$pb/boltbench" -n "$n" -w "$chain" -dir "$dir/bbolt" >"$f" 2>"$f.err" ;;
    lmdb) rm -rf "$dir/lmdb"; mkdir -p "$dir/lmdb"; "$pb/lmdbbench" -n "$n" -w "$chain" -d "$dir/lmdb" >"$f" 2>"$f.err" ;;
    esac || { echo "compare.sh: $impl $chain failed:" >&2; cat "$f.err" >&2; exit 1; }
    # raw: impl round chain then the line
    sed -n 's/^\(B[0-9][^ ]* .*\|peak_rss_mib .*\)$/\1/p' "$f" | sed "s|^|$impl $r $chain |" >>"$out/raw.txt"
}

: >"$out/raw.txt"
for r in $(seq 1 "$rounds"); do
    for chain in $chains; do
        for impl in strata bbolt lmdb; do
            echo "# round $r: $impl $chain" >&2
            run_one "$impl" "$chain" "$r"
        done
    done
done
rm -rf "$dir/strata" "$dir/bbolt" "$dir/lmdb"

if [ "$fsync_secs" != 0 ]; then
    "$strata" bench bolt -w fsync --fsync-secs "$fsync_secs" --dir "$dir/strata" >"$out/fsync.txt"
fi

python3 - "$out/raw.txt" "$n" "$rounds" "$out/fsync.txt" <<'PY' | tee "$out/table.md"
import statistics, sys, re, os
raw, n, rounds, fsync = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ops, mib, ext, rss = {}, {}, {}, {}
for line in open(raw):
    f = line.split()
    impl, r, chain = f[0], f[1], f[2]
    if f[3] == "peak_rss_mib":
        rss.setdefault((impl, chain), []).append(float(f[4]))
        continue
    name = f[3]
    ops.setdefault((impl, name), []).append(float(f[4]))
    mib.setdefault((impl, name), []).append(float(f[6]))
    for kv in f[7:]:
        if "=" in kv:
            k, v = kv.split("=", 1)
            try:
                ext.setdefault((impl, name, k), []).append(float(v))
            except ValueError:
                pass
med = lambda d, k: statistics.median(d[k]) if k in d else float("nan")
def fmt(x, d=1):
    if x != x:
        return "-"
    if x >= 1e6:
        return f"{x/1e6:.2f} M"
    return f"{x:,.{d}f}"
names = ["B1", "B1-nosync", "B2", "B2-nosync", "B3", "B3-nosync", "B4", "B5", "B6", "B7"]
print(f"N = {n:,}, medians of {rounds} alternated rounds (strata, bbolt, LMDB)\n")
print("| workload | strata ops/s | bbolt ops/s | LMDB ops/s | strata/bbolt | strata/LMDB | file MiB strata / bbolt / LMDB |")
print("|---|---:|---:|---:|---:|---:|---|")
for nm in names:
    s, b, l = (med(ops, (i, nm)) for i in ("strata", "bbolt", "lmdb"))
    if s != s:
        continue
    fs = " / ".join(fmt(med(mib, (i, nm)), 1) for i in ("strata", "bbolt", "lmdb"))
    print(f"| {nm} | {fmt(s,0)} | {fmt(b,0)} | {fmt(l,0)} | {s/b:.2f} | {s/l:.2f} | {fs} |")
print()
s_min = med(ext, ("strata", "B1", "min_mib"))
if s_min == s_min:
    s1, b1 = med(mib, ("strata", "B1")), med(mib, ("bbolt", "B1"))
    print(f"B1 file: strata {s1:.2f} MiB = {s1/s_min:.3f} x min_mib ({s_min:.2f}); {s1/b1:.3f} x bbolt's ({b1:.2f})")
s7, b7 = med(ext, ("strata", "B7", "after_mib")), med(ext, ("bbolt", "B7", "after_mib"))
if s7 == s7:
    print(f"B7 output: strata {s7:.2f} MiB, bbolt {b7:.2f} MiB, LMDB {med(mib, ('lmdb', 'B7')):.2f} MiB (page copy)")
for nm in ("B3", "B3-nosync"):
    c = [med(ext, (i, nm, "commits_per_s")) for i in ("strata", "bbolt")]
    if c[0] == c[0]:
        print(f"{nm} commits/s: strata {c[0]:.1f}, bbolt {c[1]:.1f}, LMDB {med(ops, ('lmdb', nm))/100:.1f}")
print("\n| chain | peak RSS MiB strata | bbolt | LMDB | strata/bbolt |")
print("|---|---:|---:|---:|---:|")
for chain in sorted({c for (_, c) in rss}, key=lambda c: names.index(c.split(",")[0])):
    s, b, l = (med(rss, (i, chain)) for i in ("strata", "bbolt", "lmdb"))
    print(f"| {chain} | {s:.1f} | {b:.1f} | {l:.1f} | {s/b:.2f} |")
mem = [(nm, med(ext, ("strata", nm, "allocated_mib")), med(ext, ("strata", nm, "resident_mib"))) for nm in names]
print("\nstrata jemalloc after each phase (allocated / resident MiB): " +
      ", ".join(f"{nm} {a:.1f}/{r:.1f}" for nm, a, r in mem if a == a))
if os.path.exists(fsync) and os.path.getsize(fsync) > 0:
    rates = {l.split()[0]: float(l.split()[1]) for l in open(fsync) if l.startswith("FSYNC-")}
    b3 = med(ext, ("strata", "B3", "commits_per_s"))
    print("\nfsync probe (4 KiB pwrite + fdatasync/s): " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items()))
    if b3 == b3 and "FSYNC-overwrite" in rates:
        bound = rates["FSYNC-overwrite"] / 2
        print(f"B3: {b3:.0f} commits/s; a commit needs >= 2 syncs, so the in-place rate bounds it at "
              f"{bound:.0f}/s: B3 reaches {b3/bound:.2f} of that bound (syncs into new blocks: "
              f"{rates.get('FSYNC-hole', float('nan'))/2:.0f}/s)")
PY
