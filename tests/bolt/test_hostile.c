/*
 * test_hostile.c: files built to break the read path, as regression tests
 * for what fuzzing found and for the shapes it can only reach by luck.
 *   1. A bucket cycle: nested bucket "bb" of bucket "a" patched to have
 *      a's root page as its own root, so a contains itself forever. check
 *      and dump must report BOLT_ECORRUPT -- dump used to recurse without
 *      bound (a stack overflow) -- and opening nested handles 200 levels
 *      deep must stay safe.
 *   2. Every crasher kept in fuzz/regress/ is replayed by fuzz_replay_*;
 *      here the dump of the one that made dump return BOLT_NOTFOUND.
 */
#include "bolt_test.h"

#include "bolt_int.h"

static void count(void *arg, const char *problem)
{
    (void)problem;
    (*(int *)arg)++;
}

static int fill(bolt_tx *tx, void *arg)
{
    (void)arg;
    bolt_bucket *a, *bb;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_put(a, bolt_str("plain"), bolt_str("value")));
    ASSERT_OK(bolt_bucket_create(a, bolt_str("bb"), &bb));
    for (int i = 0; i < 60; i++) {
        char k[16];
        snprintf(k, sizeof k, "key-%02d", i);
        ASSERT_OK(bolt_bucket_put(bb, bolt_str(k), bolt_str("twenty bytes of data")));
    }
    return 0;
}

static void test_bucket_cycle(void)
{
    char path[4096], bad[4096];
    harness_path(path, sizeof path, "cycle.db");
    harness_path(bad, sizeof bad, "cycle-bad.db");
    bolt_options o = bt_opts();
    o.page_size = 512;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_OK(bolt_update(db, fill, NULL));
    /* Find a's root page and the offset of bb's root field inside it. */
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_bucket *a, *bb;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_open(a, bolt_str("bb"), &bb));
    ASSERT_TRUE(a->root != 0 && bb->root != 0);
    bolt__page p;
    ASSERT_OK(bolt__tx_page(tx, a->root, &p));
    ASSERT_TRUE(bolt__page_is_leaf(&p));
    size_t field = 0;
    for (unsigned i = 0; i < p.count; i++) {
        uint32_t flags;
        bolt_val k, v;
        bolt__page_leaf_elem(&p, i, &flags, &k, &v);
        if ((flags & BOLT_LEAF_BUCKET) && k.size == 2 && memcmp(k.data, "bb", 2) == 0)
            field = (size_t)((const unsigned char *)v.data - tx->map->base) + BOLT_BUCKET_ROOT_OFF;
    }
    ASSERT_TRUE(field != 0);
    bolt_pgid aroot = a->root;
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));

    size_t len;
    unsigned char *img = bt_read_file(path, &len);
    ASSERT_NOT_NULL(img);
    bolt__st64(img + field, aroot);
    bt_write_file(bad, img, len);
    free(img);

    o.read_only = true;
    ASSERT_OK(bolt_open(bad, &o, &db));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    int problems = 0;
    ASSERT_RC(bolt_tx_check(tx, count, &problems), BOLT_ECORRUPT);
    ASSERT_TRUE(problems > 0);
    FILE *null = fopen("/dev/null", "w");
    ASSERT_NOT_NULL(null);
    ASSERT_RC(bolt_tx_dump(tx, null, 0), BOLT_ECORRUPT);
    fclose(null);
    char why[256];
    bolt_db_last_corruption(db, why, sizeof why);
    printf("dump: %s\n", why);
    /* Handles all the way down the cycle: each level is a' own root page. */
    bolt_bucket *b = NULL;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &b));
    for (int depth = 0; depth < 200; depth++) {
        bolt_bucket *child;
        ASSERT_OK(bolt_bucket_open(b, bolt_str("bb"), &child));
        b = child;
    }
    bolt_val v;
    ASSERT_OK(bolt_bucket_get(b, bolt_str("plain"), &v));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
}

static void test_dump_notfound_crasher(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/../../fuzz/regress/db/dump-bucket-notfound",
             STRATA_FIXTURES_DIR);
    size_t len;
    unsigned char *img = bt_read_file(path, &len);
    ASSERT_NOT_NULL(img);
    bolt_db *db;
    ASSERT_OK(bolt_open_memory(img, len, NULL, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    FILE *null = fopen("/dev/null", "w");
    ASSERT_NOT_NULL(null);
    ASSERT_RC(bolt_tx_dump(tx, null, 64), BOLT_ECORRUPT);
    fclose(null);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    free(img);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_bucket_cycle);
    RUN(test_dump_notfound_crasher);
    return 0;
}
