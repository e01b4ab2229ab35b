/*
 * test_codec.c: mvcc/revkey.c and mvcc/kvpb.c, the records of the `key`
 * bucket: docs/schema.md's fixture bytes as golden values, seeded round trips,
 * every malformed form the decoders must refuse (with its code), gogo's
 * acceptance rules (any order, last wins, unknown fields of every wire
 * type skipped), and a mutation sweep (every truncation, every byte
 * flipped) that the ASan build runs to prove no read leaves the input.
 */
#define HARNESS_STRERROR(rc) mvcc_strerror(rc)
#include <strata/mvcc.h>

#include "../../common/pbwire.h"
#include "../../mvcc/kvpb.h"
#include "../../mvcc/revkey.h"
#include "../harness.h"

/* ---- helpers ------------------------------------------------------------- */

/*
 * Decodes a private heap copy of exactly len bytes, as libFuzzer hands
 * inputs over, so ASan reports a read one byte past the end.
 */
static int decode_exact(const uint8_t *data, size_t len, mvcc__kv *out, uint8_t **copy)
{
    uint8_t *buf = malloc(len > 0 ? len : 1);
    ASSERT_NOT_NULL(buf);
    if (len > 0)
        memcpy(buf, data, len);
    int rc = mvcc__kv_decode(len > 0 ? buf : NULL, len, out);
    *copy = buf;
    return rc;
}

/* Decodes hex; returns the code (the view is checked by the caller when 0). */
static int decode_hex(const char *hex, mvcc__kv *out)
{
    static uint8_t in[256];
    size_t n = harness_unhex(hex, in, sizeof in);
    uint8_t *copy;
    int rc = decode_exact(in, n, out, &copy);
    /* The view may point into copy; keep those bytes in `in` for the caller. */
    if (rc == 0) {
        if (out->key_len > 0)
            out->key = in + (out->key - copy);
        if (out->value_len > 0)
            out->value = in + (out->value - copy);
    }
    free(copy);
    return rc;
}

static int malformed_cases; /* inputs refused with a checked code, reported at the end */

static void expect_reject(const char *hex, int want)
{
    mvcc__kv kv;
    memset(&kv, 0xAB, sizeof kv);
    mvcc__kv before = kv;
    ASSERT_RC(decode_hex(hex, &kv), want);
    /* Out-params are written only on success. */
    ASSERT_EQ_MEM(&kv, sizeof kv, &before, sizeof before);
    malformed_cases++;
}

static void encode_into(const mvcc__kv *kv, uint8_t *buf, size_t cap, size_t *len)
{
    ASSERT_OK(mvcc__kv_encode(kv, buf, cap, len));
    ASSERT_EQ_SIZE(*len, mvcc__kv_encoded_size(kv));
}

/* ---- revision keys -------------------------------------------------------- */

static void test_revkey_golden(void)
{
    static const struct {
        idx_rev rev;
        bool tomb;
        const char *hex;
    } cases[] = {
        { { 437, 0 }, false, "00000000000001b5 5f 0000000000000000" },
        { { 438, 0 }, true, "00000000000001b6 5f 0000000000000000 74" },
        { { 502, 2 }, true, "00000000000001f6 5f 0000000000000002 74" },
        { { INT64_MAX, INT64_MAX }, false, "7fffffffffffffff 5f 7fffffffffffffff" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t want[32], got[MVCC__REVKEY_TOMB_LEN];
        size_t n = harness_unhex(cases[i].hex, want, sizeof want);
        size_t len = mvcc__revkey_encode(cases[i].rev, cases[i].tomb, got);
        ASSERT_EQ_MEM(got, len, want, n);
        mvcc__revkey rk;
        ASSERT_OK(mvcc__revkey_decode(want, n, &rk));
        ASSERT_EQ_INT(rk.rev.main, cases[i].rev.main);
        ASSERT_EQ_INT(rk.rev.sub, cases[i].rev.sub);
        ASSERT_EQ_INT(rk.tombstone, cases[i].tomb);
    }
}

static int revkey_decode_exact(const uint8_t *p, size_t len, mvcc__revkey *rk)
{
    uint8_t *buf = malloc(len > 0 ? len : 1);
    ASSERT_NOT_NULL(buf);
    memcpy(buf, p, len);
    int rc = mvcc__revkey_decode(buf, len, rk);
    free(buf);
    return rc;
}

static void test_revkey_malformed(void)
{
    uint8_t k[32];
    mvcc__revkey rk = { { 7, 7 }, true }, before = rk;
    mvcc__revkey_encode((idx_rev){ 437, 0 }, true, k);
    memset(k + 18, 0x74, sizeof k - 18);
    /* Every length but 17 and 18, including ones that start like a valid key. */
    for (size_t len = 0; len < sizeof k; len++) {
        if (len == 17 || len == 18)
            continue;
        ASSERT_RC(revkey_decode_exact(k, len, &rk), MVCC_EREVKEYLEN);
        malformed_cases++;
    }
    ASSERT_EQ_MEM(&rk, sizeof rk, &before, sizeof before);
    /* Byte 8, in both lengths, with every wrong value. */
    for (int b = 0; b < 256; b++) {
        if (b == '_')
            continue;
        uint8_t bad[18];
        memcpy(bad, k, 18);
        bad[8] = (uint8_t)b;
        ASSERT_RC(revkey_decode_exact(bad, 17, &rk), MVCC_EREVKEYSEP);
        ASSERT_RC(revkey_decode_exact(bad, 18, &rk), MVCC_EREVKEYSEP);
        memcpy(bad, k, 18);
        if (b != 't') {
            bad[17] = (uint8_t)b;
            ASSERT_RC(revkey_decode_exact(bad, 18, &rk), MVCC_EREVKEYMARK);
            malformed_cases++;
        }
        malformed_cases += 2;
    }
    /* Bit 63 of main or of sub: the key would sort after every valid one. */
    uint8_t neg[18];
    memcpy(neg, k, 18);
    neg[0] |= 0x80;
    ASSERT_RC(revkey_decode_exact(neg, 18, &rk), MVCC_EREVKEYNEG);
    ASSERT_RC(revkey_decode_exact(neg, 17, &rk), MVCC_EREVKEYNEG);
    memcpy(neg, k, 18);
    neg[9] = 0xff;
    ASSERT_RC(revkey_decode_exact(neg, 17, &rk), MVCC_EREVKEYNEG);
    malformed_cases += 3;
    ASSERT_EQ_MEM(&rk, sizeof rk, &before, sizeof before);
}

/* A revision spread over the interesting magnitudes. */
static int64_t rand_rev(strata_rng *r)
{
    switch (strata_rng_below(r, 5)) {
    case 0:
        return (int64_t)strata_rng_below(r, 4);
    case 1:
        return (int64_t)strata_rng_below(r, 1000);
    case 2:
        return INT64_MAX - (int64_t)strata_rng_below(r, 3);
    case 3: {
        uint64_t x = strata_rng_next(r); /* draws in a fixed order (C leaves operands unordered) */
        return (int64_t)(x >> (1 + strata_rng_below(r, 63)));
    }
    default:
        return (int64_t)(strata_rng_next(r) >> 1);
    }
}

static int sign(int c)
{
    return (c > 0) - (c < 0);
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return sign(c);
    return (alen > blen) - (alen < blen);
}

static void test_revkey_roundtrip_and_order(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        /* One draw per statement: initializers are evaluated in no fixed order. */
        mvcc__revkey a;
        a.rev.main = rand_rev(&r);
        a.rev.sub = rand_rev(&r);
        a.tombstone = strata_rng_below(&r, 2) == 1;
        mvcc__revkey b = a;
        /* Often share main (or main and sub), so ties reach the later fields. */
        switch (strata_rng_below(&r, 4)) {
        case 0:
            b.rev.sub = rand_rev(&r);
            b.tombstone = strata_rng_below(&r, 2) == 1;
            break;
        case 1:
            b.tombstone = !a.tombstone;
            break;
        default:
            b.rev.main = rand_rev(&r);
            b.rev.sub = rand_rev(&r);
            b.tombstone = strata_rng_below(&r, 2) == 1;
            break;
        }
        uint8_t ka[18], kb[18];
        size_t la = mvcc__revkey_encode(a.rev, a.tombstone, ka);
        size_t lb = mvcc__revkey_encode(b.rev, b.tombstone, kb);
        mvcc__revkey da, db;
        ASSERT_OK(mvcc__revkey_decode(ka, la, &da));
        ASSERT_OK(mvcc__revkey_decode(kb, lb, &db));
        ASSERT_EQ_INT(da.rev.main, a.rev.main);
        ASSERT_EQ_INT(da.rev.sub, a.rev.sub);
        ASSERT_EQ_INT(da.tombstone, a.tombstone);
        ASSERT_EQ_INT(sign(mvcc__revkey_cmp(&da, &db)), bytes_cmp(ka, la, kb, lb));
        ASSERT_EQ_INT(sign(mvcc__revkey_cmp(&db, &da)), bytes_cmp(kb, lb, ka, la));
    }
    printf("figure: revkey round trips and order checks: %d pairs\n", n);
}

/* ---- KeyValue: golden bytes ---------------------------------------------- */

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static void test_kv_golden(void)
{
    static const struct {
        const char *what;
        mvcc__kv kv;
        const char *hex;
    } cases[] = {
        { "437_0 fx/key/297",
          { S("fx/key/297"), 299, 437, 3, S("r3-297"), 0 },
          "0a 0a 66782f6b65792f323937 10 ab02 18 b503 20 03 2a 06 72332d323937" },
        { "438_0t tombstone of fx/key/005",
          { S("fx/key/005"), 0, 0, 0, NULL, 0, 0 },
          "0a 0a 66782f6b65792f303035" },
        { "502_0 fx/txn/a",
          { S("fx/txn/a"), 502, 502, 1, S("1"), 0 },
          "0a 08 66782f74786e2f61 10 f603 18 f603 20 01 2a 01 31" },
        { "489_0 fx/key/010 leased",
          { S("fx/key/010"), 12, 489, 3, S("leased-010"), 1198980067605853151 },
          "0a 0a 66782f6b65792f303130 10 0c 18 e903 20 03 2a 0a 6c65617365642d303130 30 "
          "dfe7aef3cdc0e8d110" },
        { "lease -5 (a client-chosen negative ID)",
          { NULL, 0, 0, 0, 0, NULL, 0, -5 },
          "30 fbffffffffffffffff01" },
        { "INT64_MIN and INT64_MAX",
          { NULL, 0, INT64_MIN, INT64_MAX, -1, NULL, 0, 0 },
          "10 80808080808080808001 18 ffffffffffffffff7f 20 ffffffffffffffffff01" },
        { "empty KeyValue", { 0 }, "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        harness_current = cases[i].what;
        uint8_t want[128], got[128];
        size_t n = harness_unhex(cases[i].hex, want, sizeof want), len;
        encode_into(&cases[i].kv, got, sizeof got, &len);
        ASSERT_EQ_MEM(got, len, want, n);
        mvcc__kv back;
        uint8_t *copy;
        ASSERT_OK(decode_exact(want, n, &back, &copy));
        ASSERT_TRUE(mvcc__kv_equal(&back, &cases[i].kv));
        free(copy);
    }
    /* The tombstone form is KeyValue{Key} and nothing else. */
    mvcc__kv t = mvcc__kv_tombstone("fx/key/005", 10);
    ASSERT_TRUE(mvcc__kv_equal(&t, &cases[1].kv));
    /* A buffer one byte short is refused and left alone. */
    uint8_t small[64];
    memset(small, 0x5a, sizeof small);
    size_t len = 0;
    size_t need = mvcc__kv_encoded_size(&cases[3].kv);
    ASSERT_RC(mvcc__kv_encode(&cases[3].kv, small, need - 1, &len), STRATA_EMISUSE);
    ASSERT_EQ_SIZE(len, 0);
    for (size_t i = 0; i < sizeof small; i++)
        ASSERT_EQ_INT(small[i], 0x5a);
}

/* ---- KeyValue: seeded round trips ---------------------------------------- */

static int64_t rand_int(strata_rng *r)
{
    switch (strata_rng_below(r, 8)) {
    case 0:
    case 1:
        return 0; /* omitted on the wire */
    case 2:
        return (int64_t)strata_rng_below(r, 128);
    case 3:
        return INT64_MIN + (int64_t)strata_rng_below(r, 2);
    case 4:
        return INT64_MAX - (int64_t)strata_rng_below(r, 2);
    case 5:
        return -(int64_t)strata_rng_below(r, 1000) - 1;
    default: {
        uint64_t x = strata_rng_next(r); /* draws in a fixed order (C leaves operands unordered) */
        return (int64_t)(x >> strata_rng_below(r, 64));
    }
    }
}

static size_t rand_len(strata_rng *r)
{
    switch (strata_rng_below(r, 10)) {
    case 0:
        return 0;
    case 1:
        return 127 + strata_rng_below(r, 3); /* the 1- to 2-byte length edge */
    case 2:
        return 16383 + strata_rng_below(r, 3); /* 2 to 3 bytes */
    case 3:
        return strata_rng_below(r, 300000); /* large, up to a 3-byte length */
    default:
        return strata_rng_below(r, 64);
    }
}

static void test_kv_roundtrip(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed() + 1);
    size_t cap = 700000;
    uint8_t *data = malloc(cap), *buf = malloc(cap);
    ASSERT_NOT_NULL(data);
    ASSERT_NOT_NULL(buf);
    for (size_t i = 0; i < cap; i++)
        data[i] = (uint8_t)strata_rng_next(&r);
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        mvcc__kv kv = { 0 };
        kv.key_len = rand_len(&r);
        kv.key = kv.key_len ? data + strata_rng_below(&r, 300000) : NULL;
        kv.create_revision = rand_int(&r);
        kv.mod_revision = rand_int(&r);
        kv.version = rand_int(&r);
        kv.value_len = rand_len(&r);
        kv.value = kv.value_len ? data + strata_rng_below(&r, 300000) : NULL;
        kv.lease = rand_int(&r);
        size_t len;
        encode_into(&kv, buf, cap, &len);
        mvcc__kv back;
        ASSERT_OK(mvcc__kv_decode(buf, len, &back));
        ASSERT_TRUE(mvcc__kv_equal(&back, &kv));
        /* Zero copy: the view points into the encoded bytes. */
        if (back.key_len > 0)
            ASSERT_TRUE(back.key > buf && back.key + back.key_len <= buf + len);
        if (back.value_len > 0)
            ASSERT_TRUE(back.value > buf && back.value + back.value_len <= buf + len);
        /* A negative integer takes the full 10-byte varint (checked through the size). */
        size_t ints = 0;
        const int64_t vals[4] = { kv.create_revision, kv.mod_revision, kv.version, kv.lease };
        for (int j = 0; j < 4; j++)
            if (vals[j] < 0)
                ints += 11;
            else if (vals[j] > 0)
                ints += 1 + strata__uv_size((uint64_t)vals[j]);
        ASSERT_EQ_SIZE(
                len, ints + (kv.key_len ? 1 + strata__uv_size(kv.key_len) + kv.key_len : 0) +
                             (kv.value_len ? 1 + strata__uv_size(kv.value_len) + kv.value_len : 0));
    }
    printf("figure: KeyValue round trips: %d records\n", n);
    free(data);
    free(buf);
}

/* ---- KeyValue: what gogo accepts ----------------------------------------- */

static void expect_kv(const char *hex, const char *key, int64_t create, int64_t mod, int64_t ver,
                      const char *value, int64_t lease)
{
    mvcc__kv kv, want = { (const uint8_t *)key,   key ? strlen(key) : 0,     create, mod, ver,
                          (const uint8_t *)value, value ? strlen(value) : 0, lease };
    ASSERT_OK(decode_hex(hex, &kv));
    if (!mvcc__kv_equal(&kv, &want)) {
        fprintf(stderr,
                "decoded %s: key %.*s create %lld mod %lld ver %lld value %.*s lease %lld\n", hex,
                (int)kv.key_len, (const char *)kv.key, (long long)kv.create_revision,
                (long long)kv.mod_revision, (long long)kv.version, (int)kv.value_len,
                (const char *)kv.value, (long long)kv.lease);
        ASSERT_TRUE(mvcc__kv_equal(&kv, &want));
    }
}

static void test_kv_accepts_like_gogo(void)
{
    /* Any order. */
    expect_kv("30 07 2a 01 31 20 01 18 f603 10 f603 0a 01 6b", "k", 502, 502, 1, "1", 7);
    /* Last wins, for bytes and integers. */
    expect_kv("0a 01 61 0a 02 6262 10 05 10 06 2a 01 78 2a 00", "bb", 6, 0, 0, NULL, 0);
    expect_kv("30 05 30 00", NULL, 0, 0, 0, NULL, 0);
    /* Unknown fields of every wire type, before, between and after. */
    expect_kv("38 96 01 0a 01 6b", "k", 0, 0, 0, NULL, 0);                  /* 7 varint */
    expect_kv("0a 01 6b 41 0102030405060708 10 02", "k", 2, 0, 0, NULL, 0); /* 8 fixed64 */
    expect_kv("0a 01 6b 4a 03 616263", "k", 0, 0, 0, NULL, 0);              /* 9 bytes */
    expect_kv("0a 01 6b 55 01020304", "k", 0, 0, 0, NULL, 0);               /* 10 fixed32 */
    expect_kv("0a 01 6b 4a 00", "k", 0, 0, 0, NULL, 0);                     /* empty bytes */
    expect_kv("f8ffffff07 01 0a 01 6b", "k", 0, 0, 0, NULL, 0);             /* 2^28-1 */
    expect_kv("fa ffffff 3f 00 0a 01 6b", "k", 0, 0, 0, NULL, 0);           /* 2^31-1 */
    /* Groups (wire type 3) are skipped to their end-group, nested ones too. */
    expect_kv("5b 5c 0a 01 6b", "k", 0, 0, 0, NULL, 0); /* 11 empty group */
    expect_kv("5b 08 01 11 0102030405060708 1a 01 61 25 01020304 5c 10 03", NULL, 3, 0, 0, NULL,
              0);                                                   /* group of each */
    expect_kv("5b 63 6b 6c 64 5c 0a 01 6b", "k", 0, 0, 0, NULL, 0); /* nested */
    expect_kv("5b 0c 0a 01 6b", "k", 0, 0, 0, NULL, 0);  /* closed by another field's end-group */
    expect_kv("5b 0a 01 6b 5c", NULL, 0, 0, 0, NULL, 0); /* a known number inside: skipped */
    /* Non-minimal varints and bits past 64 in the tenth byte. */
    expect_kv("10 8000 0a 01 6b", "k", 0, 0, 0, NULL, 0);
    expect_kv("8a00 01 6b", "k", 0, 0, 0, NULL, 0); /* tag 0x0a in two bytes */
    expect_kv("10 ffffffffffffffffff 7f", NULL, -1, 0, 0, NULL, 0);
    expect_kv("10 808080808080808080 7f", NULL, INT64_MIN, 0, 0, NULL, 0);
    expect_kv("10 ffffffffffffffff 7f", NULL, INT64_MAX, 0, 0, NULL, 0);
    /* int32(tag >> 3): the number 2^32 + 1 is field 1 (the key). */
    expect_kv("8a 80 80 80 80 01 01 6b", "k", 0, 0, 0, NULL, 0);
    /* The empty record. */
    expect_kv("", NULL, 0, 0, 0, NULL, 0);
}

/* ---- KeyValue: what gogo refuses ----------------------------------------- */

static void test_kv_rejects_like_gogo(void)
{
    char hex[64];
    /* A known field with any other wire type (4 is refused first as a stray end-group). */
    static const unsigned own[7] = { 0, 2, 0, 0, 0, 2, 0 };
    for (unsigned f = 1; f <= 6; f++)
        for (unsigned wt = 0; wt < 8; wt++) {
            if (wt == own[f])
                continue;
            /* Enough bytes after the tag for any wire type to be read. */
            snprintf(hex, sizeof hex, "%02x 01 0000000000000000", f << 3 | wt);
            expect_reject(hex, wt == 4 ? STRATA_EPBGROUP : STRATA_EPBWIRETYPE);
        }
    /* Unknown fields with the illegal wire types 6 and 7, and a stray end-group. */
    expect_reject("3e 00", STRATA_EPBWIRETYPE);
    expect_reject("0a 01 6b 3f 00", STRATA_EPBWIRETYPE);
    expect_reject("3c", STRATA_EPBGROUP);
    expect_reject("0a 01 6b 5c", STRATA_EPBGROUP);
    /* Field number 0, and numbers that are negative as int32. */
    expect_reject("00 01", STRATA_EPBTAG);
    expect_reject("02 00", STRATA_EPBTAG);
    expect_reject("80 80 80 80 40 01", STRATA_EPBTAG);    /* 2^31 */
    expect_reject("f8 ff ff ff 7f 00", STRATA_EPBTAG);    /* 2^32-1 */
    expect_reject("f8 ff ff ff ff 01 00", STRATA_EPBTAG); /* 2^33-1 */
    expect_reject("80 80 80 80 80 02 00", STRATA_EPBTAG); /* 2^33: low 32 bits 0 */
    /* Truncations: in a tag, an integer, a length, a payload, fixed ones, a group. */
    expect_reject("8a", STRATA_EPBTRUNC);
    expect_reject("10", STRATA_EPBTRUNC);
    expect_reject("10 80", STRATA_EPBTRUNC);
    expect_reject("10 ffffffffffffffffff", STRATA_EPBTRUNC);
    expect_reject("0a", STRATA_EPBTRUNC);
    expect_reject("0a 80", STRATA_EPBTRUNC);
    expect_reject("0a 02 6b", STRATA_EPBTRUNC);
    expect_reject("2a 05 31", STRATA_EPBTRUNC);
    expect_reject("41 01020304050607", STRATA_EPBTRUNC);
    expect_reject("55 010203", STRATA_EPBTRUNC);
    expect_reject("4a 04 616263", STRATA_EPBTRUNC);
    expect_reject("38", STRATA_EPBTRUNC);
    expect_reject("38 ff", STRATA_EPBTRUNC);
    expect_reject("5b", STRATA_EPBTRUNC);
    expect_reject("5b 08 01", STRATA_EPBTRUNC);
    expect_reject("5b 63 5c", STRATA_EPBTRUNC); /* the inner group closed, the outer not */
    expect_reject("5b 11 0102", STRATA_EPBTRUNC);
    expect_reject("5b 1a 05 61", STRATA_EPBTRUNC);
    expect_reject("0a 8080808080808080 40", STRATA_EPBTRUNC); /* 2^62: positive, too long */
    /* Varints of 11 bytes or more: tag, integer, length, skipped varint, in a group. */
    expect_reject("ffffffffffffffffff ff 01", STRATA_EPBVARINT);
    expect_reject("10 ffffffffffffffffff ff 01", STRATA_EPBVARINT);
    expect_reject("10 80808080808080808080 00", STRATA_EPBVARINT);
    expect_reject("0a ffffffffffffffffff 80 01", STRATA_EPBVARINT);
    expect_reject("38 ffffffffffffffffff ff 01", STRATA_EPBVARINT);
    expect_reject("5b 08 ffffffffffffffffff ff 01 5c", STRATA_EPBVARINT);
    /* Lengths with bit 63 set are negative in Go. */
    expect_reject("0a 80808080808080808001", STRATA_EPBLENGTH);
    expect_reject("2a ffffffffffffffffff01 00", STRATA_EPBLENGTH);
    expect_reject("4a 80808080808080808001", STRATA_EPBLENGTH);
    expect_reject("5b 1a 80808080808080808001 5c", STRATA_EPBLENGTH);
    /*
     * A skipped field's length that overflows gogo's index (10 bytes of tag
     * and length, plus the length): as etcdcodec answered for each.
     */
    expect_reject("4a ffffffffffffffff7f 6b", STRATA_EPBLENGTH);
    expect_reject("4a f6ffffffffffffff7f 6b", STRATA_EPBLENGTH); /* 10 + 2^63-10 */
    expect_reject("4a f5ffffffffffffff7f 6b", STRATA_EPBTRUNC);  /* 10 + 2^63-11 fits */
    expect_reject("5b 1a ffffffffffffffff7f", STRATA_EPBTRUNC);  /* in a group: gogo panics */
    expect_reject("0a ffffffffffffffff7f 6b", STRATA_EPBTRUNC);  /* known field: gogo panics */
    /* Errors after good fields still refuse the whole record. */
    expect_reject("0a 01 6b 10 05 18", STRATA_EPBTRUNC);
    expect_reject("5b 5c 5b 7e 5c", STRATA_EPBWIRETYPE); /* an illegal type inside a group */
    printf("figure: KeyValue and revision key malformed cases: %d\n", malformed_cases);
}

/* ---- KeyValue: mutation sweep --------------------------------------------- */

/* Offsets where a field ends in a canonical encoding: truncation there decodes. */
static void field_ends(const uint8_t *p, size_t len, bool *end_at)
{
    memset(end_at, 0, len + 1);
    end_at[0] = true;
    const uint8_t *q = p, *end = p + len;
    while (q < end) {
        uint32_t f;
        unsigned wt;
        const uint8_t *tag = q;
        ASSERT_OK(strata__pb_tag(&q, end, &f, &wt));
        ASSERT_OK(strata__pb_skip(&q, end, wt, tag));
        end_at[q - p] = true;
    }
}

static void sweep_one(const uint8_t *enc, size_t len, size_t *runs)
{
    bool ends[512];
    ASSERT_TRUE(len < sizeof ends);
    field_ends(enc, len, ends);
    mvcc__kv kv, again;
    uint8_t *copy;
    /* Every truncation: it decodes exactly at the field boundaries. */
    for (size_t cut = 0; cut <= len; cut++) {
        int rc = decode_exact(enc, cut, &kv, &copy);
        if (ends[cut])
            ASSERT_OK(rc);
        else
            ASSERT_RC(rc, STRATA_EPBTRUNC);
        free(copy);
        (*runs)++;
    }
    /* Every byte flipped by several masks: any code, never a crash; a record
     * that still decodes re-encodes canonically to the same view. */
    static const uint8_t masks[] = { 0x01, 0x07, 0x08, 0x40, 0x80, 0xff };
    uint8_t *mut = malloc(len), *re = malloc(2 * len + 64);
    ASSERT_NOT_NULL(mut);
    ASSERT_NOT_NULL(re);
    for (size_t i = 0; i < len; i++)
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(mut, enc, len);
            mut[i] ^= masks[m];
            int rc = decode_exact(mut, len, &kv, &copy);
            (*runs)++;
            if (rc != 0) {
                ASSERT_TRUE(rc == STRATA_EPBTRUNC || rc == STRATA_EPBVARINT ||
                            rc == STRATA_EPBLENGTH || rc == STRATA_EPBTAG ||
                            rc == STRATA_EPBGROUP || rc == STRATA_EPBWIRETYPE);
                free(copy);
                continue;
            }
            size_t rlen;
            encode_into(&kv, re, 2 * len + 64, &rlen);
            ASSERT_OK(mvcc__kv_decode(re, rlen, &again));
            ASSERT_TRUE(mvcc__kv_equal(&kv, &again));
            free(copy);
        }
    free(mut);
    free(re);
}

static void test_kv_mutation_sweep(void)
{
    static const char *inputs[] = {
        "0a 0a 66782f6b65792f323937 10 ab02 18 b503 20 03 2a 06 72332d323937",
        "0a 0a 66782f6b65792f303130 10 0c 18 e903 20 03 2a 0a 6c65617365642d303130 30 "
        "dfe7aef3cdc0e8d110",
        "30 fbffffffffffffffff01",
        "38 96 01 0a 01 6b 41 0102030405060708 4a 03 616263 55 01020304 5b 08 01 63 6c 5c",
    };
    size_t runs = 0;
    uint8_t buf[256];
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        size_t n = harness_unhex(inputs[i], buf, sizeof buf);
        sweep_one(buf, n, &runs);
    }
    strata_rng r;
    strata_rng_seed(&r, harness_seed() + 2);
    uint8_t key[100], val[100], enc[300];
    for (int i = 0; i < 200; i++) {
        for (size_t j = 0; j < sizeof key; j++) {
            key[j] = (uint8_t)strata_rng_next(&r);
            val[j] = (uint8_t)strata_rng_next(&r);
        }
        mvcc__kv kv;
        kv.key = key;
        kv.key_len = strata_rng_below(&r, 40);
        kv.create_revision = rand_int(&r);
        kv.mod_revision = rand_int(&r);
        kv.version = rand_int(&r);
        kv.value = val;
        kv.value_len = strata_rng_below(&r, 40);
        kv.lease = rand_int(&r);
        size_t len;
        encode_into(&kv, enc, sizeof enc, &len);
        sweep_one(enc, len, &runs);
    }
    printf("figure: KeyValue mutation sweep: %zu decodes\n", runs);
}

/* ---- the schema check ----------------------------------------------------- */

static void test_kv_check(void)
{
    char why[128];
    mvcc__revkey put = { { 437, 0 }, false }, tomb = { { 438, 0 }, true };
    mvcc__kv kv = { S("fx/key/297"), 299, 437, 3, S("r3-297"), 0 };
    ASSERT_OK(mvcc__kv_check(&kv, &put, why, sizeof why));
    mvcc__kv t = mvcc__kv_tombstone("fx/key/005", 10);
    ASSERT_OK(mvcc__kv_check(&t, &tomb, why, sizeof why));

    ASSERT_RC(mvcc__kv_check(&kv, &tomb, why, sizeof why), MVCC_ECORRUPT);
    ASSERT_EQ_STR(why, "revision 438_0t: tombstone value holds more than the key");
    ASSERT_RC(mvcc__kv_check(&t, &put, why, sizeof why), MVCC_ECORRUPT);
    mvcc__kv bad = kv;
    bad.mod_revision = 436;
    ASSERT_RC(mvcc__kv_check(&bad, &put, why, sizeof why), MVCC_ECORRUPT);
    ASSERT_EQ_STR(why, "revision 437_0: mod_revision differs from the revision key");
    bad = kv;
    bad.create_revision = 438;
    ASSERT_RC(mvcc__kv_check(&bad, &put, NULL, 0), MVCC_ECORRUPT);
    bad.create_revision = 0;
    ASSERT_RC(mvcc__kv_check(&bad, &put, why, sizeof why), MVCC_ECORRUPT);
    bad = kv;
    bad.version = 0;
    ASSERT_RC(mvcc__kv_check(&bad, &put, why, sizeof why), MVCC_ECORRUPT);
    ASSERT_EQ_STR(why, "revision 437_0: version below 1");
    bad = kv;
    bad.key_len = 0;
    ASSERT_RC(mvcc__kv_check(&bad, &put, why, sizeof why), MVCC_ECORRUPT);
    ASSERT_EQ_STR(why, "revision 437_0: empty key");
}

static void test_status_messages(void)
{
    ASSERT_EQ_STR(mvcc_strerror(MVCC_EREVKEYSEP), "mvcc: revision key has no '_' at byte 8");
    ASSERT_EQ_STR(mvcc_status_name(STRATA_EPBVARINT), "STRATA_EPBVARINT");
    ASSERT_EQ_STR(mvcc_strerror(STRATA_EPBTRUNC), "protobuf: unexpected end of record");
}

int main(void)
{
    HARNESS_BEGIN(20240611);
    RUN(test_revkey_golden);
    RUN(test_revkey_malformed);
    RUN(test_revkey_roundtrip_and_order);
    RUN(test_kv_golden);
    RUN(test_kv_roundtrip);
    RUN(test_kv_accepts_like_gogo);
    RUN(test_kv_rejects_like_gogo);
    RUN(test_kv_mutation_sweep);
    RUN(test_kv_check);
    RUN(test_status_messages);
    return 0;
}
