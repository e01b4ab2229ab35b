#!/usr/bin/env python3
"""etcd_rt_json.py: etcdctl's JSON answers (-w json), parsed, in the
canonical one-line-per-fact form the round-trip tests compare
(test_etcd_rt*.sh; etcd_rt_writer.c prints strata's side in the same form).

    etcd_rt_json.py get REV FILE          etcdctl get --prefix "" [--rev REV] -w json
    etcd_rt_json.py hashkv REV FILE       etcdctl endpoint hashkv [--rev REV] -w json
    etcd_rt_json.py status FILE           etcdctl endpoint status -w json
    etcd_rt_json.py ids FILE              etcdctl lease list -w json: the IDs in hex
                                          (etcdctl's argument form), one a line
    etcd_rt_json.py leases FILE...        etcdctl lease timetolive --keys ID -w json,
                                          one file per lease

FILE "-" is standard input. Printed (REV 0 = the current revision):

    get rev=N count=C header=R
    kv key=HEX create=C mod=M ver=V lease=L value=HEX    (key order)
    hashkv rev=N hash=H compact=C header=R
    status rev=R
    lease id=ID ttl=GRANTED keys=HEX,HEX,...             (by ID; "-": no key)

JSON integers are read as Python integers (exact: lease IDs exceed 2^53).
Fields etcdctl leaves out (protobuf's omitempty) are 0 / empty. Exit 1 with
a message when the JSON is not what etcdctl prints.
"""
import base64
import json
import sys


def load(path):
    try:
        if path == "-":
            return json.load(sys.stdin)
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("etcd_rt_json.py: %s: not etcdctl's JSON: %s" % (path, e))


def b64hex(s):
    return base64.b64decode(s or "", validate=True).hex()


def need(obj, *path):
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            sys.exit("etcd_rt_json.py: no field %s in %s" % (".".join(path), json.dumps(obj)[:300]))
        obj = obj[p]
    return obj


def single(doc, what):
    if not isinstance(doc, list) or len(doc) != 1:
        sys.exit("etcd_rt_json.py: %s: want a list of one endpoint's answer" % what)
    return doc[0]


def kv_line(kv):
    return "kv key=%s create=%d mod=%d ver=%d lease=%d value=%s" % (
        b64hex(need(kv, "key")), kv.get("create_revision", 0), kv.get("mod_revision", 0),
        kv.get("version", 0), kv.get("lease", 0), b64hex(kv.get("value", "")))


def cmd_get(rev, path):
    doc = load(path)
    out = ["get rev=%d count=%d header=%d" % (int(rev), doc.get("count", 0),
                                             need(doc, "header", "revision"))]
    kvs = doc.get("kvs") or []
    keys = [base64.b64decode(kv["key"]) for kv in kvs]
    if keys != sorted(keys):
        sys.exit("etcd_rt_json.py: get: kvs not in key order")
    out += [kv_line(kv) for kv in kvs]
    return out


def cmd_hashkv(rev, path):
    h = need(single(load(path), "hashkv"), "HashKV")
    return ["hashkv rev=%d hash=%d compact=%d header=%d" % (
        int(rev), h.get("hash", 0), h.get("compact_revision", 0), need(h, "header", "revision"))]


def cmd_status(path):
    st = need(single(load(path), "status"), "Status")
    return ["status rev=%d" % need(st, "header", "revision")]


def cmd_ids(path):
    return ["%x" % need(l, "id") for l in load(path).get("leases") or []]


def cmd_leases(paths):
    rows = []
    for p in paths:
        d = load(p)
        keys = sorted(base64.b64decode(k) for k in d.get("keys") or [])
        rows.append((need(d, "id"), "lease id=%d ttl=%d keys=%s" % (
            need(d, "id"), d.get("granted-ttl", 0), ",".join(k.hex() for k in keys) or "-")))
    return [r[1] for r in sorted(rows)]


def main(argv):
    if len(argv) >= 3 and argv[0] in ("get", "hashkv") and len(argv) == 3:
        lines = (cmd_get if argv[0] == "get" else cmd_hashkv)(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "status":
        lines = cmd_status(argv[1])
    elif len(argv) == 2 and argv[0] == "ids":
        lines = cmd_ids(argv[1])
    elif len(argv) >= 1 and argv[0] == "leases":
        lines = cmd_leases(argv[1:])
    else:
        sys.exit("usage: etcd_rt_json.py get|hashkv REV FILE | status|ids FILE | leases FILE...")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
