/* test_rand.c: common/rand.c (docs/bench.md's SplitMix64). */
#include "harness.h"

static void test_splitmix64_reference_values(void)
{
    /* Reference outputs of the standard SplitMix64 for states 0 and 1. */
    ASSERT_EQ_HEX(strata_splitmix64(0), 0xe220a8397b1dcdafull);
    ASSERT_EQ_HEX(strata_splitmix64(1), 0x910a2dec89025cc1ull);
}

static void test_stream_matches_splitmix64(void)
{
    strata_rng r;
    strata_rng_seed(&r, 7);
    for (uint64_t i = 0; i < 100; i++)
        ASSERT_EQ_HEX(strata_rng_next(&r), strata_splitmix64(7 + i * 0x9E3779B97F4A7C15ull));
}

static void test_below_stays_in_bounds_and_covers(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    int seen[10] = { 0 };
    for (int i = 0; i < 10000; i++) {
        uint64_t v = strata_rng_below(&r, 10);
        ASSERT_LT_INT(v, 10);
        seen[v]++;
    }
    for (int i = 0; i < 10; i++)
        ASSERT_GT_INT(seen[i], 800); /* expected 1000 each */
    ASSERT_EQ_U64(strata_rng_below(&r, 0), 0);
    ASSERT_EQ_U64(strata_rng_below(&r, 1), 0);
}

int main(void)
{
    HARNESS_BEGIN(3);
    RUN(test_splitmix64_reference_values);
    RUN(test_stream_matches_splitmix64);
    RUN(test_below_stays_in_bounds_and_covers);
    return 0;
}
