#!/usr/bin/env python3
"""check_exports.py NM LIBSTRATA.so INCLUDEDIR

INCLUDEDIR/*.h are the installed headers (meson installs include/strata whole).

libstrata.so's dynamic symbol table must be exactly the public API: every
function it exports is declared in an installed header, and every function
an installed header declares is marked STRATA_API and exported. Internal
names (bolt__*, backend__*, idx__*, the codecs) stay hidden because every
layer is compiled with -fvisibility=hidden; a STRATA_API on a private
declaration, or a header declaration without it, fails here.

Exit 0 when the two sets agree; 1 with every difference listed otherwise.
"""
import glob
import os
import re
import subprocess
import sys

# Symbols the toolchain defines in every shared object, and the sanitizer
# runtimes' instrumentation (reserved names: none of ours starts with "__").
LINKER = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        kind, name = parts[1], parts[2].split("@")[0]
        if name in LINKER or name.startswith("__"):
            continue
        names.add((name, kind))
    return names


def declarations(path):
    """(name, has STRATA_API) for every function declared at file scope."""
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    # Preprocessor lines, with their continuations (macros are not symbols).
    text = re.sub(r"^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", " ", text, flags=re.M)
    text = text.replace('extern "C" {', " ")
    # Bodies (structs, enums, static inline functions) become one `;`, so a
    # declaration never runs into the next.
    while True:
        new = re.sub(r"\{[^{}]*\}", ";", text)
        if new == text:
            break
        text = new
    found = []
    for stmt in text.split(";"):
        stmt = " ".join(stmt.split())
        if not stmt or stmt.startswith(("typedef", "static", "struct", "enum", "union")):
            continue
        if "(" not in stmt and re.match(r"(STRATA_API )?extern ", stmt):
            found.append((stmt.split()[-1].strip("*[]0123456789"), "STRATA_API" in stmt))
            continue
        m = re.match(r"(?:[\w\s\*]+?)\b(\w+)\s*\(", stmt)
        if not m or m.group(1) in ("STRATA_API",):
            continue
        found.append((m.group(1), "STRATA_API" in stmt.split("(")[0]))
    return found


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    nm, lib = sys.argv[1], sys.argv[2]
    headers = sorted(glob.glob(os.path.join(sys.argv[3], "*.h")))
    if not headers:
        print(f"no headers in {sys.argv[3]}", file=sys.stderr)
        return 2
    syms = exported(nm, lib)
    declared = {}
    problems = []
    for h in headers:
        for name, api in declarations(h):
            declared[name] = h
            if not api:
                problems.append(f"{h}: {name} is declared without STRATA_API")
    for name, kind in sorted(syms):
        if name not in declared:
            problems.append(f"{lib}: exports {name} ({kind}), which no installed header declares")
    names = {n for n, _ in syms}
    for name, h in sorted(declared.items()):
        if name not in names:
            problems.append(f"{h}: {name} is declared but {lib} does not export it")
    print(f"{len(syms)} exported symbols, {len(declared)} declared functions")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
