/*
 * kvpb.c: mvccpb.KeyValue, encoded and decoded as gogoproto does it for
 * etcd 3.4 (kv.pb.go: MarshalTo, Size, Unmarshal). Wire-level rules
 * (varints, lengths, tags, skipping unknown fields) are common/pbwire.h's;
 * the message-level rules are:
 *   1. Encoding: fields in ascending number; a zero integer and an empty
 *      byte string are not written (proto3); the tag is one byte.
 *   2. Decoding takes the fields in any order. A field that appears again
 *      overrides the earlier one (last wins), for bytes and integers alike.
 *   3. A known field (1..6) with another wire type than its own is
 *      STRATA_EPBWIRETYPE, even when it could be skipped.
 *   4. Unknown field numbers are skipped, not kept (the view has nowhere to
 *      keep them, and gogo's KeyValue has no XXX_unrecognized either), so
 *      re-encoding a decoded record drops them.
 *   5. Integers keep all 64 bits of the varint (int64(b&0x7F) << shift in
 *      gogo), so a 10-byte varint gives a negative value.
 *   6. The empty input is a valid, all-zero KeyValue.
 */
#include "kvpb.h"

#include <stdio.h>
#include <string.h>

#include "pbwire.h"

enum {
    KV_KEY = 1,
    KV_CREATE = 2,
    KV_MOD = 3,
    KV_VERSION = 4,
    KV_VALUE = 5,
    KV_LEASE = 6,
};

/* Tag bytes: field << 3 | wire type; every field number fits one byte. */
#define TAG(field, wt) ((uint8_t)((field) << 3 | (wt)))

static size_t int_size(int64_t v)
{
    return v == 0 ? 0 : 1 + strata__uv_size((uint64_t)v);
}

static size_t bytes_size(size_t len)
{
    return len == 0 ? 0 : 1 + strata__uv_size(len) + len;
}

size_t mvcc__kv_encoded_size(const mvcc__kv *kv)
{
    return bytes_size(kv->key_len) + int_size(kv->create_revision) + int_size(kv->mod_revision) +
           int_size(kv->version) + bytes_size(kv->value_len) + int_size(kv->lease);
}

static uint8_t *put_int(uint8_t *p, unsigned field, int64_t v)
{
    if (v == 0)
        return p;
    *p++ = TAG(field, STRATA__PB_VARINT);
    return p + strata__uv_put(p, (uint64_t)v);
}

static uint8_t *put_bytes(uint8_t *p, unsigned field, const uint8_t *data, size_t len)
{
    if (len == 0)
        return p;
    *p++ = TAG(field, STRATA__PB_BYTES);
    p += strata__uv_put(p, len);
    memcpy(p, data, len);
    return p + len;
}

int mvcc__kv_encode(const mvcc__kv *kv, void *out, size_t size, size_t *written)
{
    size_t need = mvcc__kv_encoded_size(kv);
    if (size < need)
        return STRATA_EMISUSE;
    uint8_t *p = out;
    /* Rule 1: ascending field numbers, zero values omitted. */
    p = put_bytes(p, KV_KEY, kv->key, kv->key_len);
    p = put_int(p, KV_CREATE, kv->create_revision);
    p = put_int(p, KV_MOD, kv->mod_revision);
    p = put_int(p, KV_VERSION, kv->version);
    p = put_bytes(p, KV_VALUE, kv->value, kv->value_len);
    p = put_int(p, KV_LEASE, kv->lease);
    *written = (size_t)(p - (uint8_t *)out);
    return 0;
}

/* Rule 3: a known field must carry its own wire type. */
static int expect_wt(unsigned got, unsigned want)
{
    return got == want ? 0 : STRATA_EPBWIRETYPE;
}

int mvcc__kv_decode(const void *buf, size_t len, mvcc__kv *out)
{
    /* Rule 6; also keeps NULL + 0 away from pointer arithmetic. */
    mvcc__kv kv = { 0 };
    if (len == 0) {
        *out = kv;
        return 0;
    }
    const uint8_t *p = buf, *end = p + len;
    /* Invariant: buf <= p <= end, and fields before p are decoded into kv. */
    while (p < end) {
        uint32_t field;
        unsigned wt;
        uint64_t v;
        const uint8_t *tag_start = p;
        int rc = strata__pb_tag(&p, end, &field, &wt);
        if (rc != 0)
            return rc;
        switch (field) {
        case KV_KEY:
        case KV_VALUE: {
            const uint8_t *data;
            size_t n;
            if ((rc = expect_wt(wt, STRATA__PB_BYTES)) != 0 ||
                (rc = strata__pb_bytes(&p, end, &data, &n)) != 0)
                return rc;
            /* Rule 2: last wins. */
            if (field == KV_KEY) {
                kv.key = data;
                kv.key_len = n;
            } else {
                kv.value = data;
                kv.value_len = n;
            }
            break;
        }
        case KV_CREATE:
        case KV_MOD:
        case KV_VERSION:
        case KV_LEASE:
            if ((rc = expect_wt(wt, STRATA__PB_VARINT)) != 0 ||
                (rc = strata__uv_get(&p, end, &v)) != 0)
                return rc;
            /* Rules 2 and 5. */
            if (field == KV_CREATE)
                kv.create_revision = (int64_t)v;
            else if (field == KV_MOD)
                kv.mod_revision = (int64_t)v;
            else if (field == KV_VERSION)
                kv.version = (int64_t)v;
            else
                kv.lease = (int64_t)v;
            break;
        default:
            /* Rule 4. */
            if ((rc = strata__pb_skip(&p, end, wt, tag_start)) != 0)
                return rc;
            break;
        }
    }
    *out = kv;
    return 0;
}

mvcc__kv mvcc__kv_tombstone(const void *key, size_t key_len)
{
    mvcc__kv kv = { 0 };
    kv.key = key;
    kv.key_len = key_len;
    return kv;
}

static bool bytes_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool mvcc__kv_equal(const mvcc__kv *a, const mvcc__kv *b)
{
    return bytes_equal(a->key, a->key_len, b->key, b->key_len) &&
           a->create_revision == b->create_revision && a->mod_revision == b->mod_revision &&
           a->version == b->version &&
           bytes_equal(a->value, a->value_len, b->value, b->value_len) && a->lease == b->lease;
}

static int check_fail(char *why, size_t why_size, const char *msg, const mvcc__revkey *rk)
{
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "revision %lld_%lld%s: %s", (long long)rk->rev.main,
                 (long long)rk->rev.sub, rk->tombstone ? "t" : "", msg);
    return MVCC_ECORRUPT;
}

int mvcc__kv_check(const mvcc__kv *kv, const mvcc__revkey *rk, char *why, size_t why_size)
{
    if (kv->key_len == 0)
        return check_fail(why, why_size, "empty key", rk);
    if (rk->tombstone) {
        if (kv->create_revision != 0 || kv->mod_revision != 0 || kv->version != 0 ||
            kv->value_len != 0 || kv->lease != 0)
            return check_fail(why, why_size, "tombstone value holds more than the key", rk);
        return 0;
    }
    if (kv->mod_revision != rk->rev.main)
        return check_fail(why, why_size, "mod_revision differs from the revision key", rk);
    if (kv->create_revision <= 0 || kv->create_revision > kv->mod_revision)
        return check_fail(why, why_size, "create_revision not in 1..mod_revision", rk);
    if (kv->version < 1)
        return check_fail(why, why_size, "version below 1", rk);
    return 0;
}
