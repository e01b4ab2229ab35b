/*
 * test_get_many.c: backend_read_tx_get_many against one
 * backend_read_tx_range (empty end) per key, over random puts, deletes and
 * commits: buffered puts shadow bolt's values, buffered deletes hide keys,
 * keys only in bolt come from bolt_bucket_get_many; readers keep their view
 * across later writes and commits.
 */
#include "backend_test.h"

#define NKEYS 800

typedef struct one {
    bool found;
    bolt_val v;
} one;

static int take(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    one *o = arg;
    o->found = true;
    o->v = value;
    return 0;
}

static void key_of(uint64_t i, char *buf, size_t n)
{
    snprintf(buf, n, "k%06llu", (unsigned long long)i);
}

static void check_reader(backend_read_tx *rt, strata_rng *rng)
{
    enum { N = 150 };
    char buf[N][16];
    bolt_val keys[N], got[N];
    for (int round = 0; round < 4; round++) {
        size_t n = 1 + strata_rng_below(rng, N);
        for (size_t i = 0; i < n; i++) {
            key_of(strata_rng_below(rng, NKEYS + 20), buf[i], sizeof buf[i]);
            keys[i] = bolt_str(buf[i]);
        }
        ASSERT_OK(backend_read_tx_get_many(rt, bolt_str("b"), keys, n, got));
        for (size_t i = 0; i < n; i++) {
            one o = { 0 };
            ASSERT_OK(backend_read_tx_range(rt, bolt_str("b"), keys[i], (bolt_val){ NULL, 0 }, 0,
                                            take, &o));
            if (!o.found) {
                ASSERT_NULL(got[i].data);
            } else {
                ASSERT_NOT_NULL(got[i].data);
                ASSERT_EQ_MEM(got[i].data, got[i].size, o.v.data, o.v.size);
            }
        }
    }
    bolt_val k = bolt_str("k000001"), v;
    ASSERT_RC(backend_read_tx_get_many(rt, bolt_str("nope"), &k, 1, &v), BACKEND_EBUCKETNOTFOUND);
    ASSERT_RC(backend_read_tx_get_many(rt, bolt_str("b"), NULL, 1, &v), STRATA_EMISUSE);
}

static void test_model(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    o.batch_limit = 211;
    backend *be = bk_open("getmany.db", &o);
    bk_bucket(be, "b");
    backend_batch_tx *tx = backend_batch(be);
    backend_read_tx *old = NULL;
    for (int step = 0; step < 120; step++) {
        backend_batch_tx_lock(tx);
        int nops = 1 + (int)strata_rng_below(&rng, 60);
        for (int j = 0; j < nops; j++) {
            char k[16], v[48];
            key_of(strata_rng_below(&rng, NKEYS), k, sizeof k);
            if (strata_rng_below(&rng, 4) == 0) {
                ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k)));
            } else {
                snprintf(v, sizeof v, "v%d.%d", step, j);
                ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
            }
        }
        ASSERT_OK(backend_batch_tx_unlock(tx));
        if (strata_rng_below(&rng, 4) == 0)
            ASSERT_OK(backend_force_commit(be));
        backend_read_tx *rt;
        ASSERT_OK(backend_read_tx_begin(be, &rt));
        check_reader(rt, &rng);
        backend_read_tx_end(rt);
        /* A reader that lives across writes and commits keeps its view. */
        if (old != NULL)
            check_reader(old, &rng);
        if (strata_rng_below(&rng, 10) == 0) {
            backend_read_tx_end(old);
            ASSERT_OK(backend_read_tx_begin(be, &old));
        }
    }
    backend_read_tx_end(old);
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(3);
    RUN(test_model);
    return 0;
}
