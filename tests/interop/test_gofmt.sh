#!/bin/sh
# test_gofmt.sh: the Go sources of the interop tools are gofmt'ed (the Go
# counterpart of the clang-format style test). Prints the offending files.
dir="$(dirname "$0")/boltcheck $(dirname "$0")/etcdbackend $(dirname "$0")/etcdcodec"
gofmt=$(command -v gofmt || echo "$(go env GOROOT 2>/dev/null)/bin/gofmt")
out=$("$gofmt" -l $dir) || exit 1
if [ -n "$out" ]; then
    echo "not gofmt'ed (run gofmt -w tests/interop/boltcheck):"
    echo "$out"
    exit 1
fi
echo "gofmt: ok"
