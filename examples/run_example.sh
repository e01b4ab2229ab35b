#!/bin/sh
# run_example.sh PROGRAM: run an example in a fresh temporary directory
# (removed afterwards) and pass its exit status on.
set -eu
dir=$(mktemp -d "${TMPDIR:-/tmp}/strata-example-XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$1" "$dir"
