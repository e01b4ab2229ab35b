/*
 * leasepb.c: the lease bucket's key and leasepb.Lease value, as etcd 3.4
 * writes them (lessor.go: persistTo, int64ToBytes; lease.pb.go: MarshalTo,
 * Unmarshal). Wire-level rules are common/pbwire.h's; message rules:
 *   1. Encoding: ID, TTL, RemainingTTL in that order, each only when
 *      non-zero, as the varint of its two's-complement uint64.
 *   2. Decoding takes the fields in any order; a repeated field overrides
 *      the earlier one (last wins).
 *   3. Fields 1..3 with another wire type than varint are
 *      STRATA_EPBWIRETYPE; other field numbers are skipped and dropped.
 *   4. The empty input is a valid, all-zero Lease.
 */
#include "leasepb.h"

#include <stdio.h>
#include <string.h>

#include "be64.h"
#include "pbwire.h"

enum {
    LEASE_F_ID = 1,
    LEASE_F_TTL = 2,
    LEASE_F_REMAINING = 3,
};

void lease__key_encode(int64_t id, uint8_t *out)
{
    strata__store_be64(out, (uint64_t)id);
}

int lease__key_decode(const void *buf, size_t len, int64_t *id)
{
    if (len != LEASE__KEY_LEN)
        return LEASE_ECORRUPT;
    *id = (int64_t)strata__load_be64(buf);
    return 0;
}

static size_t int_size(int64_t v)
{
    return v == 0 ? 0 : 1 + strata__uv_size((uint64_t)v);
}

size_t lease__pb_encoded_size(const lease__pb *l)
{
    return int_size(l->id) + int_size(l->ttl) + int_size(l->remaining_ttl);
}

static uint8_t *put_int(uint8_t *p, unsigned field, int64_t v)
{
    if (v == 0)
        return p;
    *p++ = (uint8_t)(field << 3 | STRATA__PB_VARINT);
    return p + strata__uv_put(p, (uint64_t)v);
}

int lease__pb_encode(const lease__pb *l, void *out, size_t size, size_t *written)
{
    if (size < lease__pb_encoded_size(l))
        return STRATA_EMISUSE;
    uint8_t *p = out;
    /* Rule 1. */
    p = put_int(p, LEASE_F_ID, l->id);
    p = put_int(p, LEASE_F_TTL, l->ttl);
    p = put_int(p, LEASE_F_REMAINING, l->remaining_ttl);
    *written = (size_t)(p - (uint8_t *)out);
    return 0;
}

int lease__pb_decode(const void *buf, size_t len, lease__pb *out)
{
    lease__pb l = { 0 };
    if (len == 0) {
        /* Rule 4. */
        *out = l;
        return 0;
    }
    const uint8_t *p = buf, *end = p + len;
    /* Invariant: buf <= p <= end, and the fields before p are decoded into l. */
    while (p < end) {
        uint32_t field;
        unsigned wt;
        uint64_t v;
        const uint8_t *tag_start = p;
        int rc = strata__pb_tag(&p, end, &field, &wt);
        if (rc != 0)
            return rc;
        if (field > LEASE_F_REMAINING) {
            /* Rule 3: unknown, skipped. */
            if ((rc = strata__pb_skip(&p, end, wt, tag_start)) != 0)
                return rc;
            continue;
        }
        if (wt != STRATA__PB_VARINT)
            return STRATA_EPBWIRETYPE;
        if ((rc = strata__uv_get(&p, end, &v)) != 0)
            return rc;
        /* Rule 2. */
        if (field == LEASE_F_ID)
            l.id = (int64_t)v;
        else if (field == LEASE_F_TTL)
            l.ttl = (int64_t)v;
        else
            l.remaining_ttl = (int64_t)v;
    }
    *out = l;
    return 0;
}

static int check_fail(char *why, size_t why_size, const char *msg)
{
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "%s", msg);
    return LEASE_ECORRUPT;
}

int lease__record_check(const void *key, size_t key_len, const lease__pb *l, char *why,
                        size_t why_size)
{
    int64_t id;
    if (lease__key_decode(key, key_len, &id) != 0)
        return check_fail(why, why_size, "lease key is not 8 bytes");
    if (l->id == 0)
        return check_fail(why, why_size, "lease ID is 0 (NoLease)");
    if (id != l->id)
        return check_fail(why, why_size, "lease key differs from the value's ID");
    return 0;
}
