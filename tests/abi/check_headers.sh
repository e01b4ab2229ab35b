#!/usr/bin/env bash
# check_headers.sh INCLUDEDIR CC [CXX]: every installed header compiles on
# its own (self-contained, first include of a translation unit) and all of
# them together, as C99, C11 and (with CXX) C++11 and C++17, with -Wall
# -Wextra -Wpedantic -Werror: an application may use any of these. Fails
# on the first header that does not.
set -uo pipefail
inc=$1 cc=$2 cxx=${3:-}
flags=(-Wall -Wextra -Wpedantic -Werror -fsyntax-only -I"$inc/..")
headers=()
for h in "$inc"/*.h; do headers+=("strata/$(basename "$h")"); done
[ ${#headers[@]} -gt 0 ] || { echo "no headers in $inc"; exit 1; }

fail=0
try() { # label compiler-and-flags... < source
    local label=$1
    shift
    if ! out=$("$@" 2>&1); then
        echo "FAIL $label"
        echo "$out"
        fail=1
    else
        echo "ok   $label"
    fi
}
all=""
for h in "${headers[@]}"; do all+="#include <$h>"$'\n'; done
for unit in "${headers[@]}" all; do
    if [ "$unit" = all ]; then src=$all; else src="#include <$unit>"$'\n'; fi
    for std in c99 c11; do
        try "$unit as $std" "$cc" -std="$std" "${flags[@]}" -x c - <<<"$src"
    done
    if [ -n "$cxx" ]; then
        for std in c++11 c++17; do
            try "$unit as $std" "$cxx" -std="$std" "${flags[@]}" -x c++ - <<<"$src"
        done
    fi
done
[ -n "$cxx" ] || { echo "FAIL no C++ compiler given"; fail=1; }
exit $fail
