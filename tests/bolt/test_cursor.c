/*
 * test_cursor.c: bolt/cursor.c edge cases: empty buckets, seek before /
 * between / past all keys, stepping off either end and back, bucket values
 * (data NULL) versus empty values (data non-NULL), inline and multi-level
 * trees, and cursors on deleted buckets.
 *
 * The guessed search (cursor.c rule 7): on trees of every key shape
 * (dense integers, random, clustered, exponential, text with a shared
 * prefix, long shared prefixes, trailing zero bytes, mixed lengths) every
 * get and seek, of present keys and of keys between, below and above them,
 * gives what a sorted model of the keys gives (the binary search's answer
 * on these pages), in read transactions, in a write transaction (dirty
 * pages, nodes) and after its commit; and on files whose branch keys or
 * leaf order were damaged, every lookup returns a status and reads nothing
 * outside the checked pages (run under ASan).
 */
#include "bolt_test.h"

#include <stdlib.h>

#include "bolt_int.h"

static bolt_db *db;

static void key(int i, char *buf, size_t n)
{
    snprintf(buf, n, "k%05d", i);
}

static int setup(bolt_tx *tx, void *arg)
{
    (void)arg;
    bolt_bucket *root = bolt_tx_root(tx), *big, *small, *empty;
    ASSERT_OK(bolt_bucket_create(root, bolt_str("big"), &big));
    ASSERT_OK(bolt_bucket_create(root, bolt_str("small"), &small));
    ASSERT_OK(bolt_bucket_create(root, bolt_str("empty"), &empty));
    char k[16];
    for (int i = 0; i < 3000; i += 2) { /* even keys only: gaps to seek into */
        key(i, k, sizeof k);
        ASSERT_OK(bolt_bucket_put(big, bolt_str(k), bolt_str(k)));
    }
    ASSERT_OK(bolt_bucket_put(small, bolt_str("a"), bolt_str("")));
    ASSERT_OK(bolt_bucket_create(small, bolt_str("b"), NULL));
    ASSERT_OK(bolt_bucket_put(small, bolt_str("c"), bolt_str("3")));
    return 0;
}

static bolt_cursor *cursor(bolt_tx *tx, const char *bucket)
{
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str(bucket), &b));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    return c;
}

static void test_empty_bucket(void)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_cursor *c = cursor(tx, "empty");
    bolt_val k, v;
    ASSERT_RC(bolt_cursor_first(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_cursor_last(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_cursor_next(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_cursor_prev(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_cursor_seek(c, bolt_str("x"), &k, &v), BOLT_NOTFOUND);
    bolt_cursor_close(c);
    bolt_tx_rollback(tx);
}

static void expect_key(bolt_val k, int i)
{
    char want[16];
    key(i, want, sizeof want);
    ASSERT_EQ_MEM(k.data, k.size, want, strlen(want));
}

static void test_seek_and_ends(void)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_cursor *c = cursor(tx, "big");
    bolt_val k, v;
    char s[16];
    /* Exact, between (odd -> next even), before all, past all. */
    for (int i = 1; i < 2999; i += 97) {
        key(i, s, sizeof s);
        ASSERT_OK(bolt_cursor_seek(c, bolt_str(s), &k, &v));
        expect_key(k, i % 2 ? i + 1 : i);
        ASSERT_EQ_MEM(v.data, v.size, k.data, k.size);
    }
    ASSERT_OK(bolt_cursor_seek(c, bolt_str("a"), &k, &v));
    expect_key(k, 0);
    ASSERT_RC(bolt_cursor_seek(c, bolt_str("z"), &k, &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_cursor_seek(c, bolt_str("k02999"), &k, &v), BOLT_NOTFOUND);
    /* Off the end and back. */
    ASSERT_OK(bolt_cursor_last(c, &k, &v));
    expect_key(k, 2998);
    ASSERT_RC(bolt_cursor_next(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_OK(bolt_cursor_prev(c, &k, &v));
    expect_key(k, 2998);
    /* Off the start: the cursor is unpositioned until first/last/seek. */
    ASSERT_OK(bolt_cursor_first(c, &k, &v));
    expect_key(k, 0);
    ASSERT_RC(bolt_cursor_prev(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_RC(bolt_cursor_next(c, &k, &v), BOLT_NOTFOUND);
    ASSERT_OK(bolt_cursor_seek(c, bolt_str("k01000"), &k, &v));
    ASSERT_OK(bolt_cursor_prev(c, &k, &v));
    expect_key(k, 998);
    /* A full backward walk crosses every leaf boundary. */
    int n = 0;
    for (int rc = bolt_cursor_last(c, &k, &v); rc == 0; rc = bolt_cursor_prev(c, &k, NULL))
        expect_key(k, 2998 - 2 * n++);
    ASSERT_EQ_INT(n, 1500);
    bolt_tx_rollback(tx);
}

static void test_bucket_and_empty_values(void)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_cursor *c = cursor(tx, "small");
    bolt_val k, v;
    ASSERT_OK(bolt_cursor_first(c, &k, &v));
    ASSERT_EQ_MEM(k.data, k.size, "a", 1);
    ASSERT_NOT_NULL(v.data); /* an empty value is not a bucket */
    ASSERT_EQ_SIZE(v.size, 0);
    ASSERT_OK(bolt_cursor_next(c, &k, &v));
    ASSERT_EQ_MEM(k.data, k.size, "b", 1);
    ASSERT_NULL(v.data); /* a nested bucket */
    ASSERT_OK(bolt_cursor_next(c, &k, &v));
    ASSERT_EQ_MEM(v.data, v.size, "3", 1);
    /* The root bucket's cursor lists buckets with NULL values. */
    bolt_cursor *r;
    ASSERT_OK(bolt_cursor_open(bolt_tx_root(tx), &r));
    int n = 0;
    for (int rc = bolt_cursor_first(r, &k, &v); rc == 0; rc = bolt_cursor_next(r, &k, &v), n++)
        ASSERT_NULL(v.data);
    ASSERT_EQ_INT(n, 3);
    bolt_tx_rollback(tx);
}

static void test_cursor_on_deleted_bucket(void)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_cursor *c = cursor(tx, "small");
    bolt_val k, v;
    ASSERT_OK(bolt_cursor_first(c, &k, &v));
    ASSERT_RC(bolt_cursor_delete(c), 0);
    ASSERT_OK(bolt_cursor_next(c, &k, &v));
    ASSERT_EQ_MEM(k.data, k.size, "b", 1);
    ASSERT_RC(bolt_cursor_delete(c), BOLT_EINCOMPATIBLEVALUE);
    ASSERT_OK(bolt_bucket_delete_bucket(bolt_tx_root(tx), bolt_str("small")));
    ASSERT_RC(bolt_cursor_next(c, &k, &v), BOLT_EBUCKETNOTFOUND);
    ASSERT_RC(bolt_cursor_first(c, &k, &v), BOLT_EBUCKETNOTFOUND);
    bolt_tx_rollback(tx);
}

/* ---- rule 7: the guessed search on every key shape ----------------------- */

typedef struct gkey {
    unsigned char b[40];
    size_t n;
} gkey;

static uint64_t g_rng;

static uint64_t g_next(void)
{
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int gkey_cmp(const void *a, const void *b)
{
    const gkey *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->b, y->b, n);
    if (c != 0)
        return c;
    return x->n < y->n ? -1 : x->n > y->n;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

enum {
    SHAPE_DENSE,
    SHAPE_RANDOM,
    SHAPE_CLUSTER,
    SHAPE_EXP,
    SHAPE_TEXT,
    SHAPE_LONGPREFIX,
    SHAPE_ZEROS,
    SHAPE_MIXED,
    SHAPES
};

static const char *const shape_name[SHAPES] = { "dense", "random",     "cluster", "exp",
                                                "text",  "longprefix", "zeros",   "mixed" };

/* Key i of a shape (duplicates are removed by the caller). */
static gkey shape_key(int shape, uint64_t i)
{
    gkey k;
    memset(&k, 0, sizeof k);
    switch (shape) {
    case SHAPE_DENSE:
        put_be64(k.b, i);
        k.n = 8;
        break;
    case SHAPE_RANDOM:
        put_be64(k.b, g_next());
        k.n = 8;
        break;
    case SHAPE_CLUSTER: /* 9 in 10 keys in [0, 2000), the rest anywhere: interpolation misleads */
        put_be64(k.b, g_next() % 10 != 0 ? g_next() % 2000 : g_next());
        k.n = 8;
        break;
    case SHAPE_EXP: /* 2^(i/8): each key far above the last */
        put_be64(k.b,
                 (uint64_t)1 << (i / 8 % 64) | (i % 8) << (i / 8 % 64 > 4 ? i / 8 % 64 - 4 : 0));
        k.n = 8;
        break;
    case SHAPE_TEXT: /* the first 8 bytes shared by all */
        k.n = (size_t)snprintf((char *)k.b, sizeof k.b, "key-%08llu",
                               (unsigned long long)(g_next() % 100000000));
        break;
    case SHAPE_LONGPREFIX: /* 20 shared bytes, then 1..12 random ones */
        memset(k.b, 'p', 20);
        k.n = 20 + 1 + g_next() % 12;
        for (size_t j = 20; j < k.n; j++)
            k.b[j] = (unsigned char)g_next();
        break;
    case SHAPE_ZEROS: /* short keys, many ending in zero bytes: equal 8-byte windows */
        k.n = 1 + g_next() % 10;
        for (size_t j = 0; j < k.n; j++)
            k.b[j] = g_next() % 3 == 0 ? 0 : (unsigned char)(g_next() % 4);
        break;
    default: /* mixed: 1..40 random bytes, a few 0x00 and 0xff runs */
        k.n = 1 + g_next() % 40;
        for (size_t j = 0; j < k.n; j++) {
            uint64_t r = g_next() % 8;
            k.b[j] = r == 0 ? 0 : r == 1 ? 0xff : (unsigned char)g_next();
        }
        break;
    }
    return k;
}

/* The value stored under a key: its bytes reversed, then its length. */
static size_t gval(const gkey *k, unsigned char *out)
{
    for (size_t j = 0; j < k->n; j++)
        out[j] = k->b[k->n - 1 - j];
    out[k->n] = (unsigned char)k->n;
    return k->n + 1;
}

/* Sorted, duplicates removed; returns the new count. */
static size_t gsort(gkey *a, size_t n)
{
    qsort(a, n, sizeof *a, gkey_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || gkey_cmp(&a[m - 1], &a[i]) != 0)
            a[m++] = a[i];
    return m;
}

/* Probes around key k: itself, one less and one more in its last byte, shorter, longer. */
static size_t probes_of(const gkey *k, gkey *out)
{
    size_t n = 0;
    out[n++] = *k;
    gkey p = *k;
    if (p.b[p.n - 1] > 0) {
        p.b[p.n - 1]--;
        out[n++] = p;
    }
    p = *k;
    if (p.b[p.n - 1] < 0xff) {
        p.b[p.n - 1]++;
        out[n++] = p;
    }
    if (k->n > 1) {
        p = *k;
        p.n--;
        out[n++] = p;
    }
    if (k->n < sizeof k->b) {
        p = *k;
        p.b[p.n++] = 0;
        out[n++] = p;
    }
    return n;
}

/* Every get and seek in bucket b agrees with the model (sorted keys m[0..n)). */
static void check_against_model(bolt_bucket *b, const gkey *m, size_t n, int shape)
{
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    for (size_t i = 0; i < n; i++) {
        gkey pr[5];
        size_t np = probes_of(&m[i], pr);
        for (size_t j = 0; j < np; j++) {
            /* The model's answer: the first key >= the probe (binary search of m). */
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (gkey_cmp(&m[mid], &pr[j]) < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            bolt_val k, v;
            int rc = bolt_cursor_seek(c, (bolt_val){ pr[j].b, pr[j].n }, &k, &v);
            if (lo == n) {
                if (rc != BOLT_NOTFOUND)
                    fprintf(stderr, "shape %s: seek past all keys found something\n",
                            shape_name[shape]);
                ASSERT_RC(rc, BOLT_NOTFOUND);
            } else {
                ASSERT_OK(rc);
                if (k.size != m[lo].n || memcmp(k.data, m[lo].b, k.size) != 0)
                    fprintf(stderr, "shape %s: seek of probe %zu/%zu lands on the wrong key\n",
                            shape_name[shape], i, j);
                ASSERT_EQ_MEM(k.data, k.size, m[lo].b, m[lo].n);
                unsigned char want[48];
                size_t wn = gval(&m[lo], want);
                ASSERT_EQ_MEM(v.data, v.size, want, wn);
            }
            bool present = lo < n && gkey_cmp(&m[lo], &pr[j]) == 0;
            rc = bolt_bucket_get(b, (bolt_val){ pr[j].b, pr[j].n }, &v);
            ASSERT_RC(rc, present ? 0 : BOLT_NOTFOUND);
        }
    }
    /* Below all and above all. */
    bolt_val k, v;
    unsigned char low = 0, high[41];
    memset(high, 0xff, sizeof high);
    ASSERT_OK(bolt_cursor_seek(c, (bolt_val){ &low, 1 }, &k, &v));
    if (gkey_cmp(&m[0], &(gkey){ .b = { 0 }, .n = 1 }) >= 0)
        ASSERT_EQ_MEM(k.data, k.size, m[0].b, m[0].n);
    ASSERT_RC(bolt_cursor_seek(c, (bolt_val){ high, sizeof high }, &k, &v), BOLT_NOTFOUND);
    bolt_cursor_close(c);
}

static void put_all(bolt_bucket *b, const gkey *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char v[48];
        size_t vn = gval(&keys[i], v);
        ASSERT_OK(bolt_bucket_put(b, (bolt_val){ keys[i].b, keys[i].n }, (bolt_val){ v, vn }));
    }
}

static void test_guess_every_shape(void)
{
    enum { N = 3000 };
    char p[8192];
    harness_path(p, sizeof p, "shapes.db");
    bolt_options o = bt_opts();
    o.page_size = 512; /* four or five levels of branches at N keys */
    bolt_db *sdb;
    ASSERT_OK(bolt_open(p, &o, &sdb));
    gkey *keys = malloc(2 * N * sizeof *keys), *model = malloc(2 * N * sizeof *model);
    ASSERT_NOT_NULL(keys);
    ASSERT_NOT_NULL(model);
    for (int shape = 0; shape < SHAPES; shape++) {
        g_rng = harness_seed() + (uint64_t)shape;
        size_t n = 0;
        for (uint64_t i = 0; i < N; i++)
            keys[n++] = shape_key(shape, i);
        /* Insert in a random order over three transactions. */
        for (size_t i = n; i > 1; i--) {
            size_t j = g_next() % i;
            gkey t = keys[i - 1];
            keys[i - 1] = keys[j];
            keys[j] = t;
        }
        char name[16];
        snprintf(name, sizeof name, "s%d", shape);
        for (int part = 0; part < 3; part++) {
            bolt_tx *tx;
            ASSERT_OK(bolt_tx_begin(sdb, BOLT_TX_WRITE, &tx));
            bolt_bucket *b;
            if (part == 0)
                ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str(name), &b));
            else
                ASSERT_OK(bolt_tx_bucket(tx, bolt_str(name), &b));
            put_all(b, keys + n * (size_t)part / 3,
                    n * (size_t)(part + 1) / 3 - n * (size_t)part / 3);
            ASSERT_OK(bolt_tx_commit(tx));
        }
        memcpy(model, keys, n * sizeof *keys);
        size_t m = gsort(model, n);

        /* Read transaction: committed pages. */
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(sdb, 0, &tx));
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str(name), &b));
        check_against_model(b, model, m, shape);
        bolt_tx_rollback(tx);

        /* Write transaction: delete every third key, add as many new ones, check before commit. */
        ASSERT_OK(bolt_tx_begin(sdb, BOLT_TX_WRITE, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str(name), &b));
        size_t kept = 0;
        for (size_t i = 0; i < m; i++) {
            if (i % 3 == 1)
                ASSERT_OK(bolt_bucket_delete(b, (bolt_val){ model[i].b, model[i].n }));
            else
                keys[kept++] = model[i];
        }
        size_t added = 0;
        for (uint64_t i = 0; i < m / 3; i++) {
            gkey k = shape_key(shape, N + i);
            keys[kept + added++] = k;
        }
        put_all(b, keys + kept, added);
        memcpy(model, keys, (kept + added) * sizeof *keys);
        m = gsort(model, kept + added);
        check_against_model(b, model, m, shape);
        ASSERT_OK(bolt_tx_commit(tx));

        ASSERT_OK(bolt_tx_begin(sdb, 0, &tx));
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str(name), &b));
        check_against_model(b, model, m, shape);
        bolt_tx_rollback(tx);
    }
    bt_check(sdb);
    free(keys);
    free(model);
    ASSERT_OK(bolt_close(sdb));
}

/* Rule 7 on damaged files: every lookup returns a status; a value found is the key's own. */
static void lookup_all_damaged(const char *path, const gkey *m, size_t n)
{
    bolt_options o = bt_opts();
    o.page_size = 512;
    bolt_db *d;
    ASSERT_OK(bolt_open(path, &o, &d));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(d, 0, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("h"), &b));
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        gkey pr[5];
        size_t np = probes_of(&m[i], pr);
        for (size_t j = 0; j < np; j++) {
            bolt_val k, v;
            int rc = bolt_bucket_get(b, (bolt_val){ pr[j].b, pr[j].n }, &v);
            ASSERT_TRUE(rc == 0 || rc == BOLT_NOTFOUND || rc == BOLT_ECORRUPT);
            if (rc == 0) {
                unsigned char want[48];
                size_t wn = gval(&pr[j], want);
                ASSERT_EQ_MEM(v.data, v.size, want, wn); /* leaves were not touched */
                found++;
            }
            rc = bolt_cursor_seek(c, (bolt_val){ pr[j].b, pr[j].n }, &k, &v);
            ASSERT_TRUE(rc == 0 || rc == BOLT_NOTFOUND || rc == BOLT_ECORRUPT);
        }
    }
    ASSERT_TRUE(found > 0);
    bolt_cursor_close(c);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(d));
}

static void test_guess_damaged_brackets(void)
{
    enum { N = 2000 };
    char p[8192], q[8192];
    harness_path(p, sizeof p, "damaged.db");
    harness_path(q, sizeof q, "damaged2.db");
    bolt_options o = bt_opts();
    o.page_size = 512;
    bolt_db *d;
    ASSERT_OK(bolt_open(p, &o, &d));
    gkey *model = malloc(N * sizeof *model);
    ASSERT_NOT_NULL(model);
    g_rng = harness_seed();
    for (uint64_t i = 0; i < N; i++)
        model[i] = shape_key(SHAPE_RANDOM, i);
    size_t m = gsort(model, N);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(d, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("h"), &b));
    put_all(b, model, m);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(d));
    size_t len;
    unsigned char *img = bt_read_file(p, &len);
    ASSERT_NOT_NULL(img);
    unsigned char *work = malloc(len);
    ASSERT_NOT_NULL(work);
    /*
     * Damage, one kind per file: 0 branch keys set to 0xff (brackets with lo
     * above hi); 1 branch keys set to 0x00 (keys above every bracket); 2 branch
     * keys reversed within each page (descending); 3 two keys of each leaf
     * swapped (leaves out of order); 4 branch keys shortened to one byte.
     */
    for (int kind = 0; kind < 5; kind++) {
        memcpy(work, img, len);
        size_t pages = 0;
        for (size_t off = 2 * 512; off + 512 <= len; off += 512) {
            unsigned char *pg = work + off;
            uint16_t flags = bolt__ld16(pg + BOLT_PAGE_FLAGS_OFF);
            uint16_t count = bolt__ld16(pg + BOLT_PAGE_COUNT_OFF);
            if (bolt__page_check(pg, 512, off / 512, NULL) != 0)
                continue; /* free or meta or freelist */
            bool leaf = flags == BOLT_PAGE_LEAF;
            if (leaf != (kind == 3) || count < 2)
                continue;
            pages++;
            for (unsigned i = 0; i < count; i++) {
                unsigned char *e = pg + BOLT_PAGE_HEADER_SIZE + i * 16;
                uint32_t pos = bolt__ld32(e + (leaf ? BOLT_LEAF_POS_OFF : BOLT_BRANCH_POS_OFF));
                uint32_t ks = bolt__ld32(e + (leaf ? BOLT_LEAF_KSIZE_OFF : BOLT_BRANCH_KSIZE_OFF));
                if (kind == 0 && i > 0)
                    memset(e + pos, 0xff, ks);
                else if (kind == 1 && i > 0)
                    memset(e + pos, 0x00, ks);
                else if (kind == 2 && i < count / 2) {
                    /* swap the (same-size) keys of elements i and count-1-i */
                    unsigned char *f = pg + BOLT_PAGE_HEADER_SIZE + (count - 1 - i) * 16;
                    uint32_t fpos = bolt__ld32(f + BOLT_BRANCH_POS_OFF);
                    unsigned char t[8];
                    memcpy(t, e + pos, 8);
                    memcpy(e + pos, f + fpos, 8);
                    memcpy(f + fpos, t, 8);
                } else if (kind == 3 && i == 0) {
                    unsigned char *f = pg + BOLT_PAGE_HEADER_SIZE + (count - 1) * 16;
                    uint32_t fpos = bolt__ld32(f + BOLT_LEAF_POS_OFF);
                    unsigned char t[8];
                    memcpy(t, e + pos, 8);
                    memcpy(e + pos, f + fpos, 8);
                    memcpy(f + fpos, t, 8);
                } else if (kind == 4) {
                    bolt__st32(e + BOLT_BRANCH_KSIZE_OFF, 1);
                }
            }
        }
        ASSERT_TRUE(pages > 0);
        bt_write_file(q, work, len);
        lookup_all_damaged(q, model, m);
    }
    free(work);
    free(img);
    free(model);
}

int main(void)
{
    HARNESS_BEGIN(1);
    char p[8192];
    harness_path(p, sizeof p, "cursor.db");
    bolt_options o = bt_opts();
    o.page_size = 512; /* several levels with few keys */
    ASSERT_OK(bolt_open(p, &o, &db));
    ASSERT_OK(bolt_update(db, setup, NULL));
    bt_check(db);
    RUN(test_empty_bucket);
    RUN(test_seek_and_ends);
    RUN(test_bucket_and_empty_values);
    RUN(test_cursor_on_deleted_bucket);
    ASSERT_OK(bolt_close(db));
    RUN(test_guess_every_shape);
    RUN(test_guess_damaged_brackets);
    return 0;
}
