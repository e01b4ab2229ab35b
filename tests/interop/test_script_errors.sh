#!/bin/bash
# test_script_errors.sh STRATA MVCCORACLE: the lexical rules and the script
# errors of the mvcc script language (ORACLE.md §1, §2), strata script
# against the real etcd mvcc oracle. Each case below (cases are separated
# by lines of `----`) is a short script; both sides must print the same
# output and exit with the same status: 0, or 2 for a script error, whose
# output stops after the line before the bad one (stderr is not compared:
# the messages are each program's own).
#
# The cases cover quoting and escapes, comments, options and flags (given
# twice, quoted look-alikes), numbers as Go's ParseInt reads them, key
# ranges (empty keys, "" prefix, END "\x00", 0xff prefixes), usage errors
# of every kv op, ops not allowed inside a txn, end without txn and a
# script that ends inside a txn; and the lessor's and the watchers' usage
# errors (cases starting with `#needs lease` / `#needs watch`, run when
# `strata script --list-ops` has the op).
set -u
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
    echo "usage: $0 STRATA MVCCORACLE" >&2
    exit 2
fi
strata=$1 oracle=$2
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-script-errors.XXXXXX")
trap 'rm -rf "$T"' EXIT

cat >"$T/cases" <<'CASES'
put a 1
put "b c" "x\ty\n"
put "\x00\xff\xFe" "\\\"\r\0"
range "" prefix
range a fromkey keysonly
----
put a"b c
range a"b
----
put a 1
put "a 2
----
put a 1
put "a\q" 1
----
put a 1
put "a\x4" 1
----
put a 1
put "a\xzz" 1
----
put a 1
put "a"b 1
----
put a 1
put "a\
----
put a 1  # comment "unterminated
put b#c 2 # the # inside a token is a byte
range b#c
#put c 3
   # indented comment
range a fromkey
----
put a 1
"put" b 2
----
put a 1
frobnicate
----
put a 1
put
----
put a
----
put a b c d
----
put "" x
----
put a 1 lease=x
----
put a 1 5 lease=0
----
put a 1 0
put b 2 lease=0
put c 3 +0
range a fromkey
----
put a 1
range "count"
range a count
range "a" "rev=1"
range a rev=1 rev=1
----
range a rev=x
----
range a rev=
----
range a limit=1.5
----
range a rev=+1
range a rev=-0
range a rev=007
range a limit=-1
range a rev=9223372036854775807
----
range a rev=9223372036854775808
----
range a rev=0x1
----
range a rev=1_0
----
put a 1
range
----
range ""
----
range "" fromkey
----
range "" prefix fromkey
range "" b
----
range a b prefix
----
range a prefix fromkey
----
range a b c
----
put a 1
put b 2
range a "" keysonly
range a "\x00"
range "\xff\xff" prefix
range "a\xff" prefix
del a "\x00"
----
del ""
----
del a b prefix
----
put a 1
compact
----
compact 1 2
----
compact x
----
hash 1 2
----
hash x
----
hashall x
----
rev 1
----
commit now
----
defrag x
----
reopen x
----
txn
put a 1
compact 1
----
txn
put a 1
txn
----
txn
put a 1
hash
----
txn
put a 1
rev
----
txn
put a 1
reopen
----
txn
put a 1
bogus
----
txn
put a 1
end x
----
put a 1
end
----
txn now
----
txn
put a 1
range a
----
txn
end
txn
put a 1
del a
put a 2
del b
range a
end
range a
----
#needs lease
lease
----
#needs lease
lease "grant" 1 2
----
#needs lease
lease grant 1
----
#needs lease
lease grant x 5
----
#needs lease
lease frob 1
----
#needs lease
lease list 1
----
#needs lease
lease get
----
#needs lease
lease grant 1 10 extra
----
#needs lease
lease grant 1 10 ttl=5
----
#needs lease
lease revoke 1 2
----
#needs lease
lease renew
----
#needs lease
put a 1 lease=1
lease grant 1 10
put a 1 lease=1 2
----
#needs lease
lease grant "1" "10"
lease get "1"
----
#needs lease
txn
lease grant 1 5
----
#needs watch
watch
----
#needs watch
watch 1
----
#needs watch
watch x a
----
#needs watch
watch -1 a
----
#needs watch
watch 1 a rev=1 startrev=2
watch "2" a noput nodelete prefix
watch 3 a rev=x
----
#needs watch
watch 1 ""
----
#needs watch
watch 1 "" prefix
watch 2 a b c
----
#needs watch
cancel
----
#needs watch
cancel x
----
#needs watch
cancel 1 2
----
#needs watch
watch 1 a rev=1 rev=2
----
#needs watch
txn
watch 1 a
CASES

ops=$("$strata" script --list-ops)
failures=0 n=0 skipped=0
awk -v d="$T" 'BEGIN { n = 0; f = d "/case0.txt" } /^----$/ { n++; f = d "/case" n ".txt"; next } { print > f }' "$T/cases"
for txt in "$T"/case*.txt; do
    n=$((n + 1))
    c=$(basename "$txt" .txt)
    need=$(sed -n '1s/^#needs //p' "$txt")
    if [ -n "$need" ] && ! printf '%s\n' "$ops" | grep -qx "$need"; then
        skipped=$((skipped + 1))
        n=$((n - 1))
        continue
    fi
    "$oracle" <"$txt" >"$T/$c.o" 2>"$T/$c.oerr"
    orc=$?
    "$strata" script <"$txt" >"$T/$c.t" 2>"$T/$c.terr"
    trc=$?
    if [ "$orc" -ne "$trc" ] || ! cmp -s "$T/$c.o" "$T/$c.t"; then
        failures=$((failures + 1))
        echo "FAIL: $c: exit $trc, etcd's oracle $orc; the script:"
        sed 's/^/    /' "$txt"
        echo "  etcd:   $(head -c 300 "$T/$c.oerr")"
        echo "  strata: $(head -c 300 "$T/$c.terr")"
        diff "$T/$c.o" "$T/$c.t" | sed -n '1,6p'
    elif [ "$trc" -ne 0 ] && [ ! -s "$T/$c.terr" ]; then
        failures=$((failures + 1))
        echo "FAIL: $c: exit $trc without a message on stderr"
    fi
done
echo "figure: script errors: $n cases, $failures different from etcd's oracle ($skipped not run: their ops are not in this build)"
[ "$failures" -eq 0 ] || exit 1
echo "ok"
