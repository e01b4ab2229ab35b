/*
 * test_contract.c: the transaction handle contract and its edges (issue 19):
 *   - a transaction's end (commit, failed commit, rollback, managed calls)
 *     frees it with its buckets and cursors, and no path reads that memory
 *     afterwards (this program is meant for the ASan build, where any such
 *     read fails it);
 *   - commit after an ordinary failure inside a bucket operation returns
 *     that failure's status, not BOLT_EPANIC;
 *   - BOLT_MAX_NESTING levels of buckets are created, written, read, grown
 *     and deleted on a thread with a 512 KiB stack (the walks over nesting
 *     keep their stacks on the heap).
 */
#include "bolt_test.h"

#include <errno.h>
#include <pthread.h>

#include "bolt/bolt_int.h"

static bolt_db *open_db(const char *name, const bolt_options *o)
{
    char p[8192];
    harness_path(p, sizeof p, name);
    bolt_db *db;
    ASSERT_OK(bolt_open(p, o, &db));
    return db;
}

static void put_str(bolt_bucket *b, const char *k, const char *v)
{
    ASSERT_OK(bolt_bucket_put(b, bolt_str(k), bolt_str(v)));
}

/* Buckets and cursors open at every kind of end; nothing touched after it. */
static void test_end_frees_everything(void)
{
    bolt_options o = bt_opts();
    bolt_db *db = open_db("ends.db", &o);
    bolt_tx *tx;
    bolt_bucket *a, *b;
    bolt_cursor *c1, *c2;

    /* Commit with two buckets and two open cursors (one already closed). */
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_create(a, bolt_str("b"), &b));
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%05d", i);
        put_str(b, k, "value");
    }
    ASSERT_OK(bolt_cursor_open(a, &c1));
    ASSERT_OK(bolt_cursor_open(b, &c2));
    bolt_val k, v;
    ASSERT_OK(bolt_cursor_first(c2, &k, &v));
    ASSERT_OK(bolt_cursor_delete(c2));
    ASSERT_OK(bolt_cursor_next(c2, &k, &v));
    bolt_cursor_close(c1);
    ASSERT_OK(bolt_tx_commit(tx)); /* frees tx, a, b, c2 */

    /* Rollback of a reader with cursors mid-scan. */
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_open(a, bolt_str("b"), &b));
    ASSERT_OK(bolt_cursor_open(b, &c1));
    ASSERT_OK(bolt_cursor_seek(c1, bolt_str("key-00250"), &k, &v));
    ASSERT_EQ_MEM(k.data, k.size, "key-00250", 9);
    ASSERT_OK(bolt_cursor_open(b, &c2));
    ASSERT_OK(bolt_cursor_last(c2, &k, &v));
    bolt_tx_rollback(tx);

    /* A read transaction committed: rolled back and freed, with its cursor. */
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_cursor_open(a, &c1));
    ASSERT_RC(bolt_tx_commit(tx), BOLT_ETXNOTWRITABLE);

    /* A write rolled back with changes, nodes and a deleted bucket handle. */
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_open(a, bolt_str("b"), &b));
    put_str(b, "key-99999", "x");
    ASSERT_OK(bolt_cursor_open(b, &c1));
    ASSERT_OK(bolt_cursor_first(c1, &k, &v));
    ASSERT_OK(bolt_bucket_delete_bucket(a, bolt_str("b")));
    ASSERT_RC(bolt_bucket_put(b, bolt_str("k"), bolt_str("v")), BOLT_EBUCKETNOTFOUND);
    bolt_tx_rollback(tx);

    /* A commit after deleting and recreating a bucket that had open handles. */
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_open(a, bolt_str("b"), &b));
    put_str(b, "key-00001", "changed");
    ASSERT_OK(bolt_cursor_open(b, &c1));
    ASSERT_OK(bolt_cursor_first(c1, &k, &v));
    ASSERT_OK(bolt_bucket_delete(b, bolt_str("key-00002")));
    ASSERT_OK(bolt_bucket_delete_bucket(bolt_tx_root(tx), bolt_str("a")));
    ASSERT_RC(bolt_bucket_create(bolt_tx_root(tx), bolt_str("a"), NULL), 0);
    ASSERT_OK(bolt_tx_commit(tx));

    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_RC(bolt_bucket_open(a, bolt_str("b"), &b), BOLT_NOTFOUND);
    bolt_tx_rollback(tx);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

/* A write that fails at the first page write: the commit frees everything. */
#if STRATA_FAILPOINTS
static int fail_page_write(const char *name)
{
    return strcmp(name, "before_page_write") == 0 ? -EIO : 0;
}
#endif

static void test_failed_commit_frees(void)
{
#if STRATA_FAILPOINTS
    static struct bolt_os os;
    os = *bolt__os_default();
    os.failpoint = fail_page_write;
    bolt_options o = bt_opts();
    o.os = &os;
    bolt_db *db = open_db("failed.db", &o);
    bolt_tx *tx;
    bolt_bucket *a;
    bolt_cursor *c;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("a"), &a));
    put_str(a, "k", "v");
    ASSERT_OK(bolt_cursor_open(a, &c));
    bolt_val k, v;
    ASSERT_OK(bolt_cursor_first(c, &k, &v));
    ASSERT_RC(bolt_tx_commit(tx), -EIO);
    ASSERT_RC(bolt_tx_begin(db, BOLT_TX_WRITE, &tx), BOLT_EPOISONED);
    ASSERT_OK(bolt_close(db));
#else
    printf("  (failpoints not compiled in: skipped)\n");
#endif
}

/*
 * Commit after an ordinary failure half-way through bolt_bucket_delete_bucket
 * (a damaged page under the deleted bucket) returns that failure.
 */
static void test_commit_returns_the_error(void)
{
    char p[8192];
    harness_path(p, sizeof p, "commit-error.db");
    bolt_options o = bt_opts();
    bolt_db *db = open_db("commit-error.db", &o);
    bolt_tx *tx;
    bolt_bucket *a, *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_create(a, bolt_str("b"), &b));
    for (int i = 0; i < 2000; i++) {
        char k[32];
        snprintf(k, sizeof k, "key-%05d", i);
        put_str(b, k, "a value of some length");
    }
    ASSERT_OK(bolt_tx_commit(tx));
    /* The root page of a/b: a branch, since 2000 keys fill many leaves. */
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_open(a, bolt_str("b"), &b));
    bolt_pgid root = b->root;
    uint32_t ps = bolt_db_page_size(db);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
    ASSERT_TRUE(root >= 3);

    /* Damage that page: its flags say neither branch nor leaf. */
    FILE *f = fopen(p, "r+b");
    ASSERT_NOT_NULL(f);
    ASSERT_OK(fseek(f, (long)(root * ps + BOLT_PAGE_FLAGS_OFF), SEEK_SET));
    ASSERT_EQ_INT(fputc(0x40, f), 0x40);
    ASSERT_OK(fclose(f));

    o.freelist_check = BOLT_FREELIST_CHECK_NEVER; /* the open's walk would refuse the file */
    db = open_db("commit-error.db", &o);
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_RC(bolt_bucket_delete_bucket(bolt_tx_root(tx), bolt_str("a")), BOLT_ECORRUPT);
    ASSERT_RC(bolt_tx_commit(tx), BOLT_ECORRUPT); /* was BOLT_EPANIC */
    /* Nothing was committed: "a" is still there; the db stays writable. */
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_put(a, bolt_str("plain"), bolt_str("v")));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
}

/* ---- nesting on a small stack ------------------------------------------- */

static int nesting_result;

static bolt_bucket *descend(bolt_tx *tx, int levels)
{
    bolt_bucket *b = bolt_tx_root(tx);
    for (int i = 0; i < levels; i++) {
        bolt_bucket *c;
        if (bolt_bucket_open(b, bolt_str("n"), &c) != 0)
            return NULL;
        b = c;
    }
    return b;
}

/* Runs on the 512 KiB thread: returns 0 or a line number that failed. */
static int nesting_body(bolt_db *db)
{
    bolt_tx *tx;
    if (bolt_tx_begin(db, BOLT_TX_WRITE, &tx) != 0)
        return __LINE__;
    bolt_bucket *b = bolt_tx_root(tx);
    int levels = 0;
    for (;;) {
        bolt_bucket *c;
        int rc = bolt_bucket_create(b, bolt_str("n"), &c);
        if (rc == BOLT_ENESTING)
            break;
        if (rc != 0 || bolt_bucket_put(c, bolt_str("level"), bolt_str("x")) != 0)
            return __LINE__;
        b = c;
        levels++;
    }
    if (levels != BOLT_MAX_NESTING)
        return __LINE__;
    if (bolt_tx_commit(tx) != 0) /* spill and rebalance over every level */
        return __LINE__;

    /* Read the deepest level; touch it (its parents are written again). */
    if (bolt_tx_begin(db, BOLT_TX_WRITE, &tx) != 0)
        return __LINE__;
    b = descend(tx, BOLT_MAX_NESTING);
    bolt_val v;
    if (b == NULL || bolt_bucket_get(b, bolt_str("level"), &v) != 0 || v.size != 1)
        return __LINE__;
    if (bolt_bucket_put(b, bolt_str("deepest"), bolt_str("yes")) != 0)
        return __LINE__;
    if (bolt_tx_commit(tx) != 0)
        return __LINE__;

    if (bolt_tx_begin(db, 0, &tx) != 0)
        return __LINE__;
    b = descend(tx, BOLT_MAX_NESTING);
    if (b == NULL || bolt_bucket_get(b, bolt_str("deepest"), &v) != 0 || v.size != 3)
        return __LINE__;
    bolt_tx_rollback(tx);

    /* Delete the whole chain from the top (every level's pages freed). */
    if (bolt_tx_begin(db, BOLT_TX_WRITE, &tx) != 0)
        return __LINE__;
    if (bolt_bucket_delete_bucket(bolt_tx_root(tx), bolt_str("n")) != 0)
        return __LINE__;
    if (bolt_tx_commit(tx) != 0)
        return __LINE__;
    return 0;
}

static void *nesting_thread(void *arg)
{
    nesting_result = nesting_body(arg);
    return NULL;
}

static void test_max_nesting_small_stack(void)
{
    bolt_options o = bt_opts();
    o.mmap_reserve = 64u << 20;
    bolt_db *db = open_db("nesting.db", &o);
    pthread_attr_t attr;
    ASSERT_OK(pthread_attr_init(&attr));
    ASSERT_OK(pthread_attr_setstacksize(&attr, 512 * 1024));
    pthread_t t;
    nesting_result = -1;
    ASSERT_OK(pthread_create(&t, &attr, nesting_thread, db));
    ASSERT_OK(pthread_join(t, NULL));
    pthread_attr_destroy(&attr);
    ASSERT_EQ_INT(nesting_result, 0); /* else: the line of nesting_body that failed */
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_bucket *b;
    ASSERT_RC(bolt_tx_bucket(tx, bolt_str("n"), &b), BOLT_NOTFOUND);
    bolt_tx_rollback(tx);
    bt_check(db); /* every page of the 2048 levels is free again */
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_end_frees_everything);
    RUN(test_failed_commit_frees);
    RUN(test_commit_returns_the_error);
    RUN(test_max_nesting_small_stack);
    return 0;
}
