#!/usr/bin/env bash
# demo.sh: `make demo`. Builds a release strata, then walks through what
# the library can do so far with the `strata` CLI, in a temporary
# directory. Exits 0 only if every step worked.
set -euo pipefail
cd "$(dirname "$0")/../.."

dir=build/release
if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" -Dbuildtype=release >/dev/null
fi
ninja -C "$dir" tools/strata/strata >/dev/null
strata=$PWD/$dir/tools/strata/strata

work=$(mktemp -d "${TMPDIR:-/tmp}/strata-demo-XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { echo; echo "\$ strata $*"; "$strata" "$@"; }

step --version
step --help

# A demo db from the built-in seeded generator: random and sequential
# bulk loads, inline and nested buckets, overflow values, sequences, then
# deletes that leave free pages behind.
db=$work/demo.db
step gen --seed 42 --keys 20000 "$db"
step buckets "$db"
step keys "$db" config
step get "$db" config limits max-conn
echo "\$ strata keys $db tenants t-0 users | head -3"
"$strata" keys "$db" tenants t-0 users >"$work/users.txt"
head -3 "$work/users.txt"
step check "$db"
step info "$db"
step stats "$db"
echo "\$ strata pages $db | head -8"
"$strata" pages "$db" >"$work/pages.txt"
head -8 "$work/pages.txt"

# Compaction copies the live data into a new file with full pages and no
# free pages; the copy holds the same content.
step compact -o "$work/compact.db" "$db"
step check "$work/compact.db"
"$strata" dump "$db" | cmp - <("$strata" dump "$work/compact.db")
echo "dumps of demo.db and compact.db are identical"

# The canonical dump is the same bytes whoever wrote the file; a db loaded
# from it holds exactly the same content, freshly packed.
echo
echo "\$ strata dump --max-hex 0 $db > demo.dump; strata load copy.db < demo.dump"
"$strata" dump --max-hex 0 "$db" >"$work/demo.dump"
head -4 "$work/demo.dump"
echo "... ($(wc -l <"$work/demo.dump") lines)"
"$strata" load "$work/copy.db" <"$work/demo.dump"
"$strata" dump --max-hex 0 "$work/copy.db" | cmp - "$work/demo.dump"
echo "dumps of demo.db and copy.db are identical"
step check "$work/copy.db"
echo "file sizes: demo.db $(stat -c %s "$db"), compact.db $(stat -c %s "$work/compact.db"), copy.db $(stat -c %s "$work/copy.db") bytes"

# The backend layer (etcd's): a snapshot is a consistent copy of any db
# file, here gzip'ed with etcd's SHA-256 trailer, verified when restored.
step snapshot --trailer --gzip -o "$work/demo.snap.gz" "$db"
step restore "$work/demo.snap.gz" -o "$work/restored.db"
"$strata" dump "$db" | cmp - <("$strata" dump "$work/restored.db")
echo "dumps of demo.db and restored.db are identical"

# etcd's backend hash and defrag need etcd's shape, top-level buckets of
# plain keys: demo.db's nested buckets are refused (exit 1), so these run on
# a flat db from the same generator.
echo
echo "\$ strata hash $db"
rc=0
"$strata" hash "$db" || rc=$?
[ "$rc" -eq 1 ]
flat=$work/flat.db
step gen --flat --seed 42 --keys 20000 "$flat"
step compact -o "$work/flat-compact.db" "$flat"
step hash "$flat"
step hash "$work/flat-compact.db"
h_flat=$("$strata" hash -q "$flat")
h_compact=$("$strata" hash -q "$work/flat-compact.db")
[ "$h_flat" = "$h_compact" ]
echo "hashes of flat.db and flat-compact.db are equal ($h_flat)"
cp "$flat" "$work/defrag.db"
step defrag "$work/defrag.db"
step check "$work/defrag.db"
"$strata" dump "$flat" | cmp - <("$strata" dump "$work/defrag.db")
h_defrag=$("$strata" hash -q "$work/defrag.db")
[ "$h_defrag" = "$h_flat" ]
echo "dumps of flat.db and defrag.db are identical; hashes equal ($h_defrag)"

# The key index (index/): etcd's treeIndex, measured on a small index the
# way peers/etcd/indexmem measures etcd's (bytes per key, put/get/range
# rates, put p99 alone and while a compaction walks the index).
step bench index -k 20000 -r 3 -p 20000

# Every layer's status codes come back through one chain of strerrors.
step strerror -5104 -5300 -5401 -5501 -28 1 || [ $? -eq 1 ]

# ==== library (lib) ====
# strata embedded in a program: the examples/ programs, against the public
# headers only (README, "Using the library"). Each gets a fresh directory.
ninja -C "$dir" examples/bolt_example examples/backend_example >/dev/null
for ex in bolt_example backend_example; do
    echo
    echo "\$ examples/$ex DIR"
    mkdir "$work/$ex"
    "$dir/examples/$ex" "$work/$ex"
done
# ==== end library ====

# ==== watch (watch) ====
# An embedded MVCC store with watchers (examples/watch_example.c): a prefix
# watcher and a key watcher replaying its history follow a writer thread
# through the stream's file descriptor (poll), then a watcher from below a
# compaction gets one compaction response and stops.
ninja -C "$dir" examples/watch_example >/dev/null
echo
echo "\$ examples/watch_example DIR"
mkdir "$work/watch_example"
"$dir/examples/watch_example" "$work/watch_example"
# An embedded MVCC store with watchers, through `strata script` (the mvcc
# script language, the same bytes etcd 3.4's mvcc prints): watcher 1
# follows a prefix from now on; watcher 2 replays one key's history from
# revision 2; after `compact 4`, a watcher from revision 3 is told it was
# compacted and stops, one from revision 4 replays what is left. Every
# event comes through the public watch streams.
watch_script=$work/watch-demo.txt
cat >"$watch_script" <<'WATCH'
put app/config v1
watch 1 app/ prefix
put app/config v2
put app/feature on
del app/feature
watch 2 app/config rev=2
compact 4
watch 3 app/ prefix rev=3
watch 4 app/ prefix rev=4
put app/config v3
rev
WATCH
echo
echo "\$ strata script --echo < watch-demo.txt"
"$strata" script --echo <"$watch_script" | tee "$work/watch-demo.out"
grep -qx 'event watch=1 type=DELETE key="app/feature" create=0 mod=5 ver=0 lease=0 value=""' \
    "$work/watch-demo.out"
grep -qx 'event watch=2 type=PUT key="app/config" create=2 mod=2 ver=1 lease=0 value="v1"' \
    "$work/watch-demo.out"
grep -qx 'event watch=3 compacted compact=4' "$work/watch-demo.out"
[ "$(grep -c '^event watch=3' "$work/watch-demo.out")" -eq 1 ]
[ "$(grep -c '^event watch=' "$work/watch-demo.out")" -eq 11 ]
echo "watchers: 11 events, one compaction response, as etcd's mvcc prints them"
# ==== end watch ====

# ==== leases (lease) ====
# The lessor under an embedded store (examples/lease_example): grants and
# leased puts, a revoke that deletes its keys in one revision, expiry on a
# manual clock with automatic revocation, a checkpointed remaining TTL that
# survives a restart. Then the lessor's rates and one revoke of a lease
# with 20,000 keys at a small scale (`strata bench lease`).
ninja -C "$dir" examples/lease_example >/dev/null
echo
echo "\$ examples/lease_example DIR"
mkdir "$work/lease_example"
"$dir/examples/lease_example" "$work/lease_example"
step bench lease -n 5000 -k 20000 -w rates,big --dir "$work"
# ==== end leases ====

# ==== mvcc store (mvcc) ====
# An embedded multi-version store (examples/mvcc_example): puts, a
# transaction (one revision), a read at an old revision, a streamed range,
# a compaction, HashKV before and after a reopen.
ninja -C "$dir" examples/mvcc_example >/dev/null
echo
echo "\$ examples/mvcc_example DIR"
mkdir "$work/mvcc_example"
"$dir/examples/mvcc_example" "$work/mvcc_example"
# ==== end mvcc store ====

# ==== etcd data (coordinator) ====
# etcd's data offline (`strata etcd`, README "etcd's data"): a store written
# through the mvcc script language (the bytes etcd 3.4's mvcc would write:
# puts, a leased key, a transaction, a compaction) answered as etcdctl
# would: status, get now and at an old revision (-w json, etcdctl's
# fields), every stored revision, leases with their keys, HashKV; then the
# same answers from its etcd snapshot (SHA-256 trailer checked), and a read
# below the compaction refused (exit 1).
etcd_db=$work/member.db
cat >"$work/etcd-demo.txt" <<'ETCD'
put /app/leader n1
put /app/config v1
lease grant 7 600
put /app/session s1 lease=7
txn
put /app/config v2
del /app/leader
end
put /app/leader n2
compact 3
ETCD
echo
echo "\$ strata script --db member.db < etcd-demo.txt"
"$strata" script --db "$etcd_db" <"$work/etcd-demo.txt" >/dev/null
step etcd status "$etcd_db"
step etcd get --prefix "$etcd_db" /app/
step etcd get --rev 4 -w json "$etcd_db" /app/config
step etcd history --prefix "$etcd_db" /app/
step etcd leases --keys "$etcd_db"
step etcd hashkv "$etcd_db" | tee "$work/hashkv-db.txt"
step snapshot --trailer -o "$work/member.snap" "$etcd_db"
step etcd hashkv "$work/member.snap" | tee "$work/hashkv-snap.txt"
cmp -s <(tail -n 3 "$work/hashkv-db.txt") <(tail -n 3 "$work/hashkv-snap.txt")
echo "the db and its snapshot give the same HashKV"
rc=0
step etcd get --rev 2 "$etcd_db" /app/ || rc=$?
[ "$rc" -eq 1 ]
echo "revision 2 is below the compaction: refused (exit 1), as etcd refuses it"
# ==== end etcd data ====

# ==== stall picture (bench) ====
# Puts at a steady pace on a small store of docs/bench.md M1's shape while it
# compacts all but its last revisions and then defragments
# (`strata bench stall`): per-phase latency in the STALL line, the
# timeline, and the picture drawn with gnuplot (stall.png / stall.svg,
# with etcd's compaction and defrag windows beside when build/peers has
# its mvccbench: tools/bench/compare-mvcc.sh or peers/etcd/build.sh builds
# it). The picture is kept in build/demo-stall; a text rendering follows.
peer=()
[ -x build/peers/mvccbench ] && peer=(--peer "$PWD/build/peers/mvccbench")
rm -rf build/demo-stall
step bench stall --scale 0.05 --rate 500 --duration 4 --compact-at 1 --defrag-at 2.5 \
    -o build/demo-stall "${peer[@]}"
ls -l build/demo-stall/stall.png build/demo-stall/stall.svg
echo "picture: $PWD/build/demo-stall/stall.png"
gnuplot -e "set terminal dumb size 100,24; set logscale y; set format y '%g';
    set title 'put latency (ms) over time (s), strata; picture: build/demo-stall/stall.png';
    plot 'build/demo-stall/stall-strata.txt' using (\$1/1000):2 with points pt '.' notitle"
# ==== end stall picture ====

# Each layer appends its own section above this line, between the lines
# `# ==== NAME (owner) ====` and `# ==== end NAME ====`, using $strata,
# $work (a temporary directory, removed at exit), $dir (the release build)
# and step; `set -e` makes any failing command fail the demo.
echo
echo "demo: every step worked"
