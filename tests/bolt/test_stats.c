/*
 * test_stats.c: bolt_bucket_stats (bolt/stats.c): exact numbers for files
 * whose layout follows from docs/format.md by hand, consistency on a big random
 * file, and a damaged page reported as BOLT_ECORRUPT naming the page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <strata/bolt.h>

#include "bolt_int.h"
#include "harness.h"

static bolt_db *open_new(const char *name)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    bolt_options o;
    bolt_options_init(&o);
    o.page_size = 4096;
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    return db;
}

static bolt_stats root_stats(bolt_db *db)
{
    bolt_tx *tx;
    bolt_stats s;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_bucket_stats(bolt_tx_root(tx), &s));
    bolt_tx_rollback(tx);
    return s;
}

static void test_empty(void)
{
    bolt_db *db = open_new("empty.db");
    bolt_stats s = root_stats(db);
    ASSERT_EQ_U64(s.buckets, 1);
    ASSERT_EQ_U64(s.inline_buckets, 0);
    ASSERT_EQ_U64(s.leaf_pages, 1);
    ASSERT_EQ_U64(s.branch_pages, 0);
    ASSERT_EQ_U64(s.keys, 0);
    ASSERT_EQ_U64(s.depth, 1);
    ASSERT_EQ_U64(s.leaf_inuse, 16); /* an empty page: its header */
    ASSERT_EQ_U64(s.leaf_alloc, 4096);
    ASSERT_OK(bolt_close(db));
}

static int put_inline(bolt_tx *tx, void *arg)
{
    (void)arg;
    bolt_bucket *b;
    int rc = bolt_bucket_create(bolt_tx_root(tx), bolt_str("a"), &b);
    if (rc == 0)
        rc = bolt_bucket_put(b, bolt_str("k1"), bolt_str("v1"));
    return rc;
}

static void test_inline_by_hand(void)
{
    bolt_db *db = open_new("inline.db");
    ASSERT_OK(bolt_update(db, put_inline, NULL));
    bolt_stats s = root_stats(db);
    /*
     * Inline page of "a": header 16 + element 16 + "k1" + "v1" = 36.
     * Root leaf: header 16 + element 16 + key "a" (1) + value (bucket
     * header 16 + inline page 36) = 85.
     */
    ASSERT_EQ_U64(s.inline_inuse, 36);
    ASSERT_EQ_U64(s.leaf_inuse, 85);
    ASSERT_EQ_U64(s.keys, 2); /* the bucket element and k1 */
    ASSERT_EQ_U64(s.buckets, 2);
    ASSERT_EQ_U64(s.inline_buckets, 1);
    ASSERT_EQ_U64(s.depth, 2); /* root tree 1 + the inline bucket's 1 */
    ASSERT_EQ_U64(s.leaf_pages, 1);

    /* The stats of "a" alone. */
    bolt_tx *tx;
    bolt_bucket *a;
    bolt_stats sa;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_stats(a, &sa));
    bolt_tx_rollback(tx);
    ASSERT_EQ_U64(sa.buckets, 1);
    ASSERT_EQ_U64(sa.inline_buckets, 1);
    ASSERT_EQ_U64(sa.keys, 1);
    ASSERT_EQ_U64(sa.leaf_pages, 0);
    ASSERT_EQ_U64(sa.inline_inuse, 36);
    ASSERT_OK(bolt_close(db));
}

typedef struct big_arg {
    uint64_t seed;
    unsigned n;
} big_arg;

static int put_big(bolt_tx *tx, void *arg)
{
    big_arg *a = arg;
    bolt_bucket *b, *c;
    int rc = bolt_bucket_create(bolt_tx_root(tx), bolt_str("big"), &b);
    if (rc == 0)
        rc = bolt_bucket_create(b, bolt_str("child"), &c);
    strata_rng rng;
    strata_rng_seed(&rng, a->seed);
    for (unsigned i = 0; i < a->n && rc == 0; i++) {
        char k[32], v[300];
        uint64_t r = strata_rng_next(&rng);
        snprintf(k, sizeof k, "key-%016llx", (unsigned long long)r);
        size_t vn = (size_t)(r % 280) + 1;
        memset(v, 'a' + (int)(r % 26), vn);
        rc = bolt_bucket_put(i % 10 == 0 ? c : b, bolt_str(k), (bolt_val){ v, vn });
    }
    return rc;
}

static void test_big_consistent(void)
{
    bolt_db *db = open_new("big.db");
    big_arg a = { harness_seed(), 6000 };
    ASSERT_OK(bolt_update(db, put_big, &a));
    bolt_stats s = root_stats(db);
    ASSERT_EQ_U64(s.keys, 6000 + 2); /* + "big" in the root, "child" in big */
    ASSERT_EQ_U64(s.buckets, 3);
    ASSERT_EQ_U64(s.inline_buckets, 0);
    ASSERT_TRUE(s.branch_pages >= 1);
    ASSERT_TRUE(s.depth >= 3);
    ASSERT_EQ_U64(s.leaf_alloc, (s.leaf_pages + s.leaf_overflow) * 4096);
    ASSERT_EQ_U64(s.branch_alloc, (s.branch_pages + s.branch_overflow) * 4096);
    ASSERT_TRUE(s.leaf_inuse <= s.leaf_alloc && s.leaf_inuse > s.leaf_alloc / 4);
    ASSERT_TRUE(s.branch_inuse <= s.branch_alloc);
    /* Every page below the high-water mark: metas, freelist run, tree, free. */
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t pgid = bolt_tx_size(tx) / 4096;
    bolt_tx_rollback(tx);
    ASSERT_TRUE(2 + s.leaf_pages + s.leaf_overflow + s.branch_pages + s.branch_overflow < pgid);
    ASSERT_OK(bolt_close(db));
}

static void test_damaged_page(void)
{
    bolt_db *db = open_new("damaged.db");
    big_arg a = { harness_seed() + 1, 3000 };
    ASSERT_OK(bolt_update(db, put_big, &a));
    char path[4096];
    harness_path(path, sizeof path, "damaged.db");
    ASSERT_OK(bolt_close(db));
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    static unsigned char img[8u << 20];
    size_t n = fread(img, 1, sizeof img, f);
    fclose(f);
    bolt__meta m0, m1, cur;
    int rc0 = bolt__meta_decode(img, n, &m0), rc1 = bolt__meta_decode(img + 4096, n - 4096, &m1);
    ASSERT_OK(bolt__meta_choose(&m0, rc0, &m1, rc1, &cur));
    /* The root of the root bucket becomes an unknown page type. */
    bolt__st16(img + cur.root * 4096 + BOLT_PAGE_FLAGS_OFF, 0x20);
    bolt_options o;
    bolt_options_init(&o);
    o.read_only = true;
    ASSERT_OK(bolt_open_memory(img, n, &o, &db));
    bolt_tx *tx;
    bolt_stats s;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_RC(bolt_bucket_stats(bolt_tx_root(tx), &s), BOLT_ECORRUPT);
    bolt_tx_rollback(tx);
    char why[256], want[32];
    bolt_db_last_corruption(db, why, sizeof why);
    snprintf(want, sizeof want, "page %llu", (unsigned long long)cur.root);
    ASSERT_TRUE(strstr(why, want) != NULL);
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(11);
    RUN(test_empty);
    RUN(test_inline_by_hand);
    RUN(test_big_consistent);
    RUN(test_damaged_page);
    return 0;
}
