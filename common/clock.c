/*
 * clock.c: the monotonic clock and a manual clock for tests.
 *
 * Layers never call clock_gettime themselves; they take a strata_clock so a
 * test can move time by hand (lease expiry, batch intervals) and never
 * sleeps waiting for the wall clock.
 */
#include <strata/common.h>

#include <time.h>

static uint64_t monotonic_now(strata_clock *clock)
{
    (void)clock;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static strata_clock monotonic_clock = { .now_ns = monotonic_now };

strata_clock *strata_clock_monotonic(void)
{
    return &monotonic_clock;
}

static uint64_t manual_now(strata_clock *clock)
{
    /* clock is the first member of strata_manual_clock. */
    strata_manual_clock *c = (strata_manual_clock *)clock;
    return __atomic_load_n(&c->now, __ATOMIC_ACQUIRE);
}

void strata_manual_clock_init(strata_manual_clock *c, uint64_t start_ns)
{
    c->clock.now_ns = manual_now;
    __atomic_store_n(&c->now, start_ns, __ATOMIC_RELEASE);
}

void strata_manual_clock_advance(strata_manual_clock *c, uint64_t delta_ns)
{
    __atomic_add_fetch(&c->now, delta_ns, __ATOMIC_ACQ_REL);
}
