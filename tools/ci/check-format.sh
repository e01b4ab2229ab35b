#!/usr/bin/env bash
# check-format.sh: every tracked C file is formatted by the repo's
# .clang-format (a meson test in the normal build).
set -euo pipefail
cd "$(dirname "$0")/../.."
files=$(git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
