/*
 * etcd_pb.c: the etcd server's records (etcd_pb.h): authpb users and
 * roles, alarms, members. The wire rules are common/pbwire.h's (the ones
 * strata's KeyValue and Lease decoders follow).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <strata/common.h>

#include "cli_json.h"
#include "etcd_db.h"
#include "etcd_pb.h"
#include "pbwire.h"

/* One field: its number, and its value (varint, or bytes as a view). */
typedef struct pb_field {
    uint32_t num;
    unsigned wt;
    uint64_t u;
    bolt_val b;
} pb_field;

/*
 * The next field of [*pp, end) whose number is in known (wire type checked
 * against want[i]); unknown fields are skipped. 1 and *f; 0 at the end;
 * a STRATA_EPB* code.
 */
static int pb_next(const uint8_t **pp, const uint8_t *end, const uint32_t *known,
                   const unsigned *want, size_t n, pb_field *f)
{
    while (*pp < end) {
        const uint8_t *tag_start = *pp;
        uint32_t num;
        unsigned wt;
        int rc = strata__pb_tag(pp, end, &num, &wt);
        if (rc != 0)
            return rc;
        size_t i = 0;
        while (i < n && known[i] != num)
            i++;
        if (i == n) {
            if ((rc = strata__pb_skip(pp, end, wt, tag_start)) != 0)
                return rc;
            continue;
        }
        if (wt != want[i])
            return STRATA_EPBWIRETYPE;
        f->num = num;
        f->wt = wt;
        if (wt == STRATA__PB_VARINT) {
            rc = strata__uv_get(pp, end, &f->u);
        } else {
            const uint8_t *d = NULL;
            size_t len = 0;
            rc = strata__pb_bytes(pp, end, &d, &len);
            f->b = (bolt_val){ d, len };
        }
        return rc != 0 ? rc : 1;
    }
    return 0;
}

static int grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? 2 * *cap : 4;
    void *p = realloc(*arr, c * size);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    *cap = c;
    return 0;
}

int etcd_user_decode(bolt_val v, etcd_user *out)
{
    static const uint32_t known[] = { 1, 2, 3, 4 };
    static const unsigned want[] = { STRATA__PB_BYTES, STRATA__PB_BYTES, STRATA__PB_BYTES,
                                     STRATA__PB_BYTES };
    etcd_user u = { 0 };
    size_t cap = 0;
    const uint8_t *p = v.data, *end = p + v.size;
    pb_field f;
    int rc;
    while ((rc = pb_next(&p, end, known, want, 4, &f)) == 1) {
        if (f.num == 1) {
            u.name = f.b;
        } else if (f.num == 2) {
            u.password = f.b;
        } else if (f.num == 3) {
            if ((rc = grow((void **)&u.roles, u.nroles, &cap, sizeof *u.roles)) != 0)
                break;
            u.roles[u.nroles++] = f.b;
        } else { /* UserAddOptions: a message merged into the field */
            static const uint32_t oknown[] = { 1 };
            static const unsigned owant[] = { STRATA__PB_VARINT };
            const uint8_t *q = f.b.data, *qend = q + f.b.size;
            pb_field g;
            while ((rc = pb_next(&q, qend, oknown, owant, 1, &g)) == 1)
                u.no_password = g.u != 0;
            if (rc != 0)
                break;
        }
    }
    if (rc != 0) {
        free(u.roles);
        return rc;
    }
    *out = u;
    return 0;
}

void etcd_user_free(etcd_user *u)
{
    free(u->roles);
    u->roles = NULL;
    u->nroles = 0;
}

/* gogo reads an enum as int32(varint): the low 32 bits. */
static int32_t enum32(uint64_t u)
{
    return (int32_t)(uint32_t)u;
}

static int perm_decode(bolt_val v, etcd_perm *out)
{
    static const uint32_t known[] = { 1, 2, 3 };
    static const unsigned want[] = { STRATA__PB_VARINT, STRATA__PB_BYTES, STRATA__PB_BYTES };
    etcd_perm pm = { 0 };
    const uint8_t *p = v.data, *end = p + v.size;
    pb_field f;
    int rc;
    while ((rc = pb_next(&p, end, known, want, 3, &f)) == 1) {
        if (f.num == 1)
            pm.type = enum32(f.u);
        else if (f.num == 2)
            pm.key = f.b;
        else
            pm.range_end = f.b;
    }
    if (rc != 0)
        return rc;
    *out = pm;
    return 0;
}

int etcd_role_decode(bolt_val v, etcd_role *out)
{
    static const uint32_t known[] = { 1, 2 };
    static const unsigned want[] = { STRATA__PB_BYTES, STRATA__PB_BYTES };
    etcd_role r = { 0 };
    size_t cap = 0;
    const uint8_t *p = v.data, *end = p + v.size;
    pb_field f;
    int rc;
    while ((rc = pb_next(&p, end, known, want, 2, &f)) == 1) {
        if (f.num == 1) {
            r.name = f.b;
            continue;
        }
        if ((rc = grow((void **)&r.perms, r.nperms, &cap, sizeof *r.perms)) != 0)
            break;
        if ((rc = perm_decode(f.b, &r.perms[r.nperms])) != 0)
            break;
        r.nperms++;
    }
    if (rc != 0) {
        free(r.perms);
        return rc;
    }
    *out = r;
    return 0;
}

void etcd_role_free(etcd_role *r)
{
    free(r->perms);
    r->perms = NULL;
    r->nperms = 0;
}

int etcd_alarm_decode(bolt_val v, etcd_alarm *out)
{
    static const uint32_t known[] = { 1, 2 };
    static const unsigned want[] = { STRATA__PB_VARINT, STRATA__PB_VARINT };
    etcd_alarm a = { 0 };
    const uint8_t *p = v.data, *end = p + v.size;
    pb_field f;
    int rc;
    while ((rc = pb_next(&p, end, known, want, 2, &f)) == 1) {
        if (f.num == 1)
            a.member_id = f.u;
        else
            a.alarm = enum32(f.u);
    }
    if (rc != 0)
        return rc;
    *out = a;
    return 0;
}

const char *etcd_perm_name(int32_t type)
{
    switch (type) {
    case 0:
        return "READ";
    case 1:
        return "WRITE";
    case 2:
        return "READWRITE";
    default:
        return NULL;
    }
}

const char *etcd_alarm_name(int32_t alarm)
{
    switch (alarm) {
    case 0:
        return "NONE";
    case 1:
        return "NOSPACE";
    case 2:
        return "CORRUPT";
    default:
        return NULL;
    }
}

bool etcd_member_id(bolt_val key, uint64_t *id)
{
    const char *s = key.data;
    if (key.size == 0 || key.size > 16 || (key.size > 1 && s[0] == '0'))
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < key.size; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return false;
        x = x << 4 | d;
    }
    *id = x;
    return true;
}

/* A JSON array of strings, or NULL when the value is not one. */
static bool string_array(json_t *v)
{
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return false;
    }
    return true;
}

json_t *etcd_member_json(bolt_val key, bolt_val value, char *why, size_t why_size)
{
    uint64_t id;
    if (!etcd_member_id(key, &id)) {
        snprintf(why, why_size, "the key is not a member ID (lower-case hex)");
        return NULL;
    }
    /* The "id" is a uint64, which jansson's integers (int64) cannot all
     * hold: read numbers as doubles and take the exact ID from the key. */
    json_error_t jerr;
    json_t *m = json_loadb(value.data, value.size, JSON_DECODE_INT_AS_REAL, &jerr);
    if (m == NULL || !json_is_object(m)) {
        snprintf(why, why_size, "the value is not a JSON object (%s)",
                 m == NULL ? jerr.text : "another JSON value");
        json_decref(m);
        return NULL;
    }
    json_t *jid = json_object_get(m, "id");
    json_t *peers = json_object_get(m, "peerURLs");
    json_t *name = json_object_get(m, "name");
    json_t *clients = json_object_get(m, "clientURLs");
    json_t *learner = json_object_get(m, "isLearner");
    const char *bad = NULL;
    if (!json_is_real(jid) || json_real_value(jid) != (double)id)
        bad = "its \"id\" is not the key's ID";
    else if (peers != NULL && !json_is_null(peers) && !string_array(peers))
        bad = "\"peerURLs\" is not a list of strings";
    else if (clients != NULL && !json_is_null(clients) && !string_array(clients))
        bad = "\"clientURLs\" is not a list of strings";
    else if (name != NULL && !json_is_string(name))
        bad = "\"name\" is not a string";
    else if (learner != NULL && !json_is_boolean(learner))
        bad = "\"isLearner\" is not a boolean";
    if (bad != NULL) {
        snprintf(why, why_size, "%s", bad);
        json_decref(m);
        return NULL;
    }
    json_t *o = json_object();
    cli_json_set(o, "ID", etcd_json_u64(id));
    if (name != NULL && json_string_length(name) > 0)
        cli_json_set(o, "name", json_incref(name));
    if (json_is_array(peers) && json_array_size(peers) > 0)
        cli_json_set(o, "peerURLs", json_incref(peers));
    if (json_is_array(clients) && json_array_size(clients) > 0)
        cli_json_set(o, "clientURLs", json_incref(clients));
    if (json_is_true(learner))
        cli_json_set(o, "isLearner", json_true());
    json_decref(m);
    return o;
}
