/*
 * test_reuse.c: page reuse with readers open (docs/design.md: pages freed by a
 * write are reused once no reader can see them; bbolt's releaseRange makes
 * pages written and freed between two open readers reusable at once).
 *
 * A reader is pinned at txid T while 1,000 commits rewrite the same keys.
 * Without reuse between readers, every commit would leave its freed pages
 * pending behind the reader and the file would grow by about 3 pages a
 * commit (3,000 in all). With it, the growth is bounded: the pinned
 * reader keeps T's pages (at most the high-water mark at T), the current
 * tree may by then consist of new pages only (as many again), and one or
 * two commits' worth of pages are in flight; so the stated bound is
 * 2 x (high-water mark at T) + 32 pages.
 */
#include "bolt_test.h"

#define COMMITS 1000
#define KEYS    2000

static void rewrite(bolt_db *db, int round)
{
    bolt_tx *tx;
    bolt_bucket *b;
    char key[32], val[64];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b));
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k%06d", (round * 7 + i * 499) % KEYS);
        snprintf(val, sizeof val, "round %d", round);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(key), bolt_str(val)));
    }
    ASSERT_OK(bolt_tx_commit(tx));
}

static uint64_t hwm_pages(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t pages = bolt_tx_size(tx) / bolt_db_page_size(db);
    bolt_tx_rollback(tx);
    return pages;
}

static void run(bool hashmap)
{
    char path[4096];
    harness_path(path, sizeof path, hashmap ? "reuse-hashmap.db" : "reuse-array.db");
    bolt_options o = bt_opts();
    o.freelist_type = hashmap ? BOLT_FREELIST_HASHMAP : BOLT_FREELIST_ARRAY;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    bolt_bucket *b;
    char key[32];
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "k%06d", i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(key), bolt_str("initial value")));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    rewrite(db, 0);

    bolt_tx *pinned;
    ASSERT_OK(bolt_tx_begin(db, 0, &pinned)); /* txid T, held to the end */
    uint64_t at_pin = hwm_pages(db);
    for (int round = 1; round <= COMMITS; round++)
        rewrite(db, round);
    uint64_t grown = hwm_pages(db) - at_pin;
    printf("figure: page reuse (%s freelist): a reader pinned at T, %d commits: file grew %llu "
           "pages (high-water mark %llu at T)\n",
           hashmap ? "hashmap" : "array", COMMITS, (unsigned long long)grown,
           (unsigned long long)at_pin);
    ASSERT_LE_U64(grown, 2 * at_pin + 32);

    /* The pinned reader's view never changed. */
    ASSERT_OK(bolt_tx_bucket(pinned, bolt_str("b"), &b));
    bolt_val v;
    ASSERT_OK(bolt_bucket_get(b, bolt_str("k000000"), &v));
    ASSERT_EQ_MEM(v.data, v.size, "round 0", 7);
    bolt_tx_rollback(pinned);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_reuse_with_a_pinned_reader_array(void)
{
    run(false);
}

static void test_reuse_with_a_pinned_reader_hashmap(void)
{
    run(true);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_reuse_with_a_pinned_reader_array);
    RUN(test_reuse_with_a_pinned_reader_hashmap);
    return 0;
}
