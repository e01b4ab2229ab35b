/* test_tx_buffer.c: backend/tx_buffer.c (write buffer, snapshots, runs). */
#include "../../backend/tx_buffer.h"

#include <stdio.h>

#include "harness.h"

static backend__bytes B(const char *s)
{
    return (backend__bytes){ (const unsigned char *)s, strlen(s) };
}

static void put(backend__wbuf *w, const char *bucket, const char *key, const char *val)
{
    backend__bytes v = B(val);
    ASSERT_OK(backend__wbuf_put(w, B(bucket), B(key), &v));
}

static void del(backend__wbuf *w, const char *bucket, const char *key)
{
    ASSERT_OK(backend__wbuf_put(w, B(bucket), B(key), NULL));
}

static backend__rbuf *writeback(backend__rbuf *old, backend__wbuf *w)
{
    backend__rbuf *r;
    ASSERT_OK(backend__rbuf_writeback(old, w, &r));
    ASSERT_EQ_SIZE(backend__wbuf_count(w), 0);
    return r;
}

static void expect_get(const backend__rbuf *r, const char *bucket, const char *key,
                       backend__lookup want, const char *want_val)
{
    backend__bytes v = { 0 };
    ASSERT_EQ_INT(backend__rbuf_get(r, B(bucket), B(key), &v), want);
    if (want == BACKEND__PRESENT)
        ASSERT_EQ_MEM(v.data, v.size, want_val, strlen(want_val));
}

/* "k1=v1 k2=- " : every change in [start, end), '-' for a delete. */
static void expect_scan(const backend__rbuf *r, const char *bucket, const char *start,
                        const char *end, const char *want)
{
    char got[1024] = "";
    size_t len = 0;
    backend__rbuf_iter it;
    ASSERT_OK(backend__rbuf_iter_init(&it, r, B(bucket), B(start), B(end)));
    backend__bytes k, v;
    while (backend__rbuf_iter_next(&it, &k, &v)) {
        len += (size_t)snprintf(got + len, sizeof got - len, "%.*s=%.*s ", (int)k.size, k.data,
                                v.data ? (int)v.size : 1, v.data ? (const char *)v.data : "-");
    }
    backend__rbuf_iter_release(&it);
    ASSERT_EQ_STR(got, want);
}

static void test_read_your_writes_and_deletes(void)
{
    backend__wbuf *w;
    backend__rbuf *r0, *r1;
    ASSERT_OK(backend__wbuf_new(&w));
    ASSERT_OK(backend__rbuf_new(&r0));
    put(w, "key", "a", "1");
    put(w, "key", "b", "2");
    del(w, "key", "c");
    put(w, "meta", "a", "m");
    ASSERT_EQ_SIZE(backend__wbuf_count(w), 4);
    r1 = writeback(r0, w);
    expect_get(r1, "key", "a", BACKEND__PRESENT, "1");
    expect_get(r1, "key", "b", BACKEND__PRESENT, "2");
    expect_get(r1, "key", "c", BACKEND__DELETED, NULL);
    expect_get(r1, "key", "d", BACKEND__ABSENT, NULL);
    expect_get(r1, "meta", "a", BACKEND__PRESENT, "m");
    expect_get(r1, "lease", "a", BACKEND__ABSENT, NULL);
    /* The older snapshot is immutable: it never sees later write-backs. */
    expect_get(r0, "key", "a", BACKEND__ABSENT, NULL);
    backend__rbuf_unref(r0);
    backend__rbuf_unref(r1);
    backend__wbuf_free(w);
}

static void test_newest_change_wins(void)
{
    backend__wbuf *w;
    backend__rbuf *r0, *r1, *r2;
    ASSERT_OK(backend__wbuf_new(&w));
    ASSERT_OK(backend__rbuf_new(&r0));
    put(w, "key", "x", "1");
    put(w, "key", "y", "1");
    put(w, "key", "x", "2"); /* unsorted now: the sort must keep the newest */
    del(w, "key", "y");
    r1 = writeback(r0, w);
    expect_get(r1, "key", "x", BACKEND__PRESENT, "2");
    expect_get(r1, "key", "y", BACKEND__DELETED, NULL);
    put(w, "key", "y", "3");
    del(w, "key", "x");
    r2 = writeback(r1, w);
    expect_get(r2, "key", "x", BACKEND__DELETED, NULL);
    expect_get(r2, "key", "y", BACKEND__PRESENT, "3");
    expect_get(r1, "key", "x", BACKEND__PRESENT, "2");
    expect_scan(r2, "key", "", "", "x=- y=3 ");
    expect_scan(r1, "key", "", "", "x=2 y=- ");
    backend__rbuf_unref(r1); /* r2 shares runs with r1: it must survive */
    expect_scan(r2, "key", "", "", "x=- y=3 ");
    backend__rbuf_unref(r0);
    backend__rbuf_unref(r2);
    backend__wbuf_free(w);
}

static void test_range_bounds_and_empty_values(void)
{
    backend__wbuf *w;
    backend__rbuf *r0, *r1;
    ASSERT_OK(backend__wbuf_new(&w));
    ASSERT_OK(backend__rbuf_new(&r0));
    put(w, "key", "b", "");
    put(w, "key", "a", "1");
    put(w, "key", "ab", "2");
    put(w, "key", "c", "3");
    r1 = writeback(r0, w);
    expect_get(r1, "key", "b", BACKEND__PRESENT, ""); /* empty value is not a delete */
    expect_scan(r1, "key", "a", "c", "a=1 ab=2 b= ");
    expect_scan(r1, "key", "ab", "b", "ab=2 ");
    expect_scan(r1, "key", "b", "", "b= c=3 ");
    expect_scan(r1, "key", "d", "", "");
    expect_scan(r1, "nobucket", "", "", "");
    backend__rbuf_unref(r0);
    backend__rbuf_unref(r1);
    backend__wbuf_free(w);
}

static void test_runs_stay_logarithmic(void)
{
    backend__wbuf *w;
    backend__rbuf *r;
    ASSERT_OK(backend__wbuf_new(&w));
    ASSERT_OK(backend__rbuf_new(&r));
    char key[32];
    /* One change per write-back: etcd's pattern, each put its own mvcc txn. */
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "k%08d", (i * 7919) % 10000);
        put(w, "key", key, key);
        backend__rbuf *next = writeback(r, w);
        backend__rbuf_unref(r);
        r = next;
        ASSERT_LE_U64(backend__rbuf_runs(r, B("key")), 2 * 14 + 2); /* 2 log2(10^4) + 2 */
    }
    ASSERT_EQ_SIZE(backend__rbuf_entries(r) >= 10000, 1);
    expect_get(r, "key", "k00000000", BACKEND__PRESENT, "k00000000");
    expect_get(r, "key", "k00009999", BACKEND__PRESENT, "k00009999");
    backend__rbuf_unref(r);
    backend__wbuf_free(w);
}

/* ---- model test -------------------------------------------------------- */

#define NKEYS    64
#define NBUCKETS 3
#define NSNAPS   6
enum { ABSENT = -1, DELETED = -2 };

typedef struct model {
    int state[NBUCKETS][NKEYS]; /* value id, ABSENT or DELETED */
} model;

static const char *bucket_names[NBUCKETS] = { "key", "meta", "lease" };

static void model_check(const backend__rbuf *r, const model *m)
{
    char key[16], val[16];
    for (int b = 0; b < NBUCKETS; b++) {
        for (int k = 0; k < NKEYS; k++) {
            snprintf(key, sizeof key, "k%02d", k);
            int s = m->state[b][k];
            snprintf(val, sizeof val, "v%d", s);
            expect_get(r, bucket_names[b], key,
                       s == ABSENT    ? BACKEND__ABSENT
                       : s == DELETED ? BACKEND__DELETED
                                      : BACKEND__PRESENT,
                       val);
        }
        /* A full scan yields exactly the buffered keys, ascending. */
        backend__rbuf_iter it;
        ASSERT_OK(backend__rbuf_iter_init(&it, r, B(bucket_names[b]), B(""), B("")));
        backend__bytes kk, vv;
        int next = 0;
        while (backend__rbuf_iter_next(&it, &kk, &vv)) {
            while (next < NKEYS && m->state[b][next] == ABSENT)
                next++;
            ASSERT_LT_INT(next, NKEYS);
            snprintf(key, sizeof key, "k%02d", next);
            ASSERT_EQ_MEM(kk.data, kk.size, key, strlen(key));
            ASSERT_EQ_INT(vv.data == NULL, m->state[b][next] == DELETED);
            next++;
        }
        while (next < NKEYS && m->state[b][next] == ABSENT)
            next++;
        ASSERT_EQ_INT(next, NKEYS);
        backend__rbuf_iter_release(&it);
    }
}

static void test_model_against_reference(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    backend__wbuf *w;
    ASSERT_OK(backend__wbuf_new(&w));
    backend__rbuf *snaps[NSNAPS] = { 0 };
    model snap_models[NSNAPS];
    model pending, current;
    for (int b = 0; b < NBUCKETS; b++)
        for (int k = 0; k < NKEYS; k++)
            current.state[b][k] = ABSENT;
    pending = current;
    backend__rbuf *cur;
    ASSERT_OK(backend__rbuf_new(&cur));
    char key[16], val[16];
    for (int step = 0; step < 20000; step++) {
        uint64_t op = strata_rng_below(&rng, 100);
        int b = (int)strata_rng_below(&rng, NBUCKETS);
        int k = (int)strata_rng_below(&rng, NKEYS);
        snprintf(key, sizeof key, "k%02d", k);
        if (op < 55) {
            int v = step;
            snprintf(val, sizeof val, "v%d", v);
            put(w, bucket_names[b], key, val);
            pending.state[b][k] = v;
        } else if (op < 80) {
            del(w, bucket_names[b], key);
            pending.state[b][k] = DELETED;
        } else if (op < 97) {
            backend__rbuf *next = writeback(cur, w);
            backend__rbuf_unref(cur);
            cur = next;
            current = pending;
            model_check(cur, &current);
            /* Keep some snapshots alive, as long readers do. */
            int slot = (int)strata_rng_below(&rng, NSNAPS);
            backend__rbuf_unref(snaps[slot]);
            backend__rbuf_ref(cur);
            snaps[slot] = cur;
            snap_models[slot] = current;
        } else {
            /* A commit: bolt now holds everything; readers start from an empty buffer. */
            backend__rbuf *next = writeback(cur, w);
            backend__rbuf_unref(cur);
            backend__rbuf_unref(next);
            ASSERT_OK(backend__rbuf_new(&cur));
            for (int bb = 0; bb < NBUCKETS; bb++)
                for (int kk = 0; kk < NKEYS; kk++)
                    current.state[bb][kk] = ABSENT;
            pending = current;
        }
        if (step % 500 == 0)
            for (int s = 0; s < NSNAPS; s++)
                if (snaps[s] != NULL)
                    model_check(snaps[s], &snap_models[s]);
    }
    for (int s = 0; s < NSNAPS; s++)
        backend__rbuf_unref(snaps[s]);
    backend__rbuf_unref(cur);
    backend__wbuf_free(w);
}

int main(void)
{
    HARNESS_BEGIN(20261122);
    RUN(test_read_your_writes_and_deletes);
    RUN(test_newest_change_wins);
    RUN(test_range_bounds_and_empty_values);
    RUN(test_runs_stay_logarithmic);
    RUN(test_model_against_reference);
    return 0;
}
