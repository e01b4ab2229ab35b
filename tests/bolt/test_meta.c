/*
 * test_meta.c: bolt/meta.c: the FNV-1a checksum against docs/format.md's worked
 * example, encode/decode round trip, bbolt's validation order (magic,
 * version, checksum; a stored 0 accepted), the choice of the current meta,
 * and the range checks strata adds.
 */
#include "bolt_test.h"

#include "bolt/bolt_int.h"

static bolt__meta sample(bolt_txid txid)
{
    bolt__meta m = { .magic = BOLT_MAGIC,
                     .version = 2,
                     .page_size = 4096,
                     .root = 3,
                     .freelist = 2,
                     .pgid = 4,
                     .txid = txid };
    return m;
}

static void test_worked_example_checksum(void)
{
    unsigned char page[4096];
    bolt__meta m = sample(0);
    bolt__meta_encode(&m, 0, page, sizeof page);
    /* docs/format.md §3: meta 0 of empty.db. */
    ASSERT_EQ_HEX(bolt__ld64(page + 72), 0x07516e114689fdeeull);
    ASSERT_EQ_HEX(bolt__ld16(page + 8), 0x04);
    m = sample(1);
    bolt__meta_encode(&m, 1, page, sizeof page);
    ASSERT_EQ_HEX(bolt__ld64(page + 72), 0x264c351a5179480full);
    ASSERT_EQ_U64(bolt__ld64(page), 1);
    for (size_t i = 80; i < sizeof page; i++)
        ASSERT_EQ_INT(page[i], 0);
}

static void test_round_trip_and_validation_order(void)
{
    unsigned char page[4096];
    bolt__meta m = sample(42), got;
    m.sequence = 7;
    bolt__meta_encode(&m, 0, page, sizeof page);
    ASSERT_OK(bolt__meta_decode(page, sizeof page, &got));
    ASSERT_EQ_U64(got.txid, 42);
    ASSERT_EQ_U64(got.sequence, 7);
    /* Checksum 0 is accepted without computing (bbolt). */
    bolt__st64(page + 72, 0);
    ASSERT_OK(bolt__meta_decode(page, sizeof page, &got));
    /* A flipped body byte: checksum error. */
    bolt__meta_encode(&m, 0, page, sizeof page);
    page[60] ^= 1;
    ASSERT_RC(bolt__meta_decode(page, sizeof page, &got), BOLT_ECHECKSUM);
    /* Version is checked before the checksum, magic before both. */
    bolt__st32(page + 20, 3);
    ASSERT_RC(bolt__meta_decode(page, sizeof page, &got), BOLT_EVERSIONMISMATCH);
    bolt__st32(page + 16, 0xdeadbeef);
    ASSERT_RC(bolt__meta_decode(page, sizeof page, &got), BOLT_EINVALID);
    /* Zeroed and short pages. */
    memset(page, 0, sizeof page);
    ASSERT_RC(bolt__meta_decode(page, sizeof page, &got), BOLT_EINVALID);
    ASSERT_RC(bolt__meta_decode(page, 79, &got), BOLT_EINVALID);
}

static void test_choose(void)
{
    bolt__meta a = sample(4), b = sample(5), out;
    ASSERT_OK(bolt__meta_choose(&a, 0, &b, 0, &out));
    ASSERT_EQ_U64(out.txid, 5);
    ASSERT_OK(bolt__meta_choose(&b, 0, &a, 0, &out));
    ASSERT_EQ_U64(out.txid, 5);
    ASSERT_OK(bolt__meta_choose(&a, 0, &b, BOLT_ECHECKSUM, &out));
    ASSERT_EQ_U64(out.txid, 4);
    ASSERT_RC(bolt__meta_choose(&a, BOLT_ECHECKSUM, &b, BOLT_EINVALID, &out), BOLT_ECHECKSUM);
    bolt__meta c = sample(5);
    c.root = 9;
    ASSERT_OK(bolt__meta_choose(&c, 0, &b, 0, &out)); /* tie: meta 0 */
    ASSERT_EQ_U64(out.root, 9);
}

static void test_sanity(void)
{
    const char *why;
    bolt__meta m = sample(2);
    ASSERT_OK(bolt__meta_sane(&m, &why));
    m.page_size = 1000; /* not a power of two: readable (bbolt has no rule) */
    ASSERT_OK(bolt__meta_sane(&m, &why));
    m.page_size = 256;
    ASSERT_RC(bolt__meta_sane(&m, &why), BOLT_EPAGESIZE);
    m.page_size = 131072;
    ASSERT_RC(bolt__meta_sane(&m, &why), BOLT_EPAGESIZE);
    m = sample(2);
    m.root = 4;
    ASSERT_RC(bolt__meta_sane(&m, &why), BOLT_ECORRUPT);
    m = sample(2);
    m.freelist = 1;
    ASSERT_RC(bolt__meta_sane(&m, &why), BOLT_ECORRUPT);
    m.freelist = BOLT_NO_FREELIST;
    ASSERT_OK(bolt__meta_sane(&m, &why));
    m.pgid = UINT64_MAX;
    ASSERT_RC(bolt__meta_sane(&m, &why), BOLT_ECORRUPT);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_worked_example_checksum);
    RUN(test_round_trip_and_validation_order);
    RUN(test_choose);
    RUN(test_sanity);
    return 0;
}
