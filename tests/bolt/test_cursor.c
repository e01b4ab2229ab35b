/*
 * test_cursor.c: bolt/cursor.c edge cases: empty buckets, seek before /
 * between / past all keys, stepping off either end and back, bucket values
 * (data NULL) versus empty values (data non-NULL), inline and multi-level
 * trees, and cursors on deleted buckets.
 */
#include "bolt_test.h"

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
    return 0;
}
