#!/usr/bin/env python3
"""Writes fuzz/corpus/mvcc_restore/: seed inputs for fuzz_mvcc_restore.c.

Format (see fuzz_mvcc_restore.c): flags byte (bit 0 scheduledCompactRev,
bit 1 finishedCompactRev, bit 2 consistent_index), each set mark as
[len:1][bytes], then `key` bucket records [klen:1][key][vlen:2 LE][value].
Records are etcd's (docs/schema.md §3.1, §3.2): revision keys and gogoproto
KeyValues, good ones and a few damaged ones.
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus', 'mvcc_restore')


def varint(n):
    n &= (1 << 64) - 1
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def revkey(main, sub, tomb=False):
    return struct.pack('>q', main) + b'_' + struct.pack('>q', sub) + (b't' if tomb else b'')


def kv(key, create=0, mod=0, ver=0, value=b'', lease=0):
    out = b'\x0a' + varint(len(key)) + key
    for tag, v in ((0x10, create), (0x18, mod), (0x20, ver)):
        if v:
            out += bytes([tag]) + varint(v)
    if value:
        out += b'\x2a' + varint(len(value)) + value
    if lease:
        out += b'\x30' + varint(lease)
    return out


def rec(k, v):
    return bytes([len(k)]) + k + struct.pack('<H', len(v)) + v


def mark(b):
    return bytes([len(b)]) + b


def seed(name, records, sched=None, fin=None, ci=None):
    flags = 0
    head = b''
    if sched is not None:
        flags |= 1
        head += mark(revkey(sched, 0))
    if fin is not None:
        flags |= 2
        head += mark(revkey(fin, 0))
    if ci is not None:
        flags |= 4
        head += mark(struct.pack('>Q', ci))
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(bytes([flags]) + head + b''.join(records))


def history():
    """put a@2, put b@3, put a@4, txn@5 {put c, put c, del b}, del a@6, put a@7."""
    r = []
    r.append(rec(revkey(2, 0), kv(b'a', 2, 2, 1, b'1')))
    r.append(rec(revkey(3, 0), kv(b'b', 3, 3, 1, b'1')))
    r.append(rec(revkey(4, 0), kv(b'a', 2, 4, 2, b'2')))
    r.append(rec(revkey(5, 0), kv(b'c', 5, 5, 1, b'x')))
    r.append(rec(revkey(5, 1), kv(b'c', 5, 5, 2, b'y')))
    r.append(rec(revkey(5, 2, True), kv(b'b')))
    r.append(rec(revkey(6, 0, True), kv(b'a')))
    r.append(rec(revkey(7, 0), kv(b'a', 7, 7, 1, b'3', lease=0)))
    return r


def main():
    os.makedirs(OUT, exist_ok=True)
    seed('empty', [])
    seed('history', history())
    # compacted at 5: a's 4_0, c's 5_1 kept; b deleted at 5 is gone
    seed('compacted', [rec(revkey(4, 0), kv(b'a', 2, 4, 2, b'2')),
                       rec(revkey(5, 1), kv(b'c', 5, 5, 2, b'y')),
                       rec(revkey(6, 0, True), kv(b'a')),
                       rec(revkey(7, 0), kv(b'a', 7, 7, 1, b'3'))], sched=5, fin=5)
    # a compaction at 5 scheduled, not finished: the full history is there
    seed('unfinished', history(), sched=5, fin=None, ci=77)
    # etcd issue 17780: everything <= 6 deleted, finished mark missing
    seed('issue17780', [rec(revkey(7, 0), kv(b'a', 7, 7, 1, b'3'))], sched=6)
    seed('bad-revkey', history()[:3] + [rec(b'abc', kv(b'a', 2, 9, 3, b'z'))])
    seed('bad-protobuf', history()[:2] + [rec(revkey(4, 0), b'\x0a\x7f')])
    seed('bad-version', history()[:2] + [rec(revkey(4, 0), kv(b'a', 2, 4, 5, b'2'))])
    seed('bad-mark', history(), fin=None, sched=None, ci=None)
    with open(os.path.join(OUT, 'bad-meta'), 'wb') as f:
        f.write(bytes([2]) + mark(b'\x00\x01') + b''.join(history()))
    seed('leased', [rec(revkey(2, 0), kv(b'k', 2, 2, 1, b'v', lease=-5))])


if __name__ == '__main__':
    main()
