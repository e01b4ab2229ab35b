#!/usr/bin/env bash
# test_install.sh SRCDIR CC: strata as a new user gets it.
#
# 1. Configure SRCDIR with -Dtests=false into a temporary build directory
#    and prefix, build and `meson install`; the build must hold only the
#    library and the CLI (no test, fuzz, example or benchmark program).
# 2. Build every examples/*.c against the INSTALLED headers and libraries
#    with pkg-config, twice: linked with the shared libstrata (run with the
#    prefix's library directory), and fully static with `pkg-config
#    --static` (which must list everything libstrata.a needs: no -l flag
#    added by hand); run each in a fresh directory.
# Also: libstrata.so needs no allocator (jemalloc) and no C++ runtime.
# Exit 0 only if every step worked. Temporary files are removed.
set -euo pipefail
src=$(cd "$1" && pwd)
cc=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/strata-install-XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

step() { echo "== $*"; }

step "configure -Dtests=false --prefix $prefix"
CC=$cc meson setup "$work/build" "$src" --prefix "$prefix" -Dtests=false \
    -Dbuildtype=release -Dallocator=system -Dinterop=disabled >"$work/setup.log" ||
    { cat "$work/setup.log"; exit 1; }

step "targets of a -Dtests=false build"
meson introspect "$work/build" --targets | python3 -c '
import json, os, sys
src = os.path.realpath(sys.argv[1])
targets = json.load(sys.stdin)
print(" ".join(sorted(t["name"] for t in targets)))
# Nothing from the directories that hold tests, fuzzers, examples and benchmarks.
banned = ("tests", "fuzz", "examples", os.path.join("tools", "bench"))
extra = []
for t in targets:
    rel = os.path.relpath(os.path.dirname(os.path.realpath(t["defined_in"])), src)
    if rel.split(os.sep)[0] in banned[:3] or rel.startswith(banned[3]):
        extra.append(t["name"] + " (" + rel + ")")
if extra:
    sys.exit("built with -Dtests=false: " + " ".join(extra))
if not any(t["name"] == "strata" and t["type"] == "executable" for t in targets):
    sys.exit("-Dtests=false does not build the strata CLI")
' "$src"

step "build and install"
ninja -C "$work/build" -j 1 >"$work/build.log" || { tail -40 "$work/build.log"; exit 1; }
meson install -C "$work/build" --no-rebuild >"$work/install.log" || { cat "$work/install.log"; exit 1; }
pc=$(find "$prefix" -name strata.pc | head -1)
[ -n "$pc" ] || { echo "no strata.pc installed under $prefix"; exit 1; }
[ -x "$prefix/bin/strata" ] || { echo "the strata CLI was not installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir strata)
echo "pkg-config --cflags --libs strata: $(pkg-config --cflags --libs strata)"
echo "pkg-config --static --libs strata: $(pkg-config --static --libs strata)"
"$prefix/bin/strata" --version

step "libstrata.so's dependencies"
# The library links no allocator (nor the C++ runtime jemalloc brings).
needed=$(readelf -d "$libdir/libstrata.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "NEEDED: $needed"
case " $needed" in
*jemalloc* | *stdc++*)
    echo "libstrata.so depends on an allocator or the C++ runtime"
    exit 1
    ;;
esac

for ex in "$src"/examples/*.c; do
    name=$(basename "$ex" .c)
    step "$name: shared"
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -o "$work/$name-shared" "$ex" \
        $(pkg-config --cflags --libs strata)
    if ldd "$work/$name-shared" | grep -q jemalloc; then
        echo "$name linked against libstrata pulls in jemalloc"
        exit 1
    fi
    mkdir "$work/run-$name-shared"
    LD_LIBRARY_PATH=$libdir "$work/$name-shared" "$work/run-$name-shared"

    step "$name: static (pkg-config --static, -static)"
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -static -o "$work/$name-static" "$ex" \
        $(pkg-config --static --cflags --libs strata)
    mkdir "$work/run-$name-static"
    "$work/$name-static" "$work/run-$name-static"
done
echo "install test: ok"
