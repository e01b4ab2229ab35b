#!/usr/bin/env bash
# test.sh: `make test`. Builds and runs the whole suite in every build type
# (normal; ASan+UBSan with the system allocator), the fuzzers (clang,
# libFuzzer + ASan+UBSan, 30 s per target) and the concurrency tests under
# ThreadSanitizer, then prints the closing line
# `tests: N passed, N failed[, N skipped]` over all of them.
# A build that fails to configure or compile counts as one failed test.
# Exit status: 0 only when nothing failed.
set -uo pipefail
cd "$(dirname "$0")/../.."

jobs=${STRATA_JOBS:-$(nproc)}
passed=0 failed=0 skipped=0

count_results() { # builddir -> "passed failed skipped"
    python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result", "")
        if r in ("OK", "EXPECTEDFAIL"):
            p += 1
        elif r == "SKIP":
            s += 1
        else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS
            f += 1
except FileNotFoundError:
    f = 1
print(p, f, s)
PY
}

run_build() { # name builddir meson-options...  ($SUITES: meson test's --suite args)
    local name=$1 dir=$2
    shift 2
    echo "=== $name build ($dir)"
    if [ ! -f "$dir/build.ninja" ]; then
        if ! meson setup "$dir" "$@" >"$dir.setup.log" 2>&1; then
            cat "$dir.setup.log"
            echo "=== $name: configure FAILED"
            failed=$((failed + 1))
            return
        fi
    fi
    if ! ninja -C "$dir" -j "$jobs"; then
        echo "=== $name: build FAILED"
        failed=$((failed + 1))
        return
    fi
    rm -f "$dir/meson-logs/testlog.json"
    # shellcheck disable=SC2086
    meson test -C "$dir" --print-errorlogs --num-processes "$jobs" ${SUITES:-} || true
    read -r p f s < <(count_results "$dir")
    # Tests that measure something print `figure: ...` lines; show them.
    grep -h '^figure: ' "$dir/meson-logs/testlog.txt" 2>/dev/null || true
    echo "=== $name: $p passed, $f failed, $s skipped"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

mkdir -p build
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}

# Failpoints (crash and fault-injection tests) exist only in these test builds.
run_build normal build/test -Dbuildtype=release -Db_ndebug=false -Dfailpoints=true
run_build asan build/asan -Dbuildtype=debug -Db_sanitize=address,undefined \
    -Db_lundef=false -Dallocator=system -Dinterop=disabled -Dfailpoints=true
# The fuzz build registers only the fuzzers (fuzz/meson.build).
CC=clang run_build fuzz build/fuzz -Dbuildtype=debugoptimized -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dallocator=system -Dinterop=disabled
# ThreadSanitizer: only the concurrency tests (small map reservations: TSan
# limits the address space).
SUITES="--suite concurrency" run_build tsan build/tsan -Dbuildtype=debugoptimized \
    -Db_sanitize=thread -Dallocator=system -Dinterop=disabled -Dfailpoints=true

line="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
