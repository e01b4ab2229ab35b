/*
 * test_get_many.c: bolt_bucket_get_many (bolt/get_many.c) against
 * bolt_bucket_get, key by key.
 *
 *   1. A deep tree (512-byte pages: four and more levels) with random
 *      present and absent keys, duplicates, keys below and above all, and
 *      the names of nested buckets (not values): in a read transaction
 *      (the interleaved path), in groups of every size across GROUP.
 *   2. A write transaction with uncommitted puts and deletes (dirty pages,
 *      nodes) and an inline bucket take the per-key path: same results.
 *   3. Misuse: NULL arrays with n > 0; n == 0 writes nothing.
 *   4. Revision-shaped keys (8-byte big-endian main, '_', 8-byte sub: the
 *      mvcc key bucket, where the descent guesses each page's element,
 *      get_many.c rule 5), dense and with holes that make the guesses
 *      wrong (a deleted run, scattered deletes, a compaction-like thinning,
 *      several subs per main), mixed with keys of other lengths: every
 *      result as bolt_bucket_get's, after each round of deletes.
 *   5. A hostile file: a bracketed leaf (under a branch, not the first)
 *      whose count was set to 0 on disk (a valid-looking empty page): the
 *      guess must not look for an element there; every key as
 *      bolt_bucket_get says (absent for that leaf's keys).
 */
#include <fcntl.h>
#include <unistd.h>

#include "bolt_int.h"
#include "bolt_test.h"

static strata_rng test_rng; /* seeded from harness_seed(): the printed seed replays the run */

static uint64_t rng(void)
{
    return strata_rng_next(&test_rng);
}

#define NKEYS 6000

static void key_of(uint64_t i, char *buf, size_t size)
{
    snprintf(buf, size, "key-%08llu", (unsigned long long)i);
}

/* Compare get_many over keys[0..n) with one bolt_bucket_get per key. */
static void compare(bolt_bucket *b, const bolt_val *keys, size_t n)
{
    bolt_val *got = malloc((n + 1) * sizeof *got);
    ASSERT_NOT_NULL(got);
    ASSERT_OK(bolt_bucket_get_many(b, keys, n, got));
    for (size_t i = 0; i < n; i++) {
        bolt_val want;
        int rc = bolt_bucket_get(b, keys[i], &want);
        if (rc == BOLT_NOTFOUND) {
            ASSERT_NULL(got[i].data);
            ASSERT_EQ_SIZE(got[i].size, 0);
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ_PTR(got[i].data, want.data);
            ASSERT_EQ_SIZE(got[i].size, want.size);
        }
    }
    free(got);
}

/* n random keys: present, absent (odd suffix), duplicates, extremes, bucket names. */
static size_t random_keys(bolt_val *keys, char (*buf)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng() % 10;
        if (r < 6)
            key_of(rng() % NKEYS * 2, buf[i], sizeof buf[i]); /* present (even) */
        else if (r < 8)
            key_of(rng() % NKEYS * 2 + 1, buf[i], sizeof buf[i]); /* absent (odd) */
        else if (r == 8)
            snprintf(buf[i], sizeof buf[i], "%s", rng() % 2 ? "a" : "zzzz"); /* below, above */
        else
            snprintf(buf[i], sizeof buf[i], "nested-%llu", (unsigned long long)(rng() % 3));
        keys[i] = bolt_str(buf[i]);
        if (i > 0 && rng() % 8 == 0)
            keys[i] = keys[rng() % i]; /* a duplicate */
    }
    return n;
}

static void test_deep_tree_read_tx(void)
{
    bolt_options o = bt_opts();
    o.page_size = 512;
    char path[4096];
    bolt_db *db;
    ASSERT_OK(bolt_open(harness_path(path, sizeof path, "many.db"), &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    for (uint64_t i = 0; i < NKEYS; i++) {
        char k[32], v[64];
        key_of(i * 2, k, sizeof k);
        snprintf(v, sizeof v, "value of %llu %.*s", (unsigned long long)i, (int)(i % 40),
                 "........................................");
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(v)));
    }
    for (int i = 0; i < 3; i++) {
        char n[32];
        snprintf(n, sizeof n, "nested-%d", i);
        bolt_bucket *nb;
        ASSERT_OK(bolt_bucket_create(b, bolt_str(n), &nb));
        ASSERT_OK(bolt_bucket_put(nb, bolt_str("x"), bolt_str("y")));
    }
    ASSERT_OK(bolt_tx_commit(tx));

    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    static bolt_val keys[300];
    static char buf[300][32];
    size_t sizes[] = { 1, 2, 31, 32, 33, 64, 100, 300 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int round = 0; round < 20; round++)
            compare(b, keys, random_keys(keys, buf, sizes[s]));
    /* Every present key once, in order and reversed. */
    static bolt_val all[NKEYS];
    static char abuf[NKEYS][32];
    for (size_t i = 0; i < NKEYS; i++) {
        key_of(i * 2, abuf[i], sizeof abuf[i]);
        all[i] = bolt_str(abuf[i]);
    }
    compare(b, all, NKEYS);
    for (size_t i = 0; i < NKEYS / 2; i++) {
        bolt_val t = all[i];
        all[i] = all[NKEYS - 1 - i];
        all[NKEYS - 1 - i] = t;
    }
    compare(b, all, NKEYS);
    /* 3: misuse, and n == 0. */
    bolt_val one;
    ASSERT_RC(bolt_bucket_get_many(b, NULL, 1, &one), STRATA_EMISUSE);
    ASSERT_RC(bolt_bucket_get_many(b, keys, 1, NULL), STRATA_EMISUSE);
    ASSERT_OK(bolt_bucket_get_many(b, NULL, 0, NULL));
    bolt_tx_rollback(tx);

    /* 2: a write transaction with changes not committed, and an inline bucket. */
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = 0; i < 500; i++) {
        char k[32];
        key_of(rng() % (2 * NKEYS), k, sizeof k);
        if (rng() % 3 == 0)
            ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
        else
            ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("changed")));
    }
    for (int round = 0; round < 20; round++)
        compare(b, keys, random_keys(keys, buf, 100));
    bolt_bucket *in;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("inline"), &in));
    ASSERT_OK(bolt_bucket_put(in, bolt_str("key-00000002"), bolt_str("i")));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("inline"), &in));
    for (int round = 0; round < 5; round++)
        compare(in, keys, random_keys(keys, buf, 40));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int round = 0; round < 20; round++)
        compare(b, keys, random_keys(keys, buf, 100));
    bolt_tx_rollback(tx);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void rev_key(uint64_t main_rev, uint64_t sub, unsigned char *k)
{
    for (int i = 0; i < 8; i++) {
        k[i] = (unsigned char)(main_rev >> (56 - 8 * i));
        k[9 + i] = (unsigned char)(sub >> (56 - 8 * i));
    }
    k[8] = '_';
}

#define NREVS 20000

/* Random revision keys (present, absent, beyond both ends) and odd-length keys. */
static void random_rev_keys(bolt_val *keys, unsigned char (*buf)[32], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng() % 16;
        if (r < 13) {
            rev_key(rng() % (NREVS + 200), rng() % 4, buf[i]);
            keys[i] = (bolt_val){ buf[i], 17 };
        } else {
            size_t len = r == 13 ? 3 : r == 14 ? 7 : 25; /* shorter and longer than 8 + 9 */
            for (size_t j = 0; j < len; j++)
                buf[i][j] = (unsigned char)(j < 6 ? 0 : rng());
            keys[i] = (bolt_val){ buf[i], len };
        }
    }
}

static void test_revision_keys(void)
{
    bolt_options o = bt_opts();
    o.page_size = 512;
    char path[4096];
    bolt_db *db;
    ASSERT_OK(bolt_open(harness_path(path, sizeof path, "revs.db"), &o, &db));
    bolt_tx *tx;
    bolt_bucket *b;
    unsigned char k[32];
    char v[128];
    for (uint64_t m = 1; m <= NREVS; m += 1000) { /* ten commits, as revisions arrive */
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        if (m == 1)
            ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("key"), &b));
        else
            ASSERT_OK(bolt_tx_bucket(tx, bolt_str("key"), &b));
        for (uint64_t i = m; i < m + 1000; i++)
            for (uint64_t sub = 0; sub <= (i % 50 == 0 ? 2u : 0u); sub++) {
                rev_key(i, sub, k);
                int vl = snprintf(v, sizeof v, "rev %llu.%llu %.*s", (unsigned long long)i,
                                  (unsigned long long)sub, (int)(i % 60),
                                  "............................................................");
                ASSERT_OK(bolt_bucket_put(b, (bolt_val){ k, 17 }, (bolt_val){ v, (size_t)vl }));
            }
        if (m == 1)
            for (int i = 0; i < 8; i++) { /* keys of other lengths among them */
                unsigned char o7[7] = { 0, 0, 0, 0, 0, 0, (unsigned char)(i * 31) };
                ASSERT_OK(bolt_bucket_put(b, (bolt_val){ o7, 7 }, bolt_str("seven")));
            }
        ASSERT_OK(bolt_tx_commit(tx));
    }
    static bolt_val keys[300];
    static unsigned char buf[300][32];
    for (int phase = 0; phase < 4; phase++) {
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("key"), &b));
        for (int round = 0; round < 40; round++) {
            size_t n = 1 + rng() % 300;
            random_rev_keys(keys, buf, n);
            compare(b, keys, n);
        }
        /* Every revision in order, present or not (a range's fetch: ascending mains). */
        static bolt_val all[NREVS];
        static unsigned char abuf[NREVS][17];
        for (size_t i = 0; i < NREVS; i++) {
            rev_key(i + 1, 0, abuf[i]);
            all[i] = (bolt_val){ abuf[i], 17 };
        }
        compare(b, all, NREVS);
        bolt_tx_rollback(tx);
        /* Holes that make the interpolation wrong, one kind per phase. */
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("key"), &b));
        for (uint64_t i = 1; i <= NREVS; i++) {
            bool del = phase == 0   ? i >= 3000 && i < 5000                    /* a run */
                       : phase == 1 ? i >= 8000 && i < 12000 && rng() % 10 < 3 /* scattered */
                       : phase == 2 ? i < 15000 && i % 7 != 0                  /* thinned */
                                    : false;
            if (!del)
                continue;
            for (uint64_t sub = 0; sub <= 2; sub++) {
                rev_key(i, sub, k);
                ASSERT_OK(bolt_bucket_delete(b, (bolt_val){ k, 17 }));
            }
        }
        ASSERT_OK(bolt_tx_commit(tx));
    }
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_empty_bracketed_leaf(void)
{
    bolt_options o = bt_opts();
    o.page_size = 512;
    char path[4096];
    harness_path(path, sizeof path, "empty_leaf.db");
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    bolt_bucket *b;
    unsigned char k[17];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("key"), &b));
    for (uint64_t i = 1; i <= 3000; i++) {
        rev_key(i, 0, k);
        ASSERT_OK(bolt_bucket_put(b, (bolt_val){ k, 17 }, bolt_str("a value of some length")));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    /* A leaf reached through a branch's middle element: bracketed on both sides. */
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("key"), &b));
    bolt__page pg;
    ASSERT_OK(bolt__tx_page(tx, b->root, &pg));
    ASSERT_TRUE(!bolt__page_is_leaf(&pg));
    unsigned parent_count = 0;
    while (!bolt__page_is_leaf(&pg)) {
        parent_count = pg.count;
        ASSERT_TRUE(pg.count >= 2);
        ASSERT_OK(bolt__tx_page(tx, bolt__page_branch_elem(&pg, pg.count / 2, NULL), &pg));
    }
    ASSERT_TRUE(parent_count >= 3); /* its element is neither the first nor the last */
    bolt_pgid victim = pg.id;
    bolt_val first;
    bolt__page_leaf_elem(&pg, 0, NULL, &first, NULL);
    uint64_t first_main = 0;
    for (int i = 0; i < 8; i++)
        first_main = first_main << 8 | ((const unsigned char *)first.data)[i];
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));

    int fd = open(path, O_RDWR);
    ASSERT_TRUE(fd >= 0);
    unsigned char zero[2] = { 0, 0 };
    ASSERT_TRUE(pwrite(fd, zero, 2, (off_t)(victim * 512 + BOLT_PAGE_COUNT_OFF)) == 2);
    ASSERT_OK(close(fd));

    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("key"), &b));
    static bolt_val keys[64];
    static unsigned char buf[64][17];
    for (size_t i = 0; i < 64; i++) { /* the emptied leaf's keys and their neighbours' */
        rev_key(first_main - 16 + i, 0, buf[i]);
        keys[i] = (bolt_val){ buf[i], 17 };
    }
    compare(b, keys, 64);
    for (size_t i = 0; i < 64; i++)
        compare(b, &keys[i], 1);
    bolt_val v;
    rev_key(first_main, 0, k);
    ASSERT_RC(bolt_bucket_get(b, (bolt_val){ k, 17 }, &v), BOLT_NOTFOUND);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(7);
    strata_rng_seed(&test_rng, harness_seed());
    RUN(test_deep_tree_read_tx);
    RUN(test_revision_keys);
    RUN(test_empty_bracketed_leaf);
    return 0;
}
