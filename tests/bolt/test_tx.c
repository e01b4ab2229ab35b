/*
 * test_tx.c: bolt/tx.c: rollback leaves no trace (the next writer reuses
 * the txid), an empty commit still writes a new meta and moves the freelist
 * (as bbolt's empty_tx.db), managed transactions propagate errors, and
 * misuse of ended or read-only transactions is refused.
 */
#include "bolt_test.h"

#include <errno.h>

#include "bolt/bolt_int.h"

static bolt_db *open_db(const char *name)
{
    char p[8192];
    harness_path(p, sizeof p, name);
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    return db;
}

static void test_rollback_reuses_txid(void)
{
    bolt_db *db = open_db("rb.db");
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_EQ_U64(bolt_tx_id(tx), 2);
    ASSERT_TRUE(bolt_tx_writable(tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("gone"), NULL));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_EQ_U64(bolt_tx_id(tx), 2);
    bolt_bucket *b;
    ASSERT_RC(bolt_tx_bucket(tx, bolt_str("gone"), &b), BOLT_NOTFOUND);
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_EQ_U64(bolt_tx_id(tx), 2);
    bolt_tx_rollback(tx);
    bolt_tx_rollback(NULL);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_empty_commit_moves_freelist(void)
{
    char p[8192];
    harness_path(p, sizeof p, "empty.db");
    bolt_db *db = open_db("empty.db");
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(bolt_close(db));
    size_t len;
    unsigned char *img = bt_read_file(p, &len);
    bolt__meta m;
    ASSERT_OK(bolt__meta_decode(img, len, &m)); /* txid 2 lives on page 0 */
    ASSERT_EQ_U64(m.txid, 2);
    ASSERT_EQ_U64(m.freelist, 4);
    ASSERT_EQ_U64(m.pgid, 5);
    ASSERT_EQ_U64(m.root, 3);
    /* The new freelist lists page 2, the old run. */
    const unsigned char *fl = img + 4 * 4096;
    ASSERT_EQ_INT(bolt__ld16(fl + 8), 0x10);
    ASSERT_EQ_INT(bolt__ld16(fl + 10), 1);
    ASSERT_EQ_U64(bolt__ld64(fl + 16), 2);
    free(img);
}

static int fail_after_put(bolt_tx *tx, void *arg)
{
    (void)arg;
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    return -EINVAL;
}

static int read_fn(bolt_tx *tx, void *arg)
{
    int *seen = arg;
    bolt_bucket *b;
    *seen = bolt_tx_bucket(tx, bolt_str("b"), &b);
    ASSERT_FALSE(bolt_tx_writable(tx));
    return 7;
}

static void test_managed_transactions(void)
{
    bolt_db *db = open_db("managed.db");
    ASSERT_RC(bolt_update(db, fail_after_put, NULL), -EINVAL);
    int seen = 0;
    ASSERT_EQ_INT(bolt_view(db, read_fn, &seen), 7);
    ASSERT_RC(seen, BOLT_NOTFOUND); /* the failed update was rolled back */
    ASSERT_OK(bolt_close(db));
}

static void test_misuse(void)
{
    bolt_db *db = open_db("misuse.db");
    bolt_tx *tx;
    ASSERT_RC(bolt_tx_begin(NULL, 0, &tx), BOLT_EDATABASENOTOPEN);
    ASSERT_NULL(tx);
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_EQ_U64(bolt_tx_size(tx), 4 * 4096);
    ASSERT_EQ_STR(bolt__tx_state_str(tx),
                  "tx 1 read ACTIVE root=3 freelist=2 pgid=4 dirty=0 generation=0");
    ASSERT_RC(bolt_tx_commit(tx), BOLT_ETXNOTWRITABLE); /* and rolled back */
    ASSERT_OK(bolt_close(db));                          /* so nothing is open any more */
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_rollback_reuses_txid);
    RUN(test_empty_commit_moves_freelist);
    RUN(test_managed_transactions);
    RUN(test_misuse);
    return 0;
}
