/*
 * rand.c: SplitMix64, the seeded generator of docs/bench.md, tests and demos.
 * Deterministic by construction: the same seed gives the same stream on
 * every machine, so a failing seed printed by a test replays exactly.
 */
#include <strata/common.h>

uint64_t strata_splitmix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void strata_rng_seed(strata_rng *r, uint64_t seed)
{
    r->state = seed;
}

uint64_t strata_rng_next(strata_rng *r)
{
    /* splitmix64 adds the increment before mixing, so the stream is
     * splitmix64(seed), splitmix64(seed + inc), ... */
    uint64_t x = r->state;
    r->state += 0x9E3779B97F4A7C15ull;
    return strata_splitmix64(x);
}

uint64_t strata_rng_below(strata_rng *r, uint64_t bound)
{
    if (bound == 0)
        return 0;
    /* Lemire's multiply-shift with rejection: unbiased for every bound. */
    uint64_t x = strata_rng_next(r);
    __uint128_t m = (__uint128_t)x * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            x = strata_rng_next(r);
            m = (__uint128_t)x * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}
