/*
 * test_read_park.c: parked read transactions (bolt/tx.c rule 8).
 *
 *   1. A read transaction that ends on the current meta is reused by the
 *      next read begin (the same handle comes back), sees the same data,
 *      counts as no open transaction, and close frees it.
 *   2. A commit drops them: a reader parked while a write transaction was
 *      open (meta unchanged) is not handed out after the commit, so the
 *      next reader sees the commit. A write begin drops them too, so the
 *      pages the commit before it freed are reused by the next write.
 *   3. At most IDLE_MAX (8) are kept; a reader with an open cursor or
 *      bucket handles of several buckets parks with them and reopens the
 *      cached handles.
 *   4. Live opens never park (every live read refreshes the metas).
 */
#include "bolt_test.h"

static bolt_db *open_db(const char *name)
{
    bolt_options o = bt_opts();
    char path[4096];
    bolt_db *db;
    ASSERT_OK(bolt_open(harness_path(path, sizeof path, name), &o, &db));
    return db;
}

static void put(bolt_db *db, const char *bucket, const char *key, const char *value)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str(bucket), &b));
    ASSERT_OK(bolt_bucket_put(b, bolt_str(key), bolt_str(value)));
    ASSERT_OK(bolt_tx_commit(tx));
}

/* The value of key in bucket as a new read transaction sees it; *used = the handle. */
static void expect(bolt_db *db, const char *bucket, const char *key, const char *want,
                   bolt_tx **used)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str(bucket), &b));
    bolt_val v;
    ASSERT_OK(bolt_bucket_get(b, bolt_str(key), &v));
    ASSERT_EQ_MEM(v.data, v.size, want, strlen(want));
    if (used != NULL)
        *used = tx;
    bolt_tx_rollback(tx);
}

static uint64_t open_tx(bolt_db *db)
{
    bolt_db_stats st;
    bolt_db_stats_get(db, &st);
    return st.open_tx_n;
}

static void test_reused_and_closed(void)
{
    bolt_db *db = open_db("park1.db");
    put(db, "a", "k", "v1");
    bolt_tx *first, *second;
    expect(db, "a", "k", "v1", &first);
    ASSERT_EQ_U64(open_tx(db), 0); /* parked, not open */
    expect(db, "a", "k", "v1", &second);
    ASSERT_EQ_PTR(second, first); /* the parked one came back */
    bolt_db_stats st;
    bolt_db_stats_get(db, &st);
    ASSERT_EQ_U64(st.tx_n, 2); /* both begins counted */
    ASSERT_OK(bolt_close(db)); /* not BOLT_ETXACTIVE; ASan: nothing leaks */
}

static void test_commit_and_write_begin_drop(void)
{
    bolt_db *db = open_db("park2.db");
    put(db, "a", "k", "v1");
    bolt_tx *w;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &w));
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(w, bolt_str("a"), &b));
    ASSERT_OK(bolt_bucket_put(b, bolt_str("k"), bolt_str("v2")));
    /* A reader while the write is open: the meta is unchanged, so it parks. */
    bolt_tx *parked;
    expect(db, "a", "k", "v1", &parked);
    ASSERT_OK(bolt_tx_commit(w));
    /* The commit dropped it: the next reader sees v2. */
    expect(db, "a", "k", "v2", NULL);

    /* A write begin drops them too: freed pages are reused at once. */
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%04d", i);
        put(db, "b", key, "a value long enough to fill a few pages of the bucket b");
    }
    bolt_tx *r;
    ASSERT_OK(bolt_tx_begin(db, 0, &r));
    uint64_t size = bolt_tx_size(r);
    bolt_tx_rollback(r);
    for (int round = 0; round < 20; round++) {
        expect(db, "b", "k0001", "a value long enough to fill a few pages of the bucket b", NULL);
        put(db, "b", "k0001", "a value long enough to fill a few pages of the bucket b");
    }
    ASSERT_OK(bolt_tx_begin(db, 0, &r));
    /* Each commit rewrites the same few pages; with parked readers holding
     * back the frees, the file would grow by them at every commit. */
    ASSERT_LE_U64(bolt_tx_size(r), size + 2 * 4096); /* 0 here; 4 pages more without the drop */
    bolt_tx_rollback(r);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_bounded_and_handles(void)
{
    bolt_db *db = open_db("park3.db");
    put(db, "a", "k", "va");
    put(db, "b", "k", "vb");
    bolt_tx *tx[12];
    for (int i = 0; i < 12; i++)
        ASSERT_OK(bolt_tx_begin(db, 0, &tx[i]));
    ASSERT_EQ_U64(open_tx(db), 12);
    for (int i = 0; i < 12; i++) {
        bolt_bucket *a, *b;
        ASSERT_OK(bolt_tx_bucket(tx[i], bolt_str("a"), &a));
        ASSERT_OK(bolt_tx_bucket(tx[i], bolt_str("b"), &b));
        bolt_cursor *c;
        ASSERT_OK(bolt_cursor_open(b, &c)); /* left open: the end frees it */
        bolt_val k, v;
        ASSERT_OK(bolt_cursor_first(c, &k, &v));
        bolt_tx_rollback(tx[i]);
    }
    ASSERT_EQ_U64(open_tx(db), 0);
    /* Eight come back (IDLE_MAX), each with its handles; then new ones. */
    bolt_tx *again[12];
    int reused = 0;
    for (int i = 0; i < 12; i++) {
        ASSERT_OK(bolt_tx_begin(db, 0, &again[i]));
        for (int j = 0; j < 8; j++) /* tx[0..7] parked (and live); tx[8..11] were freed */
            reused += again[i] == tx[j];
        bolt_bucket *a, *b, *a2;
        ASSERT_OK(bolt_tx_bucket(again[i], bolt_str("a"), &a));
        ASSERT_OK(bolt_tx_bucket(again[i], bolt_str("b"), &b));
        ASSERT_OK(bolt_tx_bucket(again[i], bolt_str("a"), &a2));
        ASSERT_EQ_PTR(a2, a);
        bolt_val v;
        ASSERT_OK(bolt_bucket_get(a, bolt_str("k"), &v));
        ASSERT_EQ_MEM(v.data, v.size, "va", 2);
        ASSERT_OK(bolt_bucket_get(b, bolt_str("k"), &v));
        ASSERT_EQ_MEM(v.data, v.size, "vb", 2);
    }
    ASSERT_EQ_INT(reused, 8);
    for (int i = 0; i < 12; i++)
        bolt_tx_rollback(again[i]);
    ASSERT_OK(bolt_close(db));
}

static void test_live_never_parks(void)
{
    bolt_db *w = open_db("park4.db");
    put(w, "a", "k", "v1");
    bolt_options o = bt_opts();
    o.read_only = true;
    o.live = true;
    char path[4096];
    bolt_db *live;
    ASSERT_OK(bolt_open(harness_path(path, sizeof path, "park4.db"), &o, &live));
    expect(live, "a", "k", "v1", NULL);
    put(w, "a", "k", "v2"); /* another writer: a parked live reader would miss it */
    expect(live, "a", "k", "v2", NULL);
    ASSERT_OK(bolt_close(live));
    ASSERT_OK(bolt_close(w));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_reused_and_closed);
    RUN(test_commit_and_write_begin_drop);
    RUN(test_bounded_and_handles);
    RUN(test_live_never_parks);
    return 0;
}
