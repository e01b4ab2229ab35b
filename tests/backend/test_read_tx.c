/* test_read_tx.c: backend/read_tx.c (merged views, isolation, concurrent readers). */
#include <pthread.h>

#include "backend_test.h"

#define NKEYS 300

/* The model: value index per key (-1 = absent). */
typedef struct model {
    int v[NKEYS];
} model;

static void key_of(int i, char *buf, size_t n)
{
    snprintf(buf, n, "k%04d", i);
}

static void val_of(int v, char *buf, size_t n)
{
    snprintf(buf, n, "value-%d-%0*d", v, v % 30, 0);
}

/* What the model says a range [lo, hi) with limit shows, as bk_append writes it. */
static void model_scan(const model *m, int lo, int hi, uint64_t limit, bk_str *s)
{
    s->len = 0;
    s->buf[0] = '\0';
    uint64_t n = 0;
    for (int i = lo; i < hi && (limit == 0 || n < limit); i++) {
        if (m->v[i] < 0)
            continue;
        char k[16], v[64];
        key_of(i, k, sizeof k);
        val_of(m->v[i], v, sizeof v);
        bk_append(s, bolt_str(k), bolt_str(v));
        n++;
    }
}

static void check_view(backend_read_tx *rt, const model *m, strata_rng *rng)
{
    bk_str got, want;
    got.len = 0;
    got.buf[0] = '\0';
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("b"), bk_append, &got));
    model_scan(m, 0, NKEYS, 0, &want);
    ASSERT_EQ_STR(got.buf, want.buf);
    for (int t = 0; t < 5; t++) {
        int lo = (int)strata_rng_below(rng, NKEYS), hi = lo + 1 + (int)strata_rng_below(rng, 60);
        if (hi > NKEYS)
            hi = NKEYS;
        uint64_t limit = strata_rng_below(rng, 8);
        char klo[16], khi[16];
        key_of(lo, klo, sizeof klo);
        key_of(hi, khi, sizeof khi);
        got.len = 0;
        got.buf[0] = '\0';
        ASSERT_OK(backend_read_tx_range(rt, bolt_str("b"), bolt_str(klo), bolt_str(khi), limit,
                                        bk_append, &got));
        model_scan(m, lo, hi, limit, &want);
        ASSERT_EQ_STR(got.buf, want.buf);
        got.len = 0;
        got.buf[0] = '\0';
        ASSERT_OK(backend_read_tx_range(rt, bolt_str("b"), bolt_str(klo), (bolt_val){ NULL, 0 }, 0,
                                        bk_append, &got));
        model_scan(m, lo, lo + 1, 0, &want);
        ASSERT_EQ_STR(got.buf, want.buf);
    }
}

/*
 * Random puts, deletes, commits and long-lived readers against a model:
 * every reader sees exactly the model as of its begin, whatever happened
 * since (buffer runs merging, commits emptying the buffer).
 */
static void test_model(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    o.batch_limit = 97;
    backend *be = bk_open("model.db", &o);
    bk_bucket(be, "b");
    model m;
    for (int i = 0; i < NKEYS; i++)
        m.v[i] = -1;
    enum { NR = 4 };
    backend_read_tx *readers[NR] = { 0 };
    model views[NR];
    backend_batch_tx *tx = backend_batch(be);
    for (int step = 0; step < 400; step++) {
        backend_batch_tx_lock(tx);
        int nops = 1 + (int)strata_rng_below(&rng, 20);
        for (int j = 0; j < nops; j++) {
            int i = (int)strata_rng_below(&rng, NKEYS);
            char k[16], v[64];
            key_of(i, k, sizeof k);
            if (strata_rng_below(&rng, 3) == 0) {
                ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k)));
                m.v[i] = -1;
            } else {
                int nv = step * 100 + j;
                val_of(nv, v, sizeof v);
                ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
                m.v[i] = nv;
            }
        }
        ASSERT_OK(backend_batch_tx_unlock(tx));
        switch (strata_rng_below(&rng, 6)) {
        case 0:
            ASSERT_OK(backend_force_commit(be));
            break;
        case 1:
            ASSERT_OK(backend_poke(be)); /* commits if the limit was reached */
            break;
        default:
            break;
        }
        int r = (int)strata_rng_below(&rng, NR);
        if (readers[r] != NULL) {
            check_view(readers[r], &views[r], &rng);
            backend_read_tx_end(readers[r]);
            readers[r] = NULL;
        } else {
            ASSERT_OK(backend_read_tx_begin(be, &readers[r]));
            views[r] = m;
        }
        if (step % 10 == 0) {
            backend_read_tx *now;
            ASSERT_OK(backend_read_tx_begin(be, &now));
            check_view(now, &m, &rng);
            backend_read_tx_end(now);
        }
    }
    for (int r = 0; r < NR; r++) {
        if (readers[r] != NULL) {
            check_view(readers[r], &views[r], &rng);
            backend_read_tx_end(readers[r]);
        }
    }
    ASSERT_EQ_SIZE(backend_read_tx_open(be), 0);
    ASSERT_TRUE(backend_commits(be) > 10);
    ASSERT_OK(backend_close(be));
}

/* ---- concurrency ----------------------------------------------------------- */

#define ROUNDS 1500
#define WINDOW 10

typedef struct shared {
    backend *be;
    int done;     /* atomic */
    int failures; /* atomic: a reader saw a broken invariant */
} shared;

/*
 * Each round, in one locked section: x = y = r, put w<r>, delete w<r - WINDOW>.
 * A reader must see x == y, x never going back, and exactly min(x + 1, WINDOW)
 * w keys, the newest being w<x>.
 */
static void *writer(void *arg)
{
    shared *sh = arg;
    backend_batch_tx *tx = backend_batch(sh->be);
    for (int r = 0; r < ROUNDS; r++) {
        char v[16], k[16];
        snprintf(v, sizeof v, "%08d", r);
        backend_batch_tx_lock(tx);
        int rc = backend_batch_tx_put(tx, bolt_str("b"), bolt_str("x"), bolt_str(v));
        rc = rc ? rc : backend_batch_tx_put(tx, bolt_str("b"), bolt_str("y"), bolt_str(v));
        snprintf(k, sizeof k, "w%08d", r);
        rc = rc ? rc : backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v));
        if (r >= WINDOW) {
            snprintf(k, sizeof k, "w%08d", r - WINDOW);
            rc = rc ? rc : backend_batch_tx_delete(tx, bolt_str("b"), bolt_str(k));
        }
        int urc = backend_batch_tx_unlock(tx);
        if (rc != 0 || urc != 0)
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
        if (r % 37 == 0 && backend_force_commit(sh->be) != 0)
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

typedef struct view {
    char x[16], y[16], last_w[16];
    int nw;
} view;

static int take(void *arg, bolt_val key, bolt_val value)
{
    view *v = arg;
    char *dst = ((const char *)key.data)[0] == 'x' ? v->x : v->y;
    snprintf(dst, 16, "%.*s", (int)value.size, (const char *)value.data);
    return 0;
}

static int take_w(void *arg, bolt_val key, bolt_val value)
{
    view *v = arg;
    v->nw++;
    snprintf(v->last_w, sizeof v->last_w, "%.*s", (int)value.size, (const char *)value.data);
    return 0;
}

static void *reader(void *arg)
{
    shared *sh = arg;
    long last = -1;
    int iters = 0;
    while (!__atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) || iters < 50) {
        iters++;
        backend_read_tx *rt;
        if (backend_read_tx_begin(sh->be, &rt) != 0) {
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
            break;
        }
        view v = { "", "", "", 0 };
        bolt_val none = { NULL, 0 };
        int rc = backend_read_tx_range(rt, bolt_str("b"), bolt_str("x"), none, 0, take, &v);
        rc = rc ? rc : backend_read_tx_range(rt, bolt_str("b"), bolt_str("y"), none, 0, take, &v);
        rc = rc ? rc
                : backend_read_tx_range(rt, bolt_str("b"), bolt_str("w"), bolt_str("x"), 0, take_w,
                                        &v);
        backend_read_tx_end(rt);
        if (rc != 0 || strcmp(v.x, v.y) != 0) {
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
            break;
        }
        if (v.x[0] == '\0')
            continue; /* before the first round */
        long x = strtol(v.x, NULL, 10);
        long want = x + 1 < WINDOW ? x + 1 : WINDOW;
        if (x < last || v.nw != want || strcmp(v.last_w, v.x) != 0) {
            fprintf(stderr, "reader: x %ld (last %ld), %d w keys (want %ld), newest %s\n", x, last,
                    v.nw, want, v.last_w);
            __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
            break;
        }
        last = x;
    }
    return NULL;
}

/* Readers on two threads while a writer writes, unlocks and commits. */
static void test_concurrent_readers(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    o.batch_limit = 16; /* the commit thread commits too, on its own */
    backend *be = bk_open("conc.db", &o);
    bk_bucket(be, "b");
    shared sh = { be, 0, 0 };
    pthread_t w, r1, r2;
    ASSERT_OK(-pthread_create(&r1, NULL, reader, &sh));
    ASSERT_OK(-pthread_create(&r2, NULL, reader, &sh));
    ASSERT_OK(-pthread_create(&w, NULL, writer, &sh));
    pthread_join(w, NULL);
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    ASSERT_EQ_INT(sh.failures, 0);
    ASSERT_TRUE(backend_commits(be) >= ROUNDS / 37);
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "b", "x", &s), "x=00001499 ");
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(20261122);
    RUN(test_model);
    RUN(test_concurrent_readers);
    return 0;
}
