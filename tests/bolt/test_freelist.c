/*
 * test_freelist.c: bolt/freelist.c through freelist.h: allocation of the
 * lowest run, free/pending/release, bbolt's releaseRange rule, rollback,
 * double frees refused, the page image (incl. the 0xFFFF count escape) and
 * reading it back with validation.
 */
#include "bolt_test.h"

#include "bolt/bolt_int.h"

static bolt__freelist *with_ids(const bolt_pgid *ids, size_t n, bolt_pgid hwm)
{
    bolt__freelist *f;
    ASSERT_OK(bolt__freelist_new(BOLT__FREELIST_ARRAY, &f));
    ASSERT_OK(bolt__freelist_load_ids(f, ids, n, hwm));
    ASSERT_TRUE(bolt__freelist_ok(f));
    return f;
}

static void test_allocate_lowest_run(void)
{
    const bolt_pgid ids[] = { 12, 3, 4, 5, 9, 10, 11, 20 };
    bolt__freelist *f = with_ids(ids, 8, 100);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 3), 3);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 3), 9);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 2), 0);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 1), 12);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 1), 20);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 1), 0);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 0);
    ASSERT_TRUE(bolt__freelist_ok(f));
    bolt__freelist_free(f);
}

static void test_pending_release_and_double_free(void)
{
    bolt__freelist *f = with_ids(NULL, 0, 100);
    ASSERT_OK(bolt__freelist_free_run(f, 7, 10, 2, false)); /* 10, 11, 12 */
    ASSERT_TRUE(bolt__freelist_freed(f, 11));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 3);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 8, 1), 0); /* pending: not allocatable */
    ASSERT_RC(bolt__freelist_free_run(f, 8, 12, 0, false), BOLT_EPANIC);
    ASSERT_RC(bolt__freelist_free_run(f, 8, 1, 0, false), BOLT_EPANIC);
    bolt__freelist_release(f, 6);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 0);
    bolt__freelist_release(f, 7);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 3);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 8, 3), 10);
    ASSERT_TRUE(bolt__freelist_ok(f));
    bolt__freelist_free(f);
}

static void test_release_range(void)
{
    /* Page 30 allocated by tx 5 and freed by tx 6: with readers at 4 and 8,
     * nobody can see it, so releaseRange(5, 7) frees it; page 31 (loaded from
     * disk, allocating txid unknown) stays pending. */
    const bolt_pgid ids[] = { 30 };
    bolt__freelist *f = with_ids(ids, 1, 100);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 5, 1), 30);
    ASSERT_OK(bolt__freelist_free_run(f, 6, 30, 0, false));
    ASSERT_OK(bolt__freelist_free_run(f, 6, 31, 0, false));
    bolt__freelist_release_range(f, 5, 7);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 1);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 1);
    bolt__freelist_release_range(f, 9, 8); /* empty range: nothing */
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 1);
    bolt__freelist_free(f);
}

static void test_rollback(void)
{
    const bolt_pgid ids[] = { 5, 6, 7 };
    bolt__freelist *f = with_ids(ids, 3, 100);
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 9, 2), 5);     /* 5,6 by tx 9 */
    ASSERT_OK(bolt__freelist_free_run(f, 9, 40, 1, false)); /* 40,41 freed by 9 */
    bolt__freelist_rollback(f, 9);
    ASSERT_EQ_SIZE(bolt__freelist_free_count(f), 3);
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_FALSE(bolt__freelist_freed(f, 40));
    ASSERT_TRUE(bolt__freelist_freed(f, 5));
    /* Allocated by 10, committed; freed by 11 then rolled back: in use, and
     * freeing it again later still knows its allocating tx. */
    ASSERT_EQ_U64(bolt__freelist_allocate(f, 10, 1), 5);
    ASSERT_OK(bolt__freelist_free_run(f, 11, 5, 0, false));
    bolt__freelist_rollback(f, 11);
    ASSERT_FALSE(bolt__freelist_freed(f, 5));
    ASSERT_OK(bolt__freelist_free_run(f, 12, 5, 0, false));
    bolt__freelist_release_range(f, 10, 12);
    ASSERT_TRUE(bolt__freelist_freed(f, 5));
    ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), 0);
    ASSERT_TRUE(bolt__freelist_ok(f));
    bolt__freelist_free(f);
}

static void test_page_image_round_trip(void)
{
    size_t counts[] = { 0, 1, 100, 0xFFFE, 0xFFFF, 70000 };
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        size_t n = counts[c];
        bolt_pgid *ids = malloc((n + 1) * sizeof *ids);
        for (size_t i = 0; i < n; i++)
            ids[i] = 2 + 2 * (bolt_pgid)i;
        bolt__freelist *f = with_ids(ids, n, 2 + 2 * (bolt_pgid)n + 1);
        /* Half pending: the image holds the union. */
        if (n > 0)
            ASSERT_OK(bolt__freelist_free_run(f, 3, 2 + 2 * (bolt_pgid)n, 0, false));
        size_t total = n + (n > 0);
        size_t size = bolt__freelist_page_size(f);
        ASSERT_EQ_SIZE(size, 16 + 8 * total + (total >= 0xFFFF ? 8 : 0));
        unsigned char *buf = calloc(1, size);
        ASSERT_RC(bolt__freelist_write(f, buf, size - 1), STRATA_EMISUSE);
        ASSERT_OK(bolt__freelist_write(f, buf, size));
        ASSERT_EQ_INT(bolt__ld16(buf + 8), 0x10);
        ASSERT_EQ_INT(bolt__ld16(buf + 10), total >= 0xFFFF ? 0xFFFF : total);
        bolt__freelist *g;
        ASSERT_OK(bolt__freelist_new(BOLT__FREELIST_ARRAY, &g));
        ASSERT_OK(bolt__freelist_read(g, buf, size, 2 + 2 * (bolt_pgid)n + 1));
        ASSERT_EQ_SIZE(bolt__freelist_free_count(g), total);
        if (total > 0) {
            ASSERT_RC(bolt__freelist_read(g, buf, size - 1, 1u << 30), BOLT_ECORRUPT);
            ASSERT_RC(bolt__freelist_read(g, buf, size, 2 + 2 * (bolt_pgid)n), BOLT_ECORRUPT);
        }
        bolt__freelist_free(g);
        bolt__freelist_free(f);
        free(buf);
        free(ids);
    }
}

static void test_load_rejects_bad_ids(void)
{
    bolt__freelist *f;
    ASSERT_OK(bolt__freelist_new(BOLT__FREELIST_HASHMAP, &f));
    const bolt_pgid dupe[] = { 4, 5, 4 }, low[] = { 1 }, high[] = { 10 };
    ASSERT_RC(bolt__freelist_load_ids(f, dupe, 3, 10), BOLT_ECORRUPT);
    ASSERT_RC(bolt__freelist_load_ids(f, low, 1, 10), BOLT_ECORRUPT);
    ASSERT_RC(bolt__freelist_load_ids(f, high, 1, 10), BOLT_ECORRUPT);
    bolt__freelist_free(f);
}

/*
 * Random operations against a reference, used as the engine uses the
 * freelist: whole runs are allocated and later freed as the same runs.
 * Reference state per id: 0 in use, 1 free, 2 pending; runs remember who
 * allocated them (0 = before load) and who freed them.
 */
typedef struct ref_run {
    bolt_pgid id;
    uint32_t n;
    bolt_txid atx, ftx; /* ftx 0 = live */
} ref_run;

static void test_random_against_reference(void)
{
    enum { N = 600 };
    static unsigned char st[N];
    static ref_run runs[4 * N];
    size_t nruns = 0;
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    bolt__freelist *f;
    ASSERT_OK(bolt__freelist_new(BOLT__FREELIST_ARRAY, &f));
    bolt_pgid init[N];
    size_t ni = 0;
    for (bolt_pgid id = 2; id < N; id++) {
        st[id] = (unsigned char)strata_rng_below(&rng, 2);
        if (st[id] == 1)
            init[ni++] = id;
        else
            runs[nruns++] = (ref_run){ id, 1, 0, 0 };
    }
    ASSERT_OK(bolt__freelist_load_ids(f, init, ni, N));
    bolt_txid tx = 10;
    for (int step = 0; step < 20000; step++) {
        uint64_t op = strata_rng_below(&rng, 10);
        if (op < 4) {
            uint32_t n = 1 + (uint32_t)strata_rng_below(&rng, 3);
            bolt_pgid want = 0;
            for (bolt_pgid id = 2; id + n <= N && want == 0; id++) {
                uint32_t k = 0;
                while (k < n && st[id + k] == 1)
                    k++;
                if (k == n)
                    want = id;
            }
            ASSERT_EQ_U64(bolt__freelist_allocate(f, tx, n), want);
            if (want != 0) {
                for (uint32_t k = 0; k < n; k++)
                    st[want + k] = 0;
                if (nruns < 4 * N)
                    runs[nruns++] = (ref_run){ want, n, tx, 0 };
            }
        } else if (op < 7) {
            if (nruns == 0)
                continue;
            ref_run *r = &runs[strata_rng_below(&rng, nruns)];
            int rc = bolt__freelist_free_run(f, tx, r->id, r->n - 1, false);
            if (r->ftx != 0 || st[r->id] != 0) {
                ASSERT_RC(rc, BOLT_EPANIC); /* a double free is refused */
                continue;
            }
            ASSERT_OK(rc);
            r->ftx = tx;
            for (uint32_t k = 0; k < r->n; k++)
                st[r->id + k] = 2;
        } else if (op < 8) {
            bolt__freelist_release(f, tx);
            size_t w = 0;
            for (size_t i = 0; i < nruns; i++) {
                if (runs[i].ftx != 0 && runs[i].ftx <= tx) {
                    for (uint32_t k = 0; k < runs[i].n; k++)
                        st[runs[i].id + k] = 1;
                } else {
                    runs[w++] = runs[i];
                }
            }
            nruns = w;
            tx++;
        } else if (op < 9) {
            tx++; /* a commit: pending stays pending */
        } else {
            bolt__freelist_rollback(f, tx);
            size_t w = 0;
            for (size_t i = 0; i < nruns; i++) {
                ref_run r = runs[i];
                if (r.atx == tx) { /* allocated by the rolled back tx: free */
                    for (uint32_t k = 0; k < r.n; k++)
                        st[r.id + k] = 1;
                    continue;
                }
                if (r.ftx == tx) { /* freed by it: in use again */
                    r.ftx = 0;
                    for (uint32_t k = 0; k < r.n; k++)
                        st[r.id + k] = 0;
                }
                runs[w++] = r;
            }
            nruns = w;
            tx++;
        }
        ASSERT_TRUE(bolt__freelist_ok(f));
        size_t nf = 0, np = 0;
        for (bolt_pgid id = 2; id < N; id++) {
            nf += st[id] == 1;
            np += st[id] == 2;
            ASSERT_EQ_INT(bolt__freelist_freed(f, id), st[id] != 0);
        }
        ASSERT_EQ_SIZE(bolt__freelist_free_count(f), nf);
        ASSERT_EQ_SIZE(bolt__freelist_pending_count(f), np);
    }
    bolt__freelist_free(f);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_allocate_lowest_run);
    RUN(test_pending_release_and_double_free);
    RUN(test_release_range);
    RUN(test_rollback);
    RUN(test_page_image_round_trip);
    RUN(test_load_rejects_bad_ids);
    RUN(test_random_against_reference);
    return 0;
}
