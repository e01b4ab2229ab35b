/* test_batch_tx.c: backend/batch_tx.c (buffered writes, unlock, misuse). */
#include "backend_test.h"

static backend *open_b(const char *name, strata_manual_clock *clk)
{
    backend_options o = bk_opts(clk);
    backend *be = bk_open(name, &o);
    bk_bucket(be, "b");
    return be;
}

/* Readers see puts and deletes at unlock, before any commit. */
static void test_read_your_writes_before_commit(void)
{
    strata_manual_clock clk;
    backend *be = open_b("ryw.db", &clk);
    bk_put(be, "b", "a", "1");
    bk_put(be, "b", "c", "3");
    ASSERT_OK(backend_force_commit(be));
    uint64_t c0 = backend_commits(be);
    bk_put(be, "b", "b", "2");
    bk_put(be, "b", "c", "33");
    bk_del(be, "b", "a");
    ASSERT_EQ_U64(backend_commits(be), c0); /* nothing committed yet */
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "b=2 c=33 ");
    ASSERT_EQ_STR(bk_get(be, "b", "a", &s), "(none)"); /* buffered delete hidden */
    ASSERT_EQ_STR(bk_get(be, "b", "c", &s), "c=33 ");
    /* Same view after the commit (bolt now holds it). */
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "b=2 c=33 ");
    ASSERT_OK(backend_close(be));
}

/* Inside the lock, writes are not visible to readers until unlock. */
static void test_unlock_publishes(void)
{
    strata_manual_clock clk;
    backend *be = open_b("publish.db", &clk);
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("k"), bolt_str("v")));
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "b", "k", &s), "(none)");
    /* The batch itself sees its writes (bolt's write transaction). */
    s.len = 0;
    ASSERT_OK(backend_batch_tx_range(tx, bolt_str("b"), bolt_str("k"), (bolt_val){ NULL, 0 }, 0,
                                     bk_append, &s));
    ASSERT_EQ_STR(s.buf, "k=v ");
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_EQ_STR(bk_get(be, "b", "k", &s), "k=v ");
    ASSERT_OK(backend_close(be));
}

/* Ranges merge committed and buffered pairs in key order, limit included. */
static void test_range_merge_order_and_limit(void)
{
    strata_manual_clock clk;
    backend *be = open_b("merge.db", &clk);
    const char *committed[] = { "a", "c", "e", "g", "i" };
    for (int i = 0; i < 5; i++)
        bk_put(be, "b", committed[i], "old");
    ASSERT_OK(backend_force_commit(be));
    bk_put(be, "b", "b", "new");
    bk_put(be, "b", "c", "new");
    bk_del(be, "b", "e");
    bk_put(be, "b", "h", "new");
    bk_del(be, "b", "i");
    bk_put(be, "b", "j", "new");
    bk_del(be, "b", "zz"); /* a delete of nothing */
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "a=old b=new c=new g=old h=new j=new ");
    ASSERT_EQ_STR(bk_scan(be, "b", "b", "h", 0, &s), "b=new c=new g=old ");
    ASSERT_EQ_STR(bk_scan(be, "b", "c", "z", 3, &s), "c=new g=old h=new ");
    ASSERT_EQ_STR(bk_scan(be, "b", "d", "z", 2, &s), "g=old h=new "); /* e hidden, not counted */
    ASSERT_EQ_STR(bk_scan(be, "b", "k", "z", 0, &s), "");
    /* The batch transaction sees bolt's write transaction: the same. */
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    s.len = 0;
    ASSERT_OK(backend_batch_tx_range(tx, bolt_str("b"), bolt_str("b"), bolt_str("h"), 2, bk_append,
                                     &s));
    ASSERT_EQ_STR(s.buf, "b=new c=new ");
    s.len = 0;
    ASSERT_OK(backend_batch_tx_for_each(tx, bolt_str("b"), bk_append, &s));
    ASSERT_EQ_STR(s.buf, "a=old b=new c=new g=old h=new j=new ");
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_close(be));
}

/* A reader keeps the view it began with across writes and commits. */
static void test_reader_isolation(void)
{
    strata_manual_clock clk;
    backend *be = open_b("iso.db", &clk);
    bk_put(be, "b", "a", "1");
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    bk_put(be, "b", "a", "2");
    bk_put(be, "b", "b", "2");
    ASSERT_OK(backend_force_commit(be));
    bk_del(be, "b", "a");
    ASSERT_OK(backend_force_commit(be));
    bk_str s = { .len = 0 };
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("b"), bk_append, &s));
    ASSERT_EQ_STR(s.buf, "a=1 ");
    backend_read_tx_end(rt);
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "b=2 ");
    ASSERT_OK(backend_close(be));
}

/* seq_put appends; buckets show at once; bucket deletion. */
static void test_seq_put_and_buckets(void)
{
    strata_manual_clock clk;
    backend *be = open_b("seq.db", &clk);
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("key")));
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("key"))); /* exists: fine */
    for (int i = 0; i < 3000; i++) {
        char k[32];
        snprintf(k, sizeof k, "%08d", i);
        ASSERT_OK(backend_batch_tx_seq_put(tx, bolt_str("key"), bolt_str(k), bolt_str("value")));
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "key", "00002998", "99", 0, &s), "00002998=value 00002999=value ");
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_delete_bucket(tx, bolt_str("key")));
    ASSERT_RC(backend_batch_tx_delete_bucket(tx, bolt_str("key")), BACKEND_EBUCKETNOTFOUND);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_RC(backend_read_tx_for_each(rt, bolt_str("key"), bk_append, &s),
              BACKEND_EBUCKETNOTFOUND);
    backend_read_tx_end(rt);
    ASSERT_OK(backend_close(be));
}

/* Bad inputs: missing bucket, no lock, empty key, a bucket name as a key. */
static void test_bad_inputs(void)
{
    strata_manual_clock clk;
    backend *be = open_b("bad.db", &clk);
    backend_batch_tx *tx = backend_batch(be);
    bolt_val none = { NULL, 0 };
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("k"), bolt_str("v")),
              BACKEND_ENOTLOCKED);
    ASSERT_RC(backend_batch_tx_unlock(tx), BACKEND_ENOTLOCKED);
    backend_batch_tx_lock(tx);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("nope"), bolt_str("k"), bolt_str("v")),
              BACKEND_EBUCKETNOTFOUND);
    ASSERT_RC(backend_batch_tx_seq_put(tx, bolt_str("nope"), bolt_str("k"), bolt_str("v")),
              BACKEND_EBUCKETNOTFOUND);
    ASSERT_RC(backend_batch_tx_delete(tx, bolt_str("nope"), bolt_str("k")),
              BACKEND_EBUCKETNOTFOUND);
    ASSERT_RC(backend_batch_tx_range(tx, bolt_str("nope"), bolt_str("k"), none, 0, bk_append, NULL),
              BACKEND_EBUCKETNOTFOUND);
    ASSERT_RC(backend_batch_tx_for_each(tx, bolt_str("nope"), bk_append, NULL),
              BACKEND_EBUCKETNOTFOUND);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(""), bolt_str("v")),
              BOLT_EKEYREQUIRED);
    ASSERT_RC(backend_batch_tx_delete(tx, bolt_str("b"), bolt_str("")), BOLT_EKEYREQUIRED);
    ASSERT_RC(backend_batch_tx_create_bucket(tx, bolt_str("")), BOLT_EBUCKETNAMEREQUIRED);
    static char big[40000];
    memset(big, 'x', sizeof big);
    ASSERT_RC(backend_batch_tx_put(tx, bolt_str("b"), (bolt_val){ big, sizeof big }, bolt_str("v")),
              BOLT_EKEYTOOLARGE);
    ASSERT_EQ_U64(backend_pending(be), 0); /* refused writes leave no trace */
    ASSERT_OK(backend_batch_tx_unlock(tx));
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_RC(backend_read_tx_range(rt, bolt_str("nope"), bolt_str("k"), none, 0, bk_append, NULL),
              BACKEND_EBUCKETNOTFOUND);
    backend_read_tx_end(rt);
    backend_read_tx_end(NULL);
    ASSERT_OK(backend_close(be));
}

/* backend_batch_tx_reserve: a hint only (no pending write), refused without the lock. */
static void test_reserve(void)
{
    strata_manual_clock clk;
    backend *be = open_b("reserve.db", &clk);
    backend_batch_tx *tx = backend_batch(be);
    ASSERT_RC(backend_batch_tx_reserve(tx, bolt_str("b"), 10, 100), BACKEND_ENOTLOCKED);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_reserve(tx, bolt_str("b"), 5000, 5000 * 12));
    ASSERT_EQ_U64(backend_pending(be), 0);
    for (int i = 0; i < 5000; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "k%05d", i);
        snprintf(v, sizeof v, "v%d", i);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str(v)));
    }
    /* More than reserved is fine: the buffers grow as usual. */
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("z"), bolt_str("last")));
    ASSERT_EQ_U64(backend_pending(be), 5001);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "b", "k00000", &s), "k00000=v0 ");
    ASSERT_EQ_STR(bk_get(be, "b", "k04999", &s), "k04999=v4999 ");
    ASSERT_EQ_STR(bk_get(be, "b", "z", &s), "z=last ");
    ASSERT_OK(backend_force_commit(be));
    ASSERT_EQ_STR(bk_get(be, "b", "k02500", &s), "k02500=v2500 ");
    ASSERT_OK(backend_close(be));
}

/* A visitor's non-zero status stops the range and is returned. */
static int stop_at_second(void *arg, bolt_val key, bolt_val value)
{
    return ++*(int *)arg == 2 ? 42 : 0;
}

static void test_visitor_stops(void)
{
    strata_manual_clock clk;
    backend *be = open_b("stop.db", &clk);
    bk_put(be, "b", "a", "1");
    ASSERT_OK(backend_force_commit(be));
    bk_put(be, "b", "b", "2");
    bk_put(be, "b", "c", "3");
    int n = 0;
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_RC(backend_read_tx_for_each(rt, bolt_str("b"), stop_at_second, &n), 42);
    ASSERT_EQ_INT(n, 2);
    backend_read_tx_end(rt);
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_read_your_writes_before_commit);
    RUN(test_unlock_publishes);
    RUN(test_range_merge_order_and_limit);
    RUN(test_reader_isolation);
    RUN(test_seq_put_and_buckets);
    RUN(test_bad_inputs);
    RUN(test_visitor_stops);
    RUN(test_reserve);
    return 0;
}
