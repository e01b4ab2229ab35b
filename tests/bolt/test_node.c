/*
 * test_node.c: bolt/node.c as the file shows it: the exact packing of a
 * written leaf (docs/format.md §5), split fill (half pages for inserts in the
 * middle at the default fill percent, full pages for right-edge appends
 * and for fill 1.0), rebalancing after deletes (merges, root collapse), and
 * separators kept equal to each child's first key when first keys go.
 */
#include "bolt_test.h"

#include "bolt/bolt_int.h"

static bolt_db *open_db(const char *name, char *path, size_t n)
{
    harness_path(path, n, name);
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    return db;
}

static void test_leaf_packing(void)
{
    char p[8192];
    bolt_db *db = open_db("pack.db", p, sizeof p);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    for (int i = 0; i < 60; i++) {
        char k[16], v[64];
        snprintf(k, sizeof k, "k%02d", i);
        memset(v, 'a' + i % 26, sizeof v);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ v, (size_t)(i % 7) * 3 }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(p, &len);
    bolt__meta m0, m1, m;
    ASSERT_OK(bolt__meta_decode(img, len, &m0));
    ASSERT_OK(bolt__meta_decode(img + 4096, len - 4096, &m1));
    m = m0.txid > m1.txid ? m0 : m1;
    /* Root bucket leaf: one element "b" -> 16-byte header (paged). */
    const unsigned char *rp = img + m.root * 4096;
    ASSERT_EQ_INT(bolt__ld16(rp + 8), 0x02);
    ASSERT_EQ_INT(bolt__ld16(rp + 10), 1);
    ASSERT_EQ_INT(bolt__ld32(rp + 16), 1);  /* bucket flag */
    ASSERT_EQ_INT(bolt__ld32(rp + 20), 16); /* pos: right after the one element */
    ASSERT_EQ_INT(bolt__ld32(rp + 28), 16); /* vsize: the header only */
    bolt_pgid broot = bolt__ld64(rp + 32 + 1);
    const unsigned char *lp = img + broot * 4096;
    ASSERT_EQ_U64(bolt__ld64(lp), broot);
    ASSERT_EQ_INT(bolt__ld16(lp + 8), 0x02);
    ASSERT_EQ_INT(bolt__ld16(lp + 10), 60);
    ASSERT_EQ_INT(bolt__ld32(lp + 12), 0);
    size_t data = 16 + 16 * 60;
    for (int i = 0; i < 60; i++) {
        const unsigned char *e = lp + 16 + 16 * i;
        ASSERT_EQ_INT(bolt__ld32(e), 0);
        ASSERT_EQ_INT(bolt__ld32(e + 4), data - (size_t)(16 + 16 * i));
        ASSERT_EQ_INT(bolt__ld32(e + 8), 3);
        ASSERT_EQ_INT(bolt__ld32(e + 12), (i % 7) * 3);
        char k[16];
        snprintf(k, sizeof k, "k%02d", i);
        ASSERT_EQ_MEM(lp + data, 3, k, 3);
        data += 3 + (size_t)(i % 7) * 3;
    }
    for (size_t i = data; i < 4096; i++)
        ASSERT_EQ_INT(lp[i], 0);
    free(img);
}

/* Leaf fill (in-use / allocated) of bucket b after loading n keys. */
static double load_fill(const char *name, int n, bool reverse, double fill_percent)
{
    char p[8192];
    bolt_db *db = open_db(name, p, sizeof p);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    if (fill_percent > 0)
        bolt_bucket_set_fill_percent(b, fill_percent);
    static unsigned char v[100];
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%08d", reverse ? n - i : i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), (bolt_val){ v, sizeof v }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    bolt_stats st;
    ASSERT_OK(bolt_bucket_stats(b, &st));
    ASSERT_EQ_U64(st.keys, (uint64_t)n);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    return (double)st.leaf_inuse / (double)st.leaf_alloc;
}

static void test_split_fill(void)
{
    double seq = load_fill("seq.db", 5000, false, 0);
    double mid = load_fill("mid.db", 5000, true, 0);
    double full = load_fill("full.db", 5000, true, 1.0);
    printf("  leaf fill: right-edge appends %.2f, inserts at the front %.2f (fill 0.5), %.2f "
           "(fill 1.0)\n",
           seq, mid, full);
    ASSERT_TRUE(seq > 0.9);
    ASSERT_TRUE(mid > 0.4 && mid < 0.7);
    ASSERT_TRUE(full > 0.9);
}

static void put_range(bolt_db *db, int from, int to)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b));
    for (int i = from; i < to; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%08d", i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str("0123456789012345678901234567")));
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

static bolt_stats stats_of(bolt_db *db)
{
    bolt_tx *tx;
    bolt_bucket *b;
    bolt_stats st;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_stats(b, &st));
    bolt_tx_rollback(tx);
    return st;
}

static void delete_where(bolt_db *db, int n, int keep_every)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = 0; i < n; i++) {
        if (keep_every > 0 && i % keep_every == 0)
            continue;
        char k[16];
        snprintf(k, sizeof k, "k%08d", i);
        ASSERT_OK(bolt_bucket_delete(b, bolt_str(k)));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    bt_check(db);
}

static void test_rebalance_and_collapse(void)
{
    char p[8192];
    bolt_db *db = open_db("rebal.db", p, sizeof p);
    put_range(db, 0, 20000);
    bolt_stats before = stats_of(db);
    ASSERT_TRUE(before.depth >= 3);
    delete_where(db, 20000, 40); /* keep 1 in 40 */
    bolt_stats after = stats_of(db);
    ASSERT_EQ_U64(after.keys, 500);
    ASSERT_TRUE(after.leaf_pages * 10 < before.leaf_pages);
    delete_where(db, 20000, 20000); /* keep only key 0 */
    after = stats_of(db);
    ASSERT_EQ_U64(after.keys, 1);
    ASSERT_EQ_U64(after.depth, 1); /* branches collapsed into one leaf */
    ASSERT_EQ_U64(after.branch_pages, 0);
    ASSERT_OK(bolt_close(db));
}

/* Deleting the first key of many children: separators must follow (check). */
static void test_separators_follow_first_keys(void)
{
    char p[8192];
    bolt_db *db = open_db("sep.db", p, sizeof p);
    put_range(db, 0, 5000);
    for (int round = 0; round < 5; round++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        bolt_bucket *b;
        ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
        bolt_cursor *c;
        ASSERT_OK(bolt_cursor_open(b, &c));
        bolt_val k, v;
        int i = 0;
        /* Delete every 37th key, including the very first ones. */
        for (int rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v))
            if (i++ % 37 == 0)
                ASSERT_OK(bolt_cursor_delete(c));
        ASSERT_OK(bolt_tx_commit(tx));
        bt_check(db); /* reports any separator that differs from its child's first key */
    }
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_leaf_packing);
    RUN(test_split_fill);
    RUN(test_rebalance_and_collapse);
    RUN(test_separators_follow_first_keys);
    return 0;
}
