/* test_clock.c: common/clock.c. */
#include "harness.h"

static void test_monotonic_never_goes_back(void)
{
    strata_clock *c = strata_clock_monotonic();
    uint64_t prev = c->now_ns(c);
    for (int i = 0; i < 1000; i++) {
        uint64_t now = c->now_ns(c);
        ASSERT_LE_U64(prev, now);
        prev = now;
    }
}

static void test_manual_clock_moves_only_when_told(void)
{
    strata_manual_clock m;
    strata_manual_clock_init(&m, 500);
    strata_clock *c = &m.clock;
    ASSERT_EQ_U64(c->now_ns(c), 500);
    ASSERT_EQ_U64(c->now_ns(c), 500);
    strata_manual_clock_advance(&m, 1000000000u);
    ASSERT_EQ_U64(c->now_ns(c), 1000000500u);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_monotonic_never_goes_back);
    RUN(test_manual_clock_moves_only_when_told);
    return 0;
}
