#!/usr/bin/env bash
# test_progress_cli.sh: progress on stderr (issue 20) for the commands that
# can take long on a large file, with real figures from the library (pages
# or bytes or keys done of a total), only when stderr is a terminal, never
# on a pipe or with --json. The terminal is a pseudo-terminal made by
# script(1) (util-linux); the ticker draws its last figures once more when it
# stops, so even a short run leaves them in what the terminal received, and
# no test waits on the clock.
. "$(dirname "$0")/lib.sh"

if ! script -qec true /dev/null >/dev/null 2>&1; then
    echo "skip: script(1) cannot make a pseudo-terminal here"
    finish
fi

# on_tty OUT CMD...: run CMD with stdin, stdout and stderr on a pseudo-terminal;
# what the terminal received goes to OUT. Returns CMD's exit code.
on_tty() {
    local out=$1 cmd="" a
    shift
    for a in "$@"; do
        cmd+=" $(printf '%q' "$a")"
    done
    script -qec "$cmd" /dev/null </dev/null >"$out" 2>&1
}

# expect_tty WANT DESC PATTERN CMD...: on a terminal CMD exits WANT and its
# output shows PATTERN (grep -E).
expect_tty() {
    local want=$1 desc=$2 pat=$3 got
    shift 3
    checks=$((checks + 1))
    on_tty "$T/tty" "$@"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$desc: exit $got, want $want"
        sed -n '1,5p' "$T/tty" | cat -v
        return
    fi
    checks=$((checks + 1))
    grep -Eq -- "$pat" "$T/tty" || {
        fail "$desc: the terminal shows no /$pat/"
        cat -v "$T/tty" | head -c 600
        echo
    }
}

# progress_free DESC FILE: no progress line in FILE (no redraw, no figures).
progress_free() {
    checks=$((checks + 1))
    if grep -Eq -- $'\033\\[K|pages checked|keys hashed|keys copied|bytes read|bytes written|bytes copied|lines written' "$2"; then
        fail "$1: progress where there must be none"
        cat -v "$2" | head -c 400
        echo
    fi
}

db=$T/flat.db
expect_rc 0 "gen --flat" "$S" gen --flat --keys 3000 --seed 9 "$db"
expect_rc 0 "gen (nested and inline buckets)" "$S" gen --keys 3000 --seed 5 "$T/nested.db"
"$S" snapshot "$db" -o "$T/flat.snap" >/dev/null 2>&1 || fail "snapshot for the restore"
pages_done='pages checked ([0-9]+) of ([0-9]+) \((100)%\)'

# --- on a terminal: the figures of each long command ------------------------
expect_tty 0 "check on a terminal" "check: $pages_done" "$S" check "$db"
expect_tty 0 "hash on a terminal" "hash: keys hashed ([0-9]+) of \\1 \\(100%\\)" "$S" hash "$db"
checks=$((checks + 1))
grep -q "hash: pages checked" "$T/tty" || fail "hash shows no 'pages checked' phase"
cp "$db" "$T/defrag.db"
expect_tty 0 "defrag on a terminal" "defrag: keys copied ([0-9]+) of \\1 \\(100%\\)" "$S" defrag "$T/defrag.db"
size=$(stat -c %s "$T/flat.snap")
expect_tty 0 "restore on a terminal" "restore: bytes read $size of $size \\(100%\\)" \
    "$S" restore "$T/flat.snap" -o "$T/r1.db"
checks=$((checks + 1))
grep -Eq "restore: $pages_done" "$T/tty" || fail "restore shows no progress of its verification"
expect_tty 0 "snapshot on a terminal (its verification)" "snapshot: $pages_done" \
    "$S" snapshot "$db" -o "$T/s1.snap"
for src in "$db" "$T/nested.db"; do
    expect_tty 0 "dump on a terminal" "dump: lines written ([0-9]+) of \\1 \\(100%\\)" "$S" dump "$src"
    lines=$("$S" dump "$src" | wc -l)
    checks=$((checks + 1))
    grep -Eq "dump: lines written $lines of $lines " "$T/tty" || fail "dump's total is not its $lines lines"
done
# snapshot: the image's bytes copied of its size, then the verification's pages.
image=$("$S" snapshot --json "$db" -o "$T/s0.snap" | python3 -c 'import json, sys; print(json.load(sys.stdin)["image_bytes"])')
expect_tty 0 "snapshot on a terminal (the copy)" "snapshot: bytes copied $image of $image \(100%\)" \
    "$S" snapshot "$db" -o "$T/s1b.snap"
# snapshot --live verifies through a live open, with the same progress,
# while a process holds the writer's lock (so no lock is taken or waited for).
hold_writer_lock "$db"
expect_tty 0 "snapshot --live on a terminal (its verification)" "snapshot: $pages_done" \
    "$S" snapshot --live --timeout 100ms "$db" -o "$T/s2.snap"
checks=$((checks + 1))
grep -Eq "snapshot: bytes copied $image of $image" "$T/tty" || fail "snapshot --live shows no progress of its copy"
expect_rc 0 "the --live snapshot is a good db" "$S" check "$T/s2.snap"
release_writer_lock
# compact: keys copied of the keys the file holds (the summary's count), in
# both ways of writing the copy, on the flat file and on one with nested and
# inline buckets (whose elements in their parents are not keys).
for src in "$db" "$T/nested.db"; do
    for mode in bulk tx; do
        opts=()
        [ "$mode" = tx ] && opts=(--tx-max-size 16384)
        rm -f "$T/c-$mode.db"
        expect_tty 0 "compact ($mode) on a terminal" "compact: keys copied ([0-9]+) of \\1 \\(100%\\)" \
            "$S" compact "${opts[@]}" -o "$T/c-$mode.db" "$src"
        total=$(grep -Eo "keys copied [0-9]+ of [0-9]+ \\(100%\\)" "$T/tty" | tail -1 | awk '{ print $5 }')
        keys=$(grep -Eo "copied [0-9]+ buckets, [0-9]+ keys" "$T/tty" | awk '{ print $4 }')
        expect_eq "$total" "$keys" "compact ($mode) of $(basename "$src"): the total is the keys copied"
    done
done
# check's figures are right: what it entered is every page in use (stats' count).
on_tty "$T/tty" "$S" check "$db"
entered=$(grep -Eo "$pages_done" "$T/tty" | tail -1 | awk '{ print $3 }')
inuse=$("$S" pages "$db" | awk 'NR > 2 && $2 != "free" && $2 != "meta" && $2 != "freelist" { n += 1 + $4 } END { print n }')
expect_eq "$entered" "$inuse" "check's pages to enter are the pages in use"

# --- never on a pipe --------------------------------------------------------
for cmd in "check" "hash" "dump"; do
    "$S" "$cmd" "$db" >"$T/out" 2>"$T/err" || fail "$cmd on a pipe"
    progress_free "$cmd with stderr on a pipe" "$T/err"
done
"$S" compact -o "$T/c-pipe.db" "$db" >"$T/out" 2>"$T/err" || fail "compact on a pipe"
progress_free "compact with stderr on a pipe" "$T/err"
"$S" snapshot --live "$db" -o "$T/s-pipe.snap" >"$T/out" 2>"$T/err" || fail "snapshot --live on a pipe"
progress_free "snapshot --live with stderr on a pipe" "$T/err"
cp "$db" "$T/defrag2.db"
"$S" defrag "$T/defrag2.db" >"$T/out" 2>"$T/err" || fail "defrag on a pipe"
progress_free "defrag with stderr on a pipe" "$T/err"
"$S" restore "$T/flat.snap" -o "$T/r2.db" >"$T/out" 2>"$T/err" || fail "restore on a pipe"
progress_free "restore with stderr on a pipe" "$T/err"

# --- never with --json, even on a terminal ----------------------------------
for cmd in "check" "hash" "dump"; do
    on_tty "$T/tty" "$S" "$cmd" --json "$db" || fail "$cmd --json on a terminal"
    progress_free "$cmd --json on a terminal" "$T/tty"
done
cp "$db" "$T/defrag3.db"
on_tty "$T/tty" "$S" defrag --json "$T/defrag3.db" || fail "defrag --json on a terminal"
progress_free "defrag --json on a terminal" "$T/tty"
on_tty "$T/tty" "$S" restore --json "$T/flat.snap" -o "$T/r3.db" || fail "restore --json on a terminal"
progress_free "restore --json on a terminal" "$T/tty"
on_tty "$T/tty" "$S" compact --json -o "$T/c-json.db" "$db" || fail "compact --json on a terminal"
progress_free "compact --json on a terminal" "$T/tty"
on_tty "$T/tty" "$S" snapshot --live --json "$db" -o "$T/s-json.snap" || fail "snapshot --live --json on a terminal"
progress_free "snapshot --live --json on a terminal" "$T/tty"
finish
