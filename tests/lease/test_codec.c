/*
 * test_codec.c: lease/leasepb.c, the records of the `lease` bucket: the
 * fixture's key and value as golden bytes, seeded round trips (negative
 * IDs, INT64_MIN/MAX, zero fields), gogo's acceptance rules, every
 * malformed form refused with its code, and a mutation sweep the ASan
 * build runs to prove no read leaves the input.
 */
#define HARNESS_STRERROR(rc) lease_strerror(rc)
#include <strata/lease.h>

#include "../../common/pbwire.h"
#include "../../lease/leasepb.h"
#include "../harness.h"

/* Decodes a heap copy of exactly len bytes, so ASan sees a read past the end. */
static int decode_exact(const uint8_t *data, size_t len, lease__pb *out)
{
    uint8_t *buf = malloc(len > 0 ? len : 1);
    ASSERT_NOT_NULL(buf);
    if (len > 0)
        memcpy(buf, data, len);
    int rc = lease__pb_decode(len > 0 ? buf : NULL, len, out);
    free(buf);
    return rc;
}

static int decode_hex(const char *hex, lease__pb *out)
{
    uint8_t in[128];
    return decode_exact(in, harness_unhex(hex, in, sizeof in), out);
}

static int malformed_cases;

static void expect_reject(const char *hex, int want)
{
    lease__pb l = { 11, 22, 33 };
    ASSERT_RC(decode_hex(hex, &l), want);
    ASSERT_EQ_INT(l.id, 11); /* untouched on failure */
    ASSERT_EQ_INT(l.ttl, 22);
    ASSERT_EQ_INT(l.remaining_ttl, 33);
    malformed_cases++;
}

static void expect_lease(const char *hex, int64_t id, int64_t ttl, int64_t remaining)
{
    lease__pb l;
    ASSERT_OK(decode_hex(hex, &l));
    ASSERT_EQ_INT(l.id, id);
    ASSERT_EQ_INT(l.ttl, ttl);
    ASSERT_EQ_INT(l.remaining_ttl, remaining);
}

static void test_golden(void)
{
    static const struct {
        lease__pb l;
        const char *key, *value;
    } cases[] = {
        /* The fixture (docs/schema.md §5): Grant writes ID and TTL only. */
        { { 1198980067605853151, 100000, 0 },
          "10a3a204de6bb3df",
          "08 dfe7aef3cdc0e8d110 10 a08d06" },
        /* A client-chosen negative ID: key sorts last, value a 10-byte varint. */
        { { -5, 60, 0 }, "fffffffffffffffb", "08 fbffffffffffffffff01 10 3c" },
        /* A persisted checkpoint. */
        { { 1, 30, 7 }, "0000000000000001", "08 01 10 1e 18 07" },
        { { INT64_MIN, INT64_MAX, -1 },
          "8000000000000000",
          "08 80808080808080808001 10 ffffffffffffffff7f 18 ffffffffffffffffff01" },
        { { 0, 0, 0 }, "0000000000000000", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t want_key[8], want[64], key[8], got[LEASE__PB_MAX];
        ASSERT_EQ_SIZE(harness_unhex(cases[i].key, want_key, sizeof want_key), 8);
        size_t n = harness_unhex(cases[i].value, want, sizeof want), len;
        lease__key_encode(cases[i].l.id, key);
        ASSERT_EQ_MEM(key, 8, want_key, 8);
        int64_t id;
        ASSERT_OK(lease__key_decode(want_key, 8, &id));
        ASSERT_EQ_INT(id, cases[i].l.id);
        ASSERT_OK(lease__pb_encode(&cases[i].l, got, sizeof got, &len));
        ASSERT_EQ_SIZE(len, lease__pb_encoded_size(&cases[i].l));
        ASSERT_EQ_MEM(got, len, want, n);
        lease__pb back;
        ASSERT_OK(decode_exact(want, n, &back));
        ASSERT_EQ_INT(back.id, cases[i].l.id);
        ASSERT_EQ_INT(back.ttl, cases[i].l.ttl);
        ASSERT_EQ_INT(back.remaining_ttl, cases[i].l.remaining_ttl);
    }
    /* The longest value fits LEASE__PB_MAX; one byte less is refused untouched. */
    lease__pb big = { -1, -1, -1 };
    uint8_t buf[LEASE__PB_MAX + 1];
    size_t len = 0;
    ASSERT_EQ_SIZE(lease__pb_encoded_size(&big), LEASE__PB_MAX);
    ASSERT_RC(lease__pb_encode(&big, buf, LEASE__PB_MAX - 1, &len), STRATA_EMISUSE);
    ASSERT_EQ_SIZE(len, 0);
}

static int64_t rand_int(strata_rng *r)
{
    switch (strata_rng_below(r, 7)) {
    case 0:
        return 0;
    case 1:
        return (int64_t)strata_rng_below(r, 200);
    case 2:
        return INT64_MIN + (int64_t)strata_rng_below(r, 2);
    case 3:
        return INT64_MAX - (int64_t)strata_rng_below(r, 2);
    case 4:
        return -(int64_t)strata_rng_below(r, 1000) - 1;
    default: {
        uint64_t x = strata_rng_next(r); /* draws in a fixed order (C leaves operands unordered) */
        return (int64_t)(x >> strata_rng_below(r, 64));
    }
    }
}

static void test_roundtrip(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    const int n = 100000;
    int64_t prev_id = 0;
    uint8_t prev_key[8];
    lease__key_encode(0, prev_key);
    for (int i = 0; i < n; i++) {
        lease__pb l; /* one draw per statement: initializers are evaluated in no fixed order */
        l.id = rand_int(&r);
        l.ttl = rand_int(&r);
        l.remaining_ttl = rand_int(&r);
        uint8_t buf[LEASE__PB_MAX], key[8];
        size_t len;
        ASSERT_OK(lease__pb_encode(&l, buf, sizeof buf, &len));
        ASSERT_EQ_SIZE(len, lease__pb_encoded_size(&l));
        lease__pb back;
        ASSERT_OK(decode_exact(buf, len, &back));
        ASSERT_EQ_INT(back.id, l.id);
        ASSERT_EQ_INT(back.ttl, l.ttl);
        ASSERT_EQ_INT(back.remaining_ttl, l.remaining_ttl);
        lease__key_encode(l.id, key);
        int64_t id;
        ASSERT_OK(lease__key_decode(key, 8, &id));
        ASSERT_EQ_INT(id, l.id);
        /* Key order is the unsigned order of the two's complement (negatives last). */
        int c = memcmp(key, prev_key, 8);
        int want = (uint64_t)l.id < (uint64_t)prev_id ? -1 : (uint64_t)l.id > (uint64_t)prev_id;
        ASSERT_EQ_INT((c > 0) - (c < 0), want);
        prev_id = l.id;
        memcpy(prev_key, key, 8);
    }
    printf("figure: Lease round trips: %d records\n", n);
}

static void test_accepts_like_gogo(void)
{
    expect_lease("18 03 10 02 08 01", 1, 2, 3);                /* any order */
    expect_lease("08 01 08 02 10 05 10 00", 2, 0, 0);          /* last wins */
    expect_lease("20 96 01 08 01", 1, 0, 0);                   /* 4 varint */
    expect_lease("08 01 29 0102030405060708", 1, 0, 0);        /* 5 fixed64 */
    expect_lease("32 02 6869 08 01", 1, 0, 0);                 /* 6 bytes */
    expect_lease("3d 01020304 10 09", 0, 9, 0);                /* 7 fixed32 */
    expect_lease("43 08 01 4b 4c 44 08 02", 2, 0, 0);          /* 8 group, nested 9 */
    expect_lease("43 08 07 44 18 01", 0, 0, 1);                /* a known number inside a group */
    expect_lease("08 808080808080808080 7f", INT64_MIN, 0, 0); /* bits past 64 dropped */
    expect_lease("88 80 80 80 80 01 05", 5, 0, 0);             /* int32(2^32 + 1) is field 1 */
    expect_lease("", 0, 0, 0);
}

static void test_rejects_like_gogo(void)
{
    char hex[64];
    for (unsigned f = 1; f <= 3; f++)
        for (unsigned wt = 1; wt < 8; wt++) {
            snprintf(hex, sizeof hex, "%02x 01 0000000000000000", f << 3 | wt);
            expect_reject(hex, wt == 4 ? STRATA_EPBGROUP : STRATA_EPBWIRETYPE);
        }
    expect_reject("26 00", STRATA_EPBWIRETYPE); /* unknown field, illegal wire type 6 */
    expect_reject("27 00", STRATA_EPBWIRETYPE);
    expect_reject("24", STRATA_EPBGROUP);
    expect_reject("00 01", STRATA_EPBTAG);
    expect_reject("80 80 80 80 40 01", STRATA_EPBTAG);
    expect_reject("08", STRATA_EPBTRUNC);
    expect_reject("08 ff", STRATA_EPBTRUNC);
    expect_reject("10 ffffffffffffffffff", STRATA_EPBTRUNC);
    expect_reject("29 01020304050607", STRATA_EPBTRUNC);
    expect_reject("3d 010203", STRATA_EPBTRUNC);
    expect_reject("32 03 6869", STRATA_EPBTRUNC);
    expect_reject("43 08 01", STRATA_EPBTRUNC);
    expect_reject("08 ffffffffffffffffff ff 01", STRATA_EPBVARINT);
    expect_reject("ffffffffffffffffff ff 01", STRATA_EPBVARINT);
    expect_reject("32 80808080808080808001", STRATA_EPBLENGTH);
    expect_reject("08 01 10 02 18", STRATA_EPBTRUNC);
    printf("figure: Lease malformed cases: %d\n", malformed_cases);
}

static void test_key_and_record_check(void)
{
    uint8_t key[9] = { 0 };
    int64_t id = 77;
    for (size_t len = 0; len < sizeof key; len++) {
        if (len == 8)
            continue;
        ASSERT_RC(lease__key_decode(key, len, &id), LEASE_ECORRUPT);
    }
    ASSERT_EQ_INT(id, 77);
    char why[128];
    lease__pb l = { 1198980067605853151, 100000, 0 };
    lease__key_encode(l.id, key);
    ASSERT_OK(lease__record_check(key, 8, &l, why, sizeof why));
    ASSERT_RC(lease__record_check(key, 7, &l, why, sizeof why), LEASE_ECORRUPT);
    ASSERT_EQ_STR(why, "lease key is not 8 bytes");
    lease__pb other = l;
    other.id++;
    ASSERT_RC(lease__record_check(key, 8, &other, why, sizeof why), LEASE_ECORRUPT);
    ASSERT_EQ_STR(why, "lease key differs from the value's ID");
    lease__pb none = { 0, 10, 0 };
    lease__key_encode(0, key);
    ASSERT_RC(lease__record_check(key, 8, &none, NULL, 0), LEASE_ECORRUPT);
}

static void test_mutation_sweep(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed() + 1);
    size_t runs = 0;
    for (int i = 0; i < 2000; i++) {
        lease__pb l, back;
        l.id = rand_int(&r);
        l.ttl = rand_int(&r);
        l.remaining_ttl = rand_int(&r);
        uint8_t buf[LEASE__PB_MAX + 16];
        size_t len;
        ASSERT_OK(lease__pb_encode(&l, buf, sizeof buf, &len));
        /* Truncation decodes exactly at field ends (0 and after each field). */
        size_t e1 = l.id ? 1 + strata__uv_size((uint64_t)l.id) : 0;
        size_t e2 = e1 + (l.ttl ? 1 + strata__uv_size((uint64_t)l.ttl) : 0);
        for (size_t cut = 0; cut <= len; cut++) {
            int rc = decode_exact(buf, cut, &back);
            if (cut == 0 || cut == e1 || cut == e2 || cut == len)
                ASSERT_OK(rc);
            else
                ASSERT_RC(rc, STRATA_EPBTRUNC);
            runs++;
        }
        for (size_t at = 0; at < len; at++) {
            uint8_t mut[LEASE__PB_MAX];
            memcpy(mut, buf, len);
            mut[at] ^= (uint8_t)(1u << strata_rng_below(&r, 8));
            int rc = decode_exact(mut, len, &back);
            runs++;
            if (rc != 0)
                continue;
            uint8_t re[LEASE__PB_MAX];
            size_t rlen;
            lease__pb again;
            ASSERT_OK(lease__pb_encode(&back, re, sizeof re, &rlen));
            ASSERT_OK(lease__pb_decode(re, rlen, &again));
            ASSERT_EQ_INT(again.id, back.id);
            ASSERT_EQ_INT(again.ttl, back.ttl);
            ASSERT_EQ_INT(again.remaining_ttl, back.remaining_ttl);
        }
    }
    printf("figure: Lease mutation sweep: %zu decodes\n", runs);
}

int main(void)
{
    HARNESS_BEGIN(20240611);
    RUN(test_golden);
    RUN(test_roundtrip);
    RUN(test_accepts_like_gogo);
    RUN(test_rejects_like_gogo);
    RUN(test_key_and_record_check);
    RUN(test_mutation_sweep);
    return 0;
}
