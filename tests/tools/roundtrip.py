#!/usr/bin/env python3
"""roundtrip.py STRATA DB DUMP FORMAT [--json] [--max-per-bucket N]: every bucket and key that
`strata buckets` / `strata keys` list for DB, in FORMAT (auto, hex or
escaped; bucket names and keys alike), is given back as printed to
`strata keys` / `strata get`, and what comes back is checked against the
canonical dump DUMP (bolt-dump v1, written by strata or by bbolt): the same
buckets, the same keys, the same values. With --json the listings and the
values are read from --json output instead of text. Exit 0 when every one
round-trips, 1 with the differences listed. --max-per-bucket N fetches
only N keys of each bucket (spread evenly over the listing; every bucket is
still walked and every listed key still compared with the dump's set)."""
import json
import subprocess
import sys

strata, db, dump, fmt = sys.argv[1:5]
use_json = "--json" in sys.argv[5:]
max_per = None
if "--max-per-bucket" in sys.argv[5:]:
    max_per = int(sys.argv[sys.argv.index("--max-per-bucket") + 1])


def unhex(s):
    return bytes.fromhex(s) if s != "-" else b""


def decode(text, fmt):
    """The bytes a printed name stands for (cli_util.h's rule)."""
    if fmt == "hex":
        return bytes.fromhex(text[2:] if text.startswith("0x") else text)
    if fmt == "escaped":
        out, i, b = bytearray(), 0, text.encode("latin-1")
        while i < len(b):
            if b[i : i + 2] == b"\\\\":
                out += b"\\"
                i += 2
            elif b[i : i + 2] == b"\\x":
                out.append(int(b[i + 2 : i + 4], 16))
                i += 4
            else:
                out.append(b[i])
                i += 1
        return bytes(out)
    if text.startswith("0x"):  # auto
        return bytes.fromhex(text[2:])
    return text.encode("latin-1")


# The truth: buckets and keys of the dump.
want_buckets, want_keys = set(), {}
for line in open(dump):
    f = line.split()
    if f[0] == "bucket":
        want_buckets.add(tuple(unhex(p) for p in f[1].split("/")))
    elif f[0] == "key" and f[1] != "-":
        path = tuple(unhex(p) for p in f[1].split("/"))
        want_keys[path + (unhex(f[2]),)] = unhex(f[3])

opts = ["--key-format", fmt, "--bucket-format", fmt]
problems = []
got_buckets, got_keys = set(), {}
calls = 0


def run(args):
    global calls
    calls += 1
    p = subprocess.run([strata] + args, capture_output=True)
    if p.returncode != 0:
        problems.append("strata %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.decode("latin-1").strip().split("\n")[0]))
        return None
    return p.stdout


def listing(args):
    """(printed name, is_bucket) of a buckets/keys listing."""
    out = run(args + (["--json"] if use_json else []))
    if out is None:
        return []
    if use_json:
        d = json.loads(out)
        if "buckets" in d:
            return [(n, True) for n in d["buckets"]]
        return [(e["key"], e["bucket"]) for e in d["keys"]]
    rows = []
    for line in out.decode("latin-1").split("\n")[:-1]:
        if line.endswith("\t(bucket)"):
            rows.append((line[: -len("\t(bucket)")], True))
        else:
            rows.append((line, args[0] == "buckets"))
    return rows


listed_keys = set()


def walk(printed_path, path):
    rows = listing(["keys"] + opts + [db] + printed_path)
    plain = [i for i, (_, is_bucket) in enumerate(rows) if not is_bucket]
    fetch = set(plain)
    if max_per is not None and len(plain) > max_per:
        fetch = {plain[j * len(plain) // max_per] for j in range(max_per)}
    for i, (name, is_bucket) in enumerate(rows):
        b = decode(name, fmt)
        if is_bucket:
            got_buckets.add(path + (b,))
            walk(printed_path + [name], path + (b,))
            continue
        listed_keys.add(path + (b,))
        if i not in fetch:
            continue
        args = ["get"] + opts + [db] + printed_path + [name]
        if use_json:
            out = run(args + ["--json", "--value-format", "hex"])
            value = None if out is None else bytes.fromhex(json.loads(out)["value"])
        else:
            out = run(args + ["--value-format", "bytes"])
            value = out
        if value is not None:
            got_keys[path + (b,)] = value


for name, _ in listing(["buckets", "--bucket-format", fmt, db]):
    b = decode(name, fmt)
    got_buckets.add((b,))
    walk([name], (b,))

if got_buckets != want_buckets:
    problems.append("buckets differ: missing %r, extra %r" % (sorted(want_buckets - got_buckets)[:5], sorted(got_buckets - want_buckets)[:5]))
root_plain = {k for k in want_keys if len(k) == 1}  # plain keys of the root: not listed by buckets
if listed_keys != set(want_keys) - root_plain:
    problems.append("listed keys differ from the dump's: missing %r, extra %r" % (sorted(set(want_keys) - root_plain - listed_keys)[:5], sorted(listed_keys - set(want_keys))[:5]))
for k in sorted(set(want_keys) - root_plain):
    if k not in got_keys:
        if max_per is None:
            problems.append("key %r not reached" % (k,))
    elif got_keys[k] != want_keys[k]:
        problems.append("key %r: get gave %r, the dump has %r" % (k, got_keys[k][:40], want_keys[k][:40]))
for k in sorted(set(got_keys) - set(want_keys)):
    problems.append("key %r listed but not in the dump" % (k,))
print("%s %s%s: %d buckets, %d keys, %d strata runs" % (db, fmt, " json" if use_json else "", len(got_buckets), len(got_keys), calls))
for p in problems[:20]:
    print("  " + p)
sys.exit(1 if problems else 0)
