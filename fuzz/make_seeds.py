#!/usr/bin/env python3
"""make_seeds.py: (re)write the seed corpora in fuzz/corpus/ (committed).

usage: fuzz/make_seeds.py STRATA_CLI   (every corpus)
       fuzz/make_seeds.py --codecs     (only kvpb and revkey: no CLI needed)

The db seeds are small files strata itself writes (`strata load` with
512-byte pages, so an image is a few KiB and mutations stay cheap); the
page, meta and freelist seeds are pages cut out of them plus a few
hand-built freelist pages (the loader writes no free ids). The committed
fixtures in tests/fixtures/bolt/ are a second db corpus (fuzz/meson.build).
The kvpb and revkey seeds are docs/schema.md's fixture records (section 3) plus
hand-built edge forms: unknown fields of every wire type, groups, repeated
fields, 10-byte varints, bad separators and marks.
"""
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PS = 512


def hx(b):
    return b.hex() if b else "-"


def dump(buckets):
    """buckets: list of (path list of bytes, seq, [(key, value)])."""
    lines = ["bolt-dump v1"]
    for path, seq, kvs in buckets:
        p = "/".join(x.hex() for x in path)
        lines.append(f"bucket {p} seq={seq}")
        for k, v in kvs:
            lines.append(f"key {p} {k.hex()} {hx(v)}")
    nb = sum(1 for l in lines if l.startswith("bucket "))
    nk = sum(1 for l in lines if l.startswith("key "))
    lines.append(f"end buckets={nb} keys={nk}")
    return "\n".join(lines) + "\n"


def seeds():
    yield "tiny", [([b"b"], 0, [(b"k%d" % i, b"v%d" % i) for i in range(5)])]
    yield "two_level", [
        ([b"accounts"], 3, [(b"acct-%04d" % i, b"x" * (i % 23)) for i in range(60)]),
        ([b"events"], 0, [(struct.pack(">Q", i), bytes(range(i % 40))) for i in range(40)]),
    ]
    # Canonical order: a bucket's contents at once, nested buckets in key order.
    yield "nested", [
        ([b"parent"], 0, []),
        ([b"parent", b"child-a"], 1, [(b"a%d" % i, b"%d" % i) for i in range(3)]),
        ([b"parent", b"child-b"], 0, [(b"b%02d" % i, b"y" * 30) for i in range(30)]),
        ([b"parent", b"child-b", b"deep"], 9, [(b"z", b"")]),
        ([b"parent", b"plain-holder"], 0, [(b"plain", b"value")]),
    ]
    yield "overflow", [([b"blobs"], 0, [(b"big", bytes((i * 7) & 255 for i in range(1500))),
                                        (b"small", b"s")])]


def uv(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def kv(key=b"", create=0, mod=0, ver=0, value=b"", lease=0):
    """gogoproto's mvccpb.KeyValue bytes: ascending fields, zero ones omitted."""
    out = b""
    for field, v in ((1, key), (2, create), (3, mod), (4, ver), (5, value), (6, lease)):
        if isinstance(v, bytes):
            out += (bytes([field << 3 | 2]) + uv(len(v)) + v) if v else b""
        elif v:
            out += bytes([field << 3]) + uv(v)
    return out


def codec_seeds():
    kvs = {
        "fixture-437_0": kv(b"fx/key/297", 299, 437, 3, b"r3-297"),
        "fixture-438_0t": kv(b"fx/key/005"),
        "fixture-502_0": kv(b"fx/txn/a", 502, 502, 1, b"1"),
        "fixture-489_0": kv(b"fx/key/010", 12, 489, 3, b"leased-010", 1198980067605853151),
        "lease-negative": kv(b"k", 1, 1, 1, b"v", -5),
        "int64-extremes": kv(b"k", -(1 << 63), (1 << 63) - 1, -1),
        "unknown-fields": bytes.fromhex("389601") + kv(b"k") + bytes.fromhex(
            "410102030405060708" "4a03616263" "5501020304" "5b0801636c5c"),
        "reordered-repeated": bytes.fromhex("3007" "2a0131" "2001" "18f603" "10f603" "0a016b"
                                            "0a026262"),
        "tag-alias-4294967297": bytes.fromhex("8a8080808001016b"),
        "large-value": kv(b"big", 1, 2, 3, bytes(range(256)) * 8),
        "empty": b"",
    }
    revs = {
        "fixture-437_0": bytes.fromhex("00000000000001b5" "5f" "0000000000000000"),
        "fixture-438_0t": bytes.fromhex("00000000000001b6" "5f" "0000000000000000" "74"),
        "fixture-502_2t": bytes.fromhex("00000000000001f6" "5f" "0000000000000002" "74"),
        "pair-437_0-438_0t": bytes.fromhex("00000000000001b5" "5f" "0000000000000000"
                                           "00000000000001b6" "5f" "0000000000000000" "74"),
        "bad-separator": bytes.fromhex("00000000000001b5" "2d" "0000000000000000"),
        "bad-mark": bytes.fromhex("00000000000001b6" "5f" "0000000000000000" "54"),
        "negative-main": bytes.fromhex("80000000000001b5" "5f" "0000000000000000"),
        "short": bytes.fromhex("00000000000001b5" "5f"),
    }
    for name, files in (("kvpb", kvs), ("revkey", revs)):
        d = os.path.join(HERE, "corpus", name)
        os.makedirs(d, exist_ok=True)
        for f, data in files.items():
            open(os.path.join(d, f), "wb").write(data)


def main():
    codec_seeds()
    if sys.argv[1] == "--codecs":
        return
    cli = sys.argv[1]
    out = {k: os.path.join(HERE, "corpus", k) for k in ("db", "page", "meta", "freelist")}
    for d in out.values():
        os.makedirs(d, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, buckets in seeds():
            path = os.path.join(tmp, name + ".db")
            subprocess.run([cli, "load", "--page-size", str(PS), path],
                           input=dump(buckets).encode(), check=True)
            img = open(path, "rb").read()
            # Only up to the high-water mark: the rest of the file is zeros.
            m0, m1 = (struct.unpack_from("<QQ", img, off + 56) for off in (0, PS))
            hwm = m0[0] if m0[1] >= m1[1] else m1[0]
            img = img[:hwm * PS]
            open(os.path.join(out["db"], name), "wb").write(img)
            for i in range(len(img) // PS):
                page = img[i * PS:(i + 1) * PS]
                flags = struct.unpack_from("<H", page, 8)[0]
                if i < 2:
                    open(os.path.join(out["meta"], f"{name}-{i}"), "wb").write(page)
                elif flags in (0x01, 0x02):
                    ov = struct.unpack_from("<I", page, 12)[0]
                    run = img[i * PS:(i + 1 + ov) * PS]
                    open(os.path.join(out["page"], f"{name}-{i}"), "wb").write(run)
                elif flags == 0x10:
                    open(os.path.join(out["freelist"], f"{name}-{i}"), "wb").write(
                        struct.pack("<Q", hwm) + page)
    # Hand-built freelist pages: ids (any order), and the 0xFFFF count escape.
    def fl(hwm, ids, escape=False):
        hdr = struct.pack("<QHHI", 2, 0x10, 0xFFFF if escape else len(ids), 0)
        body = (struct.pack("<Q", len(ids)) if escape else b"") + b"".join(
            struct.pack("<Q", i) for i in ids)
        page = hdr + body
        page += b"\0" * (-len(page) % PS)
        return struct.pack("<Q", hwm) + page
    open(os.path.join(out["freelist"], "ids"), "wb").write(fl(64, [9, 3, 4, 5, 40, 41, 63]))
    open(os.path.join(out["freelist"], "escape"), "wb").write(fl(200, list(range(10, 80)), True))


if __name__ == "__main__":
    main()
