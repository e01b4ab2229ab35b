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
    etcd_rt_json.py leases-doc FILE       strata etcd leases --keys --json (one document)
    etcd_rt_json.py members FILE          etcdctl member list -w json, or strata etcd
                                          status --json: the members
    etcd_rt_json.py names FILE FIELD      the names in FIELD (etcdctl user list /
                                          role list -w json: users, roles), one a line
    etcd_rt_json.py user NAME FILE        etcdctl user get NAME -w json
    etcd_rt_json.py role NAME FILE        etcdctl role get NAME -w json
    etcd_rt_json.py auth-doc FILE         strata etcd dump --decode --json: the users
                                          and roles of buckets authUsers, authRoles
    etcd_rt_json.py auth-enabled FILE     strata etcd status --json: auth_enabled
    etcd_rt_json.py batch MANIFEST        each line of MANIFEST is one of the commands
                                          above (its words, shell-quoted), or "line TEXT" (TEXT
                                          printed as it is): one process for a whole
                                          set of answers

strata etcd's --json answers have etcdctl's field names (get: the same
document; hashkv and status: the object etcdctl wraps in a list of
endpoints, as {"HashKV": ...} and {"Status": ...}), so the same commands
read them.

FILE "-" is standard input. Printed (REV 0 = the current revision):

    get rev=N count=C header=R
    kv key=HEX create=C mod=M ver=V lease=L value=HEX    (key order)
    hashkv rev=N hash=H compact=C header=R
    status rev=R
    lease id=ID ttl=GRANTED keys=HEX,HEX,...             (by ID; "-": no key)
    member id=ID name=NAME peer=URL,... client=URL,...   (by ID)
    user name=NAME roles=ROLE,...                        ("-": none)
    role name=NAME perm=TYPE:HEXKEY:HEXEND,...           ("-": none)
    auth enabled=true|false

JSON integers are read as Python integers (exact: lease IDs exceed 2^53).
Fields etcdctl leaves out (protobuf's omitempty) are 0 / empty. Exit 1 with
a message when the JSON is not what etcdctl prints.
"""
import base64
import json
import shlex
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


def endpoint(doc, field):
    """etcdctl's [{"Endpoint": E, field: X}] or strata etcd's X itself."""
    if isinstance(doc, dict):
        return doc
    if not isinstance(doc, list) or len(doc) != 1:
        sys.exit("etcd_rt_json.py: %s: want one endpoint's answer" % field)
    return need(doc[0], field)


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
    h = endpoint(load(path), "HashKV")
    return ["hashkv rev=%d hash=%d compact=%d header=%d" % (
        int(rev), h.get("hash", 0), h.get("compact_revision", 0), need(h, "header", "revision"))]


def cmd_status(path):
    st = endpoint(load(path), "Status")
    return ["status rev=%d" % need(st, "header", "revision")]


def cmd_ids(path):
    return ["%x" % need(l, "id") for l in load(path).get("leases") or []]


def lease_row(d):
    keys = sorted(base64.b64decode(k, validate=True) for k in d.get("keys") or [])
    return (need(d, "id"), "lease id=%d ttl=%d keys=%s" % (
        need(d, "id"), d.get("granted-ttl", 0), ",".join(k.hex() for k in keys) or "-"))


def cmd_leases(paths):
    return [r[1] for r in sorted(lease_row(load(p)) for p in paths)]


def cmd_leases_doc(path):
    return [r[1] for r in sorted(lease_row(d) for d in load(path).get("leases") or [])]


def cmd_members(path):
    rows = []
    for m in load(path).get("members") or []:
        # json.dumps: a number prints as digits, anything else (a string)
        # quoted, so the comparison shows it.
        rows.append((str(need(m, "ID")), "member id=%s name=%s peer=%s client=%s" % (
            json.dumps(need(m, "ID")), m.get("name", ""), ",".join(m.get("peerURLs") or []) or "-",
            ",".join(m.get("clientURLs") or []) or "-")))
    return [r[1] for r in sorted(rows)]


def cmd_names(path, field):
    return sorted(load(path).get(field) or [])


def user_line(name, roles):
    return "user name=%s roles=%s" % (name, ",".join(sorted(roles)) or "-")


# etcd's authpb.Permission_Type: the numbers etcdctl's JSON carries.
PERM_TYPES = {0: "READ", 1: "WRITE", 2: "READWRITE"}


def role_line(name, perms):
    return "role name=%s perm=%s" % (name, ",".join(sorted(perms)) or "-")


def perm(ptype, key, end):
    return "%s:%s:%s" % (ptype, b64hex(key), b64hex(end))


def cmd_user(name, path):
    return [user_line(name, load(path).get("roles") or [])]


def cmd_role(name, path):
    perms = [perm(PERM_TYPES.get(p.get("permType", 0), "?"), p.get("key", ""),
                  p.get("range_end", "")) for p in load(path).get("perm") or []]
    return [role_line(name, perms)]


def cmd_auth_doc(path):
    users, roles = [], []
    for b in load(path).get("buckets") or []:
        for e in b.get("entries") or []:
            d = e.get("decoded")
            if b.get("name") == "authUsers":
                users.append(user_line(need(d, "name"), d.get("roles") or []))
            elif b.get("name") == "authRoles":
                roles.append(role_line(need(d, "name"), [
                    perm(p.get("permType", "READ"), p.get("key", ""), p.get("range_end", ""))
                    for p in d.get("keyPermission") or []]))
    return sorted(users) + sorted(roles)


def cmd_auth_enabled(path):
    return ["auth enabled=%s" % ("true" if need(load(path), "auth_enabled") else "false")]


def run(argv):
    if len(argv) >= 1 and argv[0] == "line":
        return [" ".join(argv[1:])]
    if len(argv) == 3 and argv[0] in ("get", "hashkv"):
        lines = (cmd_get if argv[0] == "get" else cmd_hashkv)(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "status":
        lines = cmd_status(argv[1])
    elif len(argv) == 2 and argv[0] == "ids":
        lines = cmd_ids(argv[1])
    elif len(argv) >= 1 and argv[0] == "leases":
        lines = cmd_leases(argv[1:])
    elif len(argv) == 2 and argv[0] == "leases-doc":
        lines = cmd_leases_doc(argv[1])
    elif len(argv) == 2 and argv[0] == "members":
        lines = cmd_members(argv[1])
    elif len(argv) == 3 and argv[0] == "names":
        lines = cmd_names(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "user":
        lines = cmd_user(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "role":
        lines = cmd_role(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "auth-doc":
        lines = cmd_auth_doc(argv[1])
    elif len(argv) == 2 and argv[0] == "auth-enabled":
        lines = cmd_auth_enabled(argv[1])
    else:
        sys.exit("usage: etcd_rt_json.py get|hashkv REV FILE | status|ids|leases-doc FILE | "
                 "leases FILE... | members|auth-doc|auth-enabled FILE | names FILE FIELD | "
                 "user|role NAME FILE | batch MANIFEST | line TEXT")
    return lines


def main(argv):
    if len(argv) == 2 and argv[0] == "batch":
        with open(argv[1], encoding="utf-8") as f:
            lines = [l for cmd in f for l in run(shlex.split(cmd))]
    else:
        lines = run(argv)
    for line in lines:
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
