/*
 * test_page.c: bolt/page.c on hand-built pages: valid branch and leaf pages
 * decode, and every corruption (bad flags, id mismatch, count past the end,
 * pos/ksize/vsize past the end, empty keys, empty branches, overlapping
 * keys, truncated buffers) is BOLT_ECORRUPT with a reason, never a crash.
 */
#include "bolt_test.h"

#include "bolt/bolt_int.h"

#define PS 512

static unsigned char page[PS];

/* A leaf with keys "a", "bb", "ccc" and values "1", "", "333", packed as bbolt does. */
static void build_leaf(bolt_pgid id)
{
    memset(page, 0, sizeof page);
    bolt__st64(page, id);
    bolt__st16(page + 8, 0x02);
    bolt__st16(page + 10, 3);
    const char *keys[] = { "a", "bb", "ccc" };
    const char *vals[] = { "1", "", "333" };
    size_t data = 16 + 3 * 16;
    for (int i = 0; i < 3; i++) {
        unsigned char *e = page + 16 + 16 * i;
        bolt__st32(e + 0, 0);
        bolt__st32(e + 4, (uint32_t)(data - (size_t)(16 + 16 * i)));
        bolt__st32(e + 8, (uint32_t)strlen(keys[i]));
        bolt__st32(e + 12, (uint32_t)strlen(vals[i]));
        memcpy(page + data, keys[i], strlen(keys[i]));
        data += strlen(keys[i]);
        memcpy(page + data, vals[i], strlen(vals[i]));
        data += strlen(vals[i]);
    }
}

static void build_branch(bolt_pgid id)
{
    memset(page, 0, sizeof page);
    bolt__st64(page, id);
    bolt__st16(page + 8, 0x01);
    bolt__st16(page + 10, 2);
    size_t data = 16 + 2 * 16;
    const char *keys[] = { "a", "m" };
    for (int i = 0; i < 2; i++) {
        unsigned char *e = page + 16 + 16 * i;
        bolt__st32(e + 0, (uint32_t)(data - (size_t)(16 + 16 * i)));
        bolt__st32(e + 4, 1);
        bolt__st64(e + 8, 10 + (uint64_t)i);
        memcpy(page + data, keys[i], 1);
        data += 1;
    }
}

static void expect_corrupt(bolt_pgid id, size_t size)
{
    const char *why = NULL;
    ASSERT_RC(bolt__page_check(page, size, id, &why), BOLT_ECORRUPT);
    ASSERT_NOT_NULL(why);
}

static void test_valid_leaf_decodes(void)
{
    build_leaf(7);
    bolt__page p;
    const char *why;
    ASSERT_OK(bolt__page_load(page, PS, 7, &p, &why));
    ASSERT_TRUE(bolt__page_is_leaf(&p));
    ASSERT_EQ_INT(p.count, 3);
    uint32_t flags;
    bolt_val k, v;
    bolt__page_leaf_elem(&p, 2, &flags, &k, &v);
    ASSERT_EQ_MEM(k.data, k.size, "ccc", 3);
    ASSERT_EQ_MEM(v.data, v.size, "333", 3);
    bolt__page_leaf_elem(&p, 1, &flags, &k, &v);
    ASSERT_EQ_SIZE(v.size, 0);
    ASSERT_EQ_INT(flags, 0);
}

static void test_valid_branch_decodes(void)
{
    build_branch(9);
    bolt__page p;
    const char *why;
    ASSERT_OK(bolt__page_load(page, PS, 9, &p, &why));
    ASSERT_FALSE(bolt__page_is_leaf(&p));
    bolt_val k;
    ASSERT_EQ_U64(bolt__page_branch_elem(&p, 1, &k), 11);
    ASSERT_EQ_MEM(k.data, k.size, "m", 1);
}

static void test_header_corruptions(void)
{
    build_leaf(7);
    expect_corrupt(8, PS); /* id mismatch */
    expect_corrupt(7, 15); /* shorter than a header */
    const uint16_t bad_flags[] = { 0, 0x03, 0x04, 0x10, 0x08, 0x12, 0xffff };
    for (size_t i = 0; i < sizeof bad_flags / sizeof *bad_flags; i++) {
        build_leaf(7);
        bolt__st16(page + 8, bad_flags[i]);
        expect_corrupt(7, PS);
    }
    build_leaf(7);
    bolt__st16(page + 10, 40); /* count: elements past the end */
    expect_corrupt(7, PS);
    bolt__st16(page + 10, 0xffff);
    expect_corrupt(7, PS);
    build_branch(9);
    bolt__st16(page + 10, 0); /* an empty branch */
    expect_corrupt(9, PS);
    ASSERT_RC(bolt__page_check(NULL, PS, 0, NULL), BOLT_ECORRUPT);
}

static void test_element_corruptions(void)
{
    /* Leaf element 1: pos, ksize, vsize each pushed past the end. */
    const int fields[] = { 4, 8, 12 };
    const uint32_t vals[] = { PS, 0x7fffffff, 0xffffffff, 1000 };
    for (size_t f = 0; f < 3; f++) {
        for (size_t v = 0; v < 4; v++) {
            build_leaf(7);
            bolt__st32(page + 16 + 16 + fields[f], vals[v]);
            expect_corrupt(7, PS);
        }
    }
    build_leaf(7);
    bolt__st32(page + 16 + 8, 0); /* empty key */
    expect_corrupt(7, PS);
    build_leaf(7);
    bolt__st32(page + 16 + 4, 0); /* key overlapping the element array */
    expect_corrupt(7, PS);
    build_leaf(7);
    bolt__st32(page + 16, 0x04); /* unknown leaf element flag */
    expect_corrupt(7, PS);
    build_leaf(7);
    bolt__st32(page + 16, 0x01); /* bucket with a 1-byte value */
    expect_corrupt(7, PS);
    build_branch(9);
    bolt__st32(page + 16 + 16 + 4, 600); /* branch ksize past the end */
    expect_corrupt(9, PS);
    build_branch(9);
    bolt__st32(page + 16, 0xfffffff0); /* branch pos past the end */
    expect_corrupt(9, PS);
    /* The exact end is fine, one byte less is not. */
    build_leaf(7);
    size_t used = 16 + 3 * 16 + 1 + 1 + 2 + 0 + 3 + 3;
    const char *why;
    ASSERT_OK(bolt__page_check(page, used, 7, &why));
    expect_corrupt(7, used - 1);
}

/* Random bytes: never a crash, and a pass only when every element fits. */
static void test_random_pages_never_crash(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    for (int round = 0; round < 20000; round++) {
        build_leaf(7);
        int flips = 1 + (int)strata_rng_below(&rng, 6);
        for (int i = 0; i < flips; i++)
            page[strata_rng_below(&rng, 80)] = (unsigned char)strata_rng_next(&rng);
        size_t size = 16 + strata_rng_below(&rng, PS - 16);
        bolt__page p;
        const char *why;
        if (bolt__page_load(page, size, bolt__ld64(page), &p, &why) != 0)
            continue;
        /* Passed: every element must lie inside `size`. */
        for (unsigned i = 0; i < p.count; i++) {
            bolt_val k, v = { NULL, 0 };
            if (bolt__page_is_leaf(&p))
                bolt__page_leaf_elem(&p, i, NULL, &k, &v);
            else
                bolt__page_branch_elem(&p, i, &k);
            const unsigned char *end = page + size;
            ASSERT_TRUE((const unsigned char *)k.data + k.size <= end);
            ASSERT_TRUE(k.size > 0);
            if (v.data != NULL)
                ASSERT_TRUE((const unsigned char *)v.data + v.size <= end);
        }
    }
}

static void test_page_dump_printer(void)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    build_leaf(7);
    bolt__page_dump(f, page, PS);
    bolt__st16(page + 8, 0x10);
    bolt__page_dump(f, page, PS);
    bolt__page_dump(f, page, 3);
    fclose(f);
    ASSERT_TRUE(strstr(out, "page 7 flags=0x2 count=3 overflow=0\n") != NULL);
    ASSERT_TRUE(strstr(out, "  [2] 636363 = 333333\n") != NULL);
    ASSERT_TRUE(strstr(out, "not a valid branch/leaf page") != NULL);
    ASSERT_TRUE(strstr(out, "shorter than a header") != NULL);
    free(out);
    ASSERT_EQ_STR(bolt__tx_state_str(NULL), "tx NULL");
}

int main(void)
{
    HARNESS_BEGIN(7);
    RUN(test_valid_leaf_decodes);
    RUN(test_valid_branch_decodes);
    RUN(test_header_corruptions);
    RUN(test_element_corruptions);
    RUN(test_random_pages_never_crash);
    RUN(test_page_dump_printer);
    return 0;
}
