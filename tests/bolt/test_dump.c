/*
 * test_dump.c: bolt/dump.c, the canonical `bolt-dump v1` text: record order
 * (a bucket line at its key position, then its contents), hex paths joined
 * by '/', "-" for empty strings and for root-level plain keys, sha256 fields
 * above max_hex (0 = never), sequences as unsigned decimals, and the totals.
 */
#include "bolt_test.h"

static int build(bolt_tx *tx, void *arg)
{
    (void)arg;
    bolt_bucket *root = bolt_tx_root(tx), *a, *ab, *z;
    ASSERT_OK(bolt_bucket_create(root, bolt_str("a"), &a));
    ASSERT_OK(bolt_bucket_put(a, bolt_str("k1"), bolt_str("")));
    ASSERT_OK(bolt_bucket_put(a, bolt_str("k3"), bolt_str("abc")));
    ASSERT_OK(bolt_bucket_create(a, bolt_str("k2"), &ab));
    ASSERT_OK(bolt_bucket_set_sequence(ab, 18446744073709551615ull));
    ASSERT_OK(bolt_bucket_put(ab, (bolt_val){ "\x00\xff", 2 }, bolt_str("v")));
    ASSERT_OK(bolt_bucket_create(root, bolt_str("z"), &z));
    /* A plain key in the root bucket (legal, unusual): PATH "-". */
    ASSERT_OK(bolt_bucket_put(root, bolt_str("m"), bolt_str("x")));
    return 0;
}

static char *dump_str(bolt_db *db, uint64_t max_hex)
{
    return bt_dump(db, max_hex);
}

static void test_dump_grammar(void)
{
    char p[8192];
    harness_path(p, sizeof p, "dump.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    ASSERT_OK(bolt_update(db, build, NULL));
    char *d = dump_str(db, 0);
    ASSERT_EQ_STR(d, "bolt-dump v1\n"
                     "bucket 61 seq=0\n"
                     "key 61 6b31 -\n"
                     "bucket 61/6b32 seq=18446744073709551615\n"
                     "key 61/6b32 00ff 76\n"
                     "key 61 6b33 616263\n"
                     "key - 6d 78\n"
                     "bucket 7a seq=0\n"
                     "end buckets=3 keys=4\n");
    free(d);
    /* max_hex 2: "abc" (3 bytes) is hashed, 2-byte strings are not. */
    d = dump_str(db, 2);
    ASSERT_TRUE(strstr(d, "key 61 6b33 sha256:3:"
                          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n") !=
                NULL);
    ASSERT_TRUE(strstr(d, "key 61/6b32 00ff 76\n") != NULL);
    free(d);
    ASSERT_OK(bolt_close(db));
}

/* The dump of a write transaction shows its uncommitted state. */
static void test_dump_of_write_tx(void)
{
    char p[8192];
    harness_path(p, sizeof p, "dumpw.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(p, &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_put(b, bolt_str("k"), bolt_str("v")));
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    ASSERT_OK(bolt_tx_dump(tx, f, BOLT_DUMP_MAX_HEX));
    fclose(f);
    ASSERT_EQ_STR(s, "bolt-dump v1\nbucket 62 seq=0\nkey 62 6b 76\nend buckets=1 keys=1\n");
    free(s);
    bolt_tx_rollback(tx);
    char *d = dump_str(db, 0);
    ASSERT_EQ_STR(d, "bolt-dump v1\nend buckets=0 keys=0\n");
    free(d);
    ASSERT_OK(bolt_close(db));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_dump_grammar);
    RUN(test_dump_of_write_tx);
    return 0;
}
