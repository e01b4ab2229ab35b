/*
 * test_tx_buffer.c: backend/tx_buffer.c (write buffer, snapshots, runs) and
 * backend/mpool.c (the snapshots' memory kept for reuse).
 */
#include "../../backend/tx_buffer.h"

#include <pthread.h>
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

/* mpool.c rules 1-3: classes, the byte bound, and a block outliving the pool's creator. */
static void test_mpool_classes_and_bound(void)
{
    backend__mpool *p;
    ASSERT_OK(backend__mpool_new(256 << 10, &p));
    size_t cap, bytes, hits, misses;
    void *small = backend__mpool_alloc(p, 1000, &cap); /* below 64 KiB: the allocator's */
    ASSERT_TRUE(small != NULL);
    ASSERT_EQ_SIZE(cap, 1000);
    void *a = backend__mpool_alloc(p, 100 << 10, &cap); /* rounded up to 128 KiB */
    ASSERT_TRUE(a != NULL);
    ASSERT_EQ_SIZE(cap, (size_t)128 << 10);
    memset(a, 0xab, cap); /* all of it is usable */
    void *b = backend__mpool_alloc(p, 128 << 10, &cap);
    void *c = backend__mpool_alloc(p, 65 << 10, &cap);
    void *huge = backend__mpool_alloc(p, (size_t)9 << 20, &cap); /* above the classes */
    ASSERT_EQ_SIZE(cap, (size_t)9 << 20);
    backend__mpool_stats(p, &bytes, &hits, &misses);
    ASSERT_EQ_SIZE(bytes, 0);
    ASSERT_EQ_SIZE(hits, 0);
    ASSERT_EQ_SIZE(misses, 3);
    backend__mpool_free(p, small, 1000);
    backend__mpool_free(p, huge, (size_t)9 << 20);
    backend__mpool_free(p, a, (size_t)128 << 10);
    backend__mpool_free(p, b, (size_t)128 << 10);
    backend__mpool_free(p, c, (size_t)128 << 10); /* over the 256 KiB bound: the allocator's */
    backend__mpool_stats(p, &bytes, &hits, &misses);
    ASSERT_EQ_SIZE(bytes, (size_t)256 << 10);
    void *d = backend__mpool_alloc(p, 70 << 10, &cap); /* a kept 128 KiB block */
    ASSERT_TRUE(d == a || d == b);
    ASSERT_EQ_SIZE(cap, (size_t)128 << 10);
    backend__mpool_stats(p, &bytes, &hits, &misses);
    ASSERT_EQ_SIZE(bytes, (size_t)128 << 10);
    ASSERT_EQ_SIZE(hits, 1);
    /* The creator lets go first; the block out keeps the pool (ASan: no use after free). */
    backend__mpool_unref(p);
    backend__mpool_free(p, d, cap);
}

/* tx_buffer.c invariant 7: a batch's runs and chunks come back from the pool the batch before
 * filled. */
static void test_snapshots_reuse_pooled_memory(void)
{
    backend__mpool *p;
    ASSERT_OK(backend__mpool_new((size_t)32 << 20, &p));
    backend__wbuf *w;
    ASSERT_OK(backend__wbuf_new(&w));
    size_t hits_after_first = 0;
    for (int batch = 0; batch < 3; batch++) {
        backend__rbuf *cur;
        ASSERT_OK(backend__rbuf_new_in(p, &cur));
        /* Ascending keys (the key bucket's appends) until the run is well past 64 KiB. */
        char k[32], v[64];
        for (int i = 0; i < 8000; i++) {
            snprintf(k, sizeof k, "%08d", i);
            snprintf(v, sizeof v, "value-%d-%d-and-some-bytes", batch, i);
            put(w, "key", k, v);
            put(w, "other", k, v); /* and a bucket that merges runs */
            if (i % 100 == 99) {
                backend__rbuf *next = writeback(cur, w);
                backend__rbuf_unref(cur);
                cur = next;
            }
        }
        for (int i = 0; i < 8000; i += 997) {
            snprintf(k, sizeof k, "%08d", i);
            snprintf(v, sizeof v, "value-%d-%d-and-some-bytes", batch, i);
            expect_get(cur, "key", k, BACKEND__PRESENT, v);
            expect_get(cur, "other", k, BACKEND__PRESENT, v);
        }
        size_t bytes, hits, misses;
        backend__mpool_stats(p, &bytes, &hits, &misses);
        ASSERT_TRUE(misses > 0);
        if (batch == 0)
            hits_after_first = hits;
        else
            ASSERT_TRUE(hits > hits_after_first); /* the earlier batches' blocks came back */
        backend__rbuf_unref(cur); /* the commit: every run and chunk goes back to the pool */
        backend__mpool_stats(p, &bytes, &hits, &misses);
        ASSERT_TRUE(bytes > 0);
    }
    /* A snapshot outliving the pool's creator keeps the pool. */
    backend__rbuf *last;
    ASSERT_OK(backend__rbuf_new_in(p, &last));
    put(w, "key", "a", "1");
    backend__rbuf *next = writeback(last, w);
    backend__rbuf_unref(last);
    backend__mpool_unref(p);
    expect_get(next, "key", "a", BACKEND__PRESENT, "1");
    backend__rbuf_unref(next);
    backend__wbuf_free(w);
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

/* ---- append in place (tx_buffer.c invariant 6) -------------------------- */

/* Snapshot r of an ascending history must hold exactly keys [0, n), k%08d = v%d. */
static void expect_prefix(const backend__rbuf *r, int n)
{
    char key[32], val[32];
    backend__rbuf_iter it;
    ASSERT_OK(backend__rbuf_iter_init(&it, r, B("key"), B(""), B("")));
    backend__bytes k, v;
    int i = 0;
    while (backend__rbuf_iter_next(&it, &k, &v)) {
        snprintf(key, sizeof key, "k%08d", i);
        ASSERT_EQ_MEM(k.data, k.size, key, strlen(key));
        if (i % 10 == 9) {
            ASSERT_TRUE(v.data == NULL); /* every tenth change is a delete */
        } else {
            snprintf(val, sizeof val, "v%d", i);
            ASSERT_EQ_MEM(v.data, v.size, val, strlen(val));
        }
        i++;
    }
    backend__rbuf_iter_release(&it);
    ASSERT_EQ_INT(i, n);
    snprintf(key, sizeof key, "k%08d", n);
    expect_get(r, "key", key, BACKEND__ABSENT, NULL);
    if (n > 0) {
        snprintf(key, sizeof key, "k%08d", n - 1);
        backend__bytes got;
        ASSERT_EQ_INT(backend__rbuf_get(r, B("key"), B(key), &got),
                      (n - 1) % 10 == 9 ? BACKEND__DELETED : BACKEND__PRESENT);
    }
}

/* Change i of a numbered sequence in bucket: key <prefix>%08d, value v<i>, every tenth a delete. */
static void numbered_change(backend__wbuf *w, const char *bucket, char prefix, int i)
{
    char key[32], val[32];
    snprintf(key, sizeof key, "%c%08d", prefix, i);
    snprintf(val, sizeof val, "v%d", i);
    if (i % 10 == 9)
        del(w, bucket, key);
    else
        put(w, bucket, key, val);
}

static void append_change(backend__wbuf *w, int i)
{
    numbered_change(w, "key", 'k', i);
}

static void test_append_in_place(void)
{
    enum { N = 20000, KEEP = 64 };
    backend__wbuf *w;
    backend__rbuf *r;
    ASSERT_OK(backend__wbuf_new(&w));
    ASSERT_OK(backend__rbuf_new(&r));
    backend__rbuf *kept[KEEP] = { 0 };
    int kept_n[KEEP] = { 0 };
    for (int i = 0; i < N;) {
        /* One to three ascending changes per write-back (a write txn each). */
        int burst = 1 + i % 3;
        for (int j = 0; j < burst && i < N; j++)
            append_change(w, i++);
        backend__rbuf *next = writeback(r, w);
        backend__rbuf_unref(r);
        r = next;
        /* Ascending keys are appended: one run, never merged. */
        ASSERT_EQ_SIZE(backend__rbuf_runs(r, B("key")), 1);
        if (i % 311 == 0 || i < 8) {
            int slot = (i / 7) % KEEP;
            backend__rbuf_unref(kept[slot]);
            backend__rbuf_ref(r);
            kept[slot] = r;
            kept_n[slot] = i;
        }
    }
    expect_prefix(r, N);
    /* Older snapshots never see what was appended after them. */
    for (int s = 0; s < KEEP; s++)
        if (kept[s] != NULL)
            expect_prefix(kept[s], kept_n[s]);
    /* A write-back from an older snapshot (not the run's claimed end) copies:
     * both lineages keep their own contents. */
    int base = -1;
    for (int s = 0; s < KEEP; s++)
        if (kept[s] != NULL && kept_n[s] > 0 && kept_n[s] < N &&
            (base < 0 || kept_n[s] > kept_n[base]))
            base = s;
    ASSERT_TRUE(base >= 0);
    append_change(w, kept_n[base]);
    backend__rbuf *branch;
    ASSERT_OK(backend__rbuf_writeback_keep(kept[base], w, &branch));
    backend__wbuf_reset(w);
    expect_prefix(branch, kept_n[base] + 1);
    expect_prefix(kept[base], kept_n[base]);
    expect_prefix(r, N);
    /* A change below the newest run's last key makes a run of its own. */
    put(w, "key", "k00000000", "again");
    backend__rbuf *next = writeback(r, w);
    ASSERT_EQ_SIZE(backend__rbuf_runs(next, B("key")), 2);
    expect_get(next, "key", "k00000000", BACKEND__PRESENT, "again");
    expect_prefix(r, N);
    backend__rbuf_unref(next);
    backend__rbuf_unref(branch);
    for (int s = 0; s < KEEP; s++)
        backend__rbuf_unref(kept[s]);
    backend__rbuf_unref(r);
    backend__wbuf_free(w);
}

/*
 * Readers walk snapshots (taken under a mutex, as backend__publish does
 * under snap_mu) while the writer keeps appending to the runs they share:
 * each reader sees exactly its snapshot's prefix (ThreadSanitizer checks
 * that no byte a reader reads is written meanwhile).
 */
enum { CONC_N = 6000, CONC_READERS = 3 };
static pthread_mutex_t conc_mu = PTHREAD_MUTEX_INITIALIZER;
static backend__rbuf *conc_cur;
static int conc_cur_n;
static bool conc_done;

static void *conc_reader(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&conc_mu);
        backend__rbuf *r = conc_cur;
        int n = conc_cur_n;
        bool done = conc_done;
        backend__rbuf_ref(r);
        pthread_mutex_unlock(&conc_mu);
        expect_prefix(r, n);
        backend__rbuf_unref(r);
        if (done)
            return NULL;
    }
}

/* Readers on other threads drop snapshots (and so free runs, into pool when there is one). */
static void run_concurrent_readers(backend__mpool *pool)
{
    backend__wbuf *w;
    ASSERT_OK(backend__wbuf_new(&w));
    conc_done = false;
    conc_cur_n = 0;
    ASSERT_OK(backend__rbuf_new_in(pool, &conc_cur));
    pthread_t th[CONC_READERS];
    for (int t = 0; t < CONC_READERS; t++)
        ASSERT_EQ_INT(pthread_create(&th[t], NULL, conc_reader, NULL), 0);
    for (int i = 0; i < CONC_N; i++) {
        append_change(w, i);
        backend__rbuf *next;
        ASSERT_OK(backend__rbuf_writeback(conc_cur, w, &next));
        pthread_mutex_lock(&conc_mu);
        backend__rbuf *old = conc_cur;
        conc_cur = next;
        conc_cur_n = i + 1;
        conc_done = i + 1 == CONC_N;
        pthread_mutex_unlock(&conc_mu);
        backend__rbuf_unref(old);
    }
    for (int t = 0; t < CONC_READERS; t++)
        pthread_join(th[t], NULL);
    expect_prefix(conc_cur, CONC_N);
    backend__rbuf_unref(conc_cur);
    backend__wbuf_free(w);
}

static void test_append_concurrent_readers(void)
{
    run_concurrent_readers(NULL);
}

/* The same with pooled memory (mpool.c rule 3: blocks freed on the readers' threads). */
static void test_append_concurrent_readers_pooled(void)
{
    backend__mpool *p;
    ASSERT_OK(backend__mpool_new((size_t)32 << 20, &p));
    run_concurrent_readers(p);
    size_t bytes, hits, misses;
    backend__mpool_stats(p, &bytes, &hits, &misses);
    ASSERT_TRUE(misses > 0); /* the run grew past the pooled sizes */
    ASSERT_TRUE(bytes > 0);  /* and what the snapshots freed is kept */
    backend__mpool_unref(p);
}

/* ---- one run for both snapshots (invariants 8-9) ----------------------- */

/* Bucket "seq": keys s%08d ascending, value v<i>, every tenth change a delete. */
static void seq_change(backend__wbuf *w, int i)
{
    numbered_change(w, "seq", 's', i);
}

/* r's "seq" bucket holds exactly the changes [from, to): spot checks, and a full scan when full. */
static void expect_seq(const backend__rbuf *r, int from, int to, bool full, strata_rng *rng)
{
    char key[32], val[32];
    int probe[6] = { from, to - 1, from - 1, to, from, to - 1 };
    if (to > from) {
        probe[4] = from + (int)strata_rng_below(rng, (uint64_t)(to - from));
        probe[5] = from + (int)strata_rng_below(rng, (uint64_t)(to - from));
    }
    for (int p = 0; p < 6; p++) {
        int i = probe[p];
        if (i < 0)
            continue;
        snprintf(key, sizeof key, "s%08d", i);
        snprintf(val, sizeof val, "v%d", i);
        backend__lookup want = i < from || i >= to ? BACKEND__ABSENT
                               : i % 10 == 9       ? BACKEND__DELETED
                                                   : BACKEND__PRESENT;
        expect_get(r, "seq", key, want, val);
    }
    if (!full)
        return;
    backend__rbuf_iter it;
    ASSERT_OK(backend__rbuf_iter_init(&it, r, B("seq"), B(""), B("")));
    backend__bytes k, v;
    int i = from;
    while (backend__rbuf_iter_next(&it, &k, &v)) {
        snprintf(key, sizeof key, "s%08d", i);
        ASSERT_EQ_MEM(k.data, k.size, key, strlen(key));
        ASSERT_EQ_INT(v.data == NULL, i % 10 == 9);
        if (v.data != NULL) {
            snprintf(val, sizeof val, "v%d", i);
            ASSERT_EQ_MEM(v.data, v.size, val, strlen(val));
        }
        i++;
    }
    backend__rbuf_iter_release(&it);
    ASSERT_EQ_INT(i, to);
}

/*
 * The backend's write-back while a commit is in flight (backend.c rule 8):
 * the changes into the snapshot after the commit (keep), then into the
 * published one. *a and *an are replaced.
 */
static void writeback_pair(backend__rbuf **a, backend__rbuf **an, backend__wbuf *w)
{
    backend__rbuf *na = NULL, *nn = NULL;
    if (*an != NULL)
        ASSERT_OK(backend__rbuf_writeback_keep(*an, w, &nn));
    ASSERT_OK(backend__rbuf_writeback(*a, w, &na));
    backend__rbuf_unref(*a);
    *a = na;
    if (nn != NULL) {
        backend__rbuf_unref(*an);
        *an = nn;
    }
}

/* The value of seq key i in r (present). */
static const unsigned char *seq_val(const backend__rbuf *r, int i)
{
    char key[32];
    snprintf(key, sizeof key, "s%08d", i);
    backend__bytes v = { 0 };
    ASSERT_EQ_INT(backend__rbuf_get(r, B("seq"), B(key), &v), BACKEND__PRESENT);
    return v.data;
}

/* A pair test's start: the seeded generator, an empty write buffer and published snapshot. */
static void pair_begin(strata_rng *rng, backend__wbuf **w, backend__rbuf **a, backend__rbuf **an)
{
    strata_rng_seed(rng, harness_seed());
    ASSERT_OK(backend__wbuf_new(w));
    ASSERT_OK(backend__rbuf_new(a));
    *an = NULL;
}

static void test_pair_shares_one_run(void)
{
    strata_rng rng;
    backend__wbuf *w;
    backend__rbuf *a, *an;
    pair_begin(&rng, &w, &a, &an);
    int i = 0;
    while (i < 100) { /* a published history, one change per write-back */
        seq_change(w, i++);
        writeback_pair(&a, &an, w);
    }
    /* A commit begins: a fresh snapshot for what follows. */
    ASSERT_OK(backend__rbuf_new(&an));
    int an_from = i;
    seq_change(w, i++);
    writeback_pair(&a, &an, w);
    /* Invariant 9: the fresh run of that change is the newest run of both. */
    ASSERT_TRUE(backend__rbuf_newest_run(a, B("seq")) != NULL);
    ASSERT_TRUE(backend__rbuf_newest_run(a, B("seq")) == backend__rbuf_newest_run(an, B("seq")));
    backend__rbuf *kept_a = a, *kept_an = an;
    backend__rbuf_ref(kept_a);
    backend__rbuf_ref(kept_an);
    int kept_to = i;
    /* A big section (a revoke's tombstones): appended once for both, its bytes not copied. */
    int big_from = i;
    for (int j = 0; j < 6000; j++)
        seq_change(w, i++);
    writeback_pair(&a, &an, w);
    ASSERT_TRUE(backend__rbuf_newest_run(a, B("seq")) == backend__rbuf_newest_run(an, B("seq")));
    ASSERT_TRUE(seq_val(a, big_from) == seq_val(an, big_from));
    ASSERT_TRUE(seq_val(a, i - 3) == seq_val(an, i - 3)); /* i - 2 is a delete */
    expect_seq(a, 0, i, true, &rng);
    expect_seq(an, an_from, i, true, &rng);
    /* Invariant 8: the next changes go elsewhere (the shared bytes are the runs'). */
    int big_to = i;
    for (int j = 0; j < 3000; j++)
        seq_change(w, i++);
    put(w, "other", "k", "v"); /* a second bucket in the same write-back */
    writeback_pair(&a, &an, w);
    expect_get(a, "other", "k", BACKEND__PRESENT, "v");
    expect_get(an, "other", "k", BACKEND__PRESENT, "v");
    expect_seq(a, 0, i, true, &rng);
    expect_seq(an, an_from, i, true, &rng);
    ASSERT_TRUE(seq_val(a, big_to) == seq_val(an, big_to));
    /* Older snapshots never see what came after them. */
    expect_seq(kept_a, 0, kept_to, true, &rng);
    expect_seq(kept_an, an_from, kept_to, true, &rng);
    /* The commit finishes: the snapshot after it is published; appends go on. */
    backend__rbuf_unref(a);
    a = an;
    an = NULL;
    for (int j = 0; j < 50; j++) {
        seq_change(w, i++);
        writeback_pair(&a, &an, w);
    }
    expect_seq(a, an_from, i, true, &rng);
    expect_seq(kept_an, an_from, kept_to, true, &rng);
    backend__rbuf_unref(kept_a);
    backend__rbuf_unref(kept_an);
    backend__rbuf_unref(a);
    backend__wbuf_free(w);
}

/*
 * Random pipelined histories against a model: sections of ascending
 * changes, small and big (over SHARE_BYTES), changes below the newest key,
 * other buckets, commits that begin and finish, a holder's view written
 * back in the middle of a section, and snapshots kept and checked later.
 */
static void test_pair_model(void)
{
    strata_rng rng;
    backend__wbuf *w;
    backend__rbuf *a, *an;
    pair_begin(&rng, &w, &a, &an);
    model ma, mn, pend; /* a's, an's, and the pending changes applied to each at write-back */
    for (int b = 0; b < NBUCKETS; b++)
        for (int k = 0; k < NKEYS; k++)
            ma.state[b][k] = mn.state[b][k] = pend.state[b][k] = ABSENT;
    int i = 0, a_from = 0, an_from = 0;
    enum { KEEP = 8 };
    backend__rbuf *kept[KEEP] = { 0 };
    int kept_from[KEEP] = { 0 }, kept_to[KEEP] = { 0 };
    model kept_m[KEEP];
    size_t shared = 0;
    char key[16], val[16];
    for (int step = 0; step < 1500; step++) {
        uint64_t op = strata_rng_below(&rng, 100);
        if (op < 8 && an == NULL) {
            ASSERT_OK(backend__rbuf_new(&an)); /* BEGIN */
            an_from = i;
            for (int b = 0; b < NBUCKETS; b++)
                for (int k = 0; k < NKEYS; k++)
                    mn.state[b][k] = ABSENT;
            continue;
        }
        if (op < 14 && an != NULL) { /* FINISH */
            backend__rbuf_unref(a);
            a = an;
            an = NULL;
            a_from = an_from;
            ma = mn;
            continue;
        }
        int nseq =
                op < 20 ? 2000 + (int)strata_rng_below(&rng, 6000) : (int)strata_rng_below(&rng, 4);
        for (int j = 0; j < nseq; j++)
            seq_change(w, i++);
        int nrand = op >= 80 ? 1 + (int)strata_rng_below(&rng, 6) : 0;
        for (int j = 0; j < nrand; j++) {
            int b = (int)strata_rng_below(&rng, NBUCKETS);
            int k = (int)strata_rng_below(&rng, NKEYS);
            snprintf(key, sizeof key, "k%02d", k);
            if (strata_rng_below(&rng, 3) == 0) {
                del(w, bucket_names[b], key);
                pend.state[b][k] = DELETED;
            } else {
                snprintf(val, sizeof val, "v%d", step * 8 + j);
                put(w, bucket_names[b], key, val);
                pend.state[b][k] = step * 8 + j;
            }
        }
        if (op >= 95 && backend__wbuf_count(w) > 0) {
            /* A holder's view in the middle of the section (read_tx.c), then more changes. */
            backend__rbuf *v;
            ASSERT_OK(backend__rbuf_writeback_keep(a, w, &v));
            expect_seq(v, a_from, i, false, &rng);
            backend__rbuf_unref(v);
            seq_change(w, i++);
        }
        writeback_pair(&a, &an, w);
        for (int b = 0; b < NBUCKETS; b++)
            for (int k = 0; k < NKEYS; k++) {
                if (pend.state[b][k] == ABSENT)
                    continue;
                ma.state[b][k] = pend.state[b][k];
                if (an != NULL)
                    mn.state[b][k] = pend.state[b][k];
                pend.state[b][k] = ABSENT;
            }
        if (an != NULL && nseq > 0 &&
            backend__rbuf_newest_run(a, B("seq")) == backend__rbuf_newest_run(an, B("seq")))
            shared++;
        bool full = step % 50 == 0;
        expect_seq(a, a_from, i, full, &rng);
        model_check(a, &ma);
        if (an != NULL) {
            expect_seq(an, an_from, i, full, &rng);
            model_check(an, &mn);
        }
        if (strata_rng_below(&rng, 10) == 0) {
            int slot = (int)strata_rng_below(&rng, KEEP);
            bool take_new = an != NULL && strata_rng_below(&rng, 2) == 0;
            backend__rbuf_unref(kept[slot]);
            kept[slot] = take_new ? an : a;
            backend__rbuf_ref(kept[slot]);
            kept_from[slot] = take_new ? an_from : a_from;
            kept_to[slot] = i;
            kept_m[slot] = take_new ? mn : ma;
        }
        if (step % 100 == 0)
            for (int s = 0; s < KEEP; s++)
                if (kept[s] != NULL) {
                    expect_seq(kept[s], kept_from[s], kept_to[s], true, &rng);
                    model_check(kept[s], &kept_m[s]);
                }
    }
    ASSERT_TRUE(shared > 0); /* the history did reach the shared case */
    for (int s = 0; s < KEEP; s++)
        if (kept[s] != NULL) {
            expect_seq(kept[s], kept_from[s], kept_to[s], true, &rng);
            backend__rbuf_unref(kept[s]);
        }
    backend__rbuf_unref(a);
    backend__rbuf_unref(an);
    backend__wbuf_free(w);
}

/* backend__mem_cmp: memcmp's sign, for every length around its 8-byte steps and its cut-off. */
static void test_mem_cmp(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    unsigned char a[80], b[80];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)strata_rng_below(&rng, sizeof a + 1);
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] =
                    (unsigned char)(strata_rng_below(&rng, 2) ? 0xff : strata_rng_below(&rng, 3));
        if (n > 0 && strata_rng_below(&rng, 4) != 0) /* one byte differs somewhere */
            b[strata_rng_below(&rng, n)] = (unsigned char)strata_rng_below(&rng, 256);
        int want = n > 0 ? memcmp(a, b, n) : 0;
        int got = backend__mem_cmp(a, b, n);
        ASSERT_EQ_INT(got < 0, want < 0);
        ASSERT_EQ_INT(got > 0, want > 0);
        ASSERT_EQ_INT(backend__mem_cmp(b, a, n) < 0, want > 0);
    }
}

int main(void)
{
    HARNESS_BEGIN(20261122);
    RUN(test_read_your_writes_and_deletes);
    RUN(test_newest_change_wins);
    RUN(test_range_bounds_and_empty_values);
    RUN(test_runs_stay_logarithmic);
    RUN(test_model_against_reference);
    RUN(test_append_in_place);
    RUN(test_mem_cmp);
    RUN(test_pair_shares_one_run);
    RUN(test_pair_model);
    RUN(test_append_concurrent_readers);
    RUN(test_append_concurrent_readers_pooled);
    RUN(test_mpool_classes_and_bound);
    RUN(test_snapshots_reuse_pooled_memory);
    return 0;
}
