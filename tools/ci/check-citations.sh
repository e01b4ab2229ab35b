#!/usr/bin/env bash
# check-citations.sh: the project documents itself. Sources, headers, build
# files and docs cite the project's own docs/ (format.md, schema.md,
# design.md, bench.md), never the specs outside the repository (FORMAT.md,
# SCHEMA.md, DESIGN.md, STYLE.md, BENCH.md), which a reader of the
# repository does not have. A meson test in the normal build (suite style).
set -euo pipefail
cd "$(dirname "$0")/../.."
files=$(git ls-files --cached --others --exclude-standard 2>/dev/null ||
    find . -type f -not -path './build*' -not -path './.git/*')
[ -n "$files" ] || exit 0
# A name not preceded by a path ("docs/format.md" is fine; "FORMAT.md" and
# "spec/FORMAT.md" are not).
pattern='(^|[^a-z/_.-]|spec/)(FORMAT|SCHEMA|DESIGN|STYLE|BENCH)\.md'
# shellcheck disable=SC2086
if hits=$(printf '%s\n' $files | grep -v '^tools/ci/check-citations.sh$' |
    xargs grep -InE "$pattern" 2>/dev/null); then
    echo "$hits"
    echo "cite docs/format.md, docs/schema.md, docs/design.md or docs/bench.md instead" >&2
    exit 1
fi
