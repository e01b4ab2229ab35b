/*
 * test_kvstore.c: mvcc/kvstore.c and kvstore_txn.c: open, revisions,
 * put/range/delete/txn with etcd's semantics (docs/schema.md §3.3, §3.4),
 * restore on reopen, the read-only open, the consistent index, and a
 * seeded random run against a reference model.
 */
#include "mvcc_test.h"

#include <pthread.h>

/* Revisions, versions and ranges as etcd gives them for a few puts and deletes. */
static void test_basic(void)
{
    mt_store m;
    mt_open(&m, "basic.db");
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 1);
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), -1);
    ASSERT_EQ_INT(mt_put(m.s, "foo", "bar"), 2);
    ASSERT_EQ_INT(mt_put(m.s, "foo", "baz"), 3);
    ASSERT_EQ_INT(mt_put(m.s, "zoo", "z"), 4);
    mt_text t;
    ASSERT_EQ_STR(mt_range(m.s, "foo", NULL, 0, &t), "rev=4 count=1 foo=baz@2/3/2/0");
    ASSERT_EQ_STR(mt_range(m.s, "foo", NULL, 2, &t), "rev=4 count=1 foo=bar@2/2/1/0");
    ASSERT_EQ_STR(mt_range(m.s, "foo", NULL, 1, &t), "rev=4 count=0");
    ASSERT_EQ_STR(mt_range(m.s, "a", "", 0, &t), "rev=4 count=2 foo=baz@2/3/2/0 zoo=z@4/4/1/0");
    ASSERT_EQ_STR(mt_range(m.s, "a", "g", 0, &t), "rev=4 count=1 foo=baz@2/3/2/0");
    ASSERT_EQ_STR(mt_range(m.s, "g", "a", 0, &t), "rev=4 count=0");
    ASSERT_EQ_STR(mt_range(m.s, "foo", NULL, 5, &t), "error=MVCC_EFUTUREREV rev=4 count=-1");
    /* delete: one revision for all keys, a miss makes none */
    ASSERT_EQ_INT(mt_del(m.s, "nope", NULL), 0);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 4);
    ASSERT_EQ_INT(mt_del(m.s, "a", ""), 2);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 5);
    ASSERT_EQ_STR(mt_range(m.s, "a", "", 0, &t), "rev=5 count=0");
    ASSERT_EQ_STR(mt_range(m.s, "a", "", 4, &t), "rev=5 count=2 foo=baz@2/3/2/0 zoo=z@4/4/1/0");
    /* a new generation after the delete */
    ASSERT_EQ_INT(mt_put(m.s, "foo", "again"), 6);
    ASSERT_EQ_STR(mt_range(m.s, "foo", NULL, 0, &t), "rev=6 count=1 foo=again@6/6/1/0");
    /* limit, count, keys only */
    mt_put(m.s, "k1", "1");
    mt_put(m.s, "k2", "2");
    mt_put(m.s, "k3", "3");
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options o = { .limit = 2 };
    ASSERT_OK(mvcc_store_range(m.s, "k", 1, "l", 1, &o, &r));
    ASSERT_EQ_STR(mt_render(&r, &t), "rev=9 count=3 k1=1@7/7/1/0 k2=2@8/8/1/0");
    o = (mvcc_range_options){ .count_only = true };
    ASSERT_OK(mvcc_store_range(m.s, "k", 1, "l", 1, &o, &r));
    ASSERT_EQ_STR(mt_render(&r, &t), "rev=9 count=3");
    o = (mvcc_range_options){ .keys_only = true, .rev = 8 };
    ASSERT_OK(mvcc_store_range(m.s, "k", 1, "l", 1, &o, &r));
    ASSERT_EQ_STR(mt_render(&r, &t), "rev=9 count=2 k1=@7/7/1/0 k2=@8/8/1/0");
    mvcc_range_result_release(&r);
    /* bad input */
    ASSERT_RC(mvcc_store_put(m.s, "", 0, "v", 1, 0, NULL), MVCC_EEMPTYKEY);
    ASSERT_RC(mvcc_store_put(m.s, NULL, 3, "v", 1, 0, NULL), STRATA_EMISUSE);
    ASSERT_RC(mvcc_store_put(m.s, "x", 1, "v", 1, 7, NULL), MVCC_ENOLESSOR);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 9);
    mt_close(&m);
}

/* Write transactions: sub-revisions, own writes visible, no change no revision. */
static void test_txn(void)
{
    mt_store m;
    mt_open(&m, "txn.db");
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_write_begin(m.s, &t));
    ASSERT_EQ_INT(mvcc_txn_rev(t), 1);
    int64_t rev, n;
    ASSERT_OK(mvcc_txn_put(t, "a", 1, "1", 1, 0, &rev));
    ASSERT_EQ_INT(rev, 2);
    ASSERT_OK(mvcc_txn_put(t, "a", 1, "2", 1, 0, &rev)); /* put-put: version + 2 */
    ASSERT_OK(mvcc_txn_put(t, "b", 1, "x", 1, 0, &rev));
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mt_text tx;
    ASSERT_OK(mvcc_txn_range(t, "a", 1, "", 0, NULL, &r));
    ASSERT_EQ_STR(mt_render(&r, &tx), "rev=2 count=2 a=2@2/2/2/0 b=x@2/2/1/0");
    ASSERT_OK(mvcc_txn_delete_range(t, "b", 1, NULL, 0, &n, &rev));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(rev, 2);
    ASSERT_OK(mvcc_txn_put(t, "b", 1, "y", 1, 0, &rev)); /* del-put: a new generation */
    ASSERT_OK(mvcc_txn_range(t, "b", 1, NULL, 0, NULL, &r));
    ASSERT_EQ_STR(mt_render(&r, &tx), "rev=2 count=1 b=y@2/2/1/0");
    ASSERT_EQ_U64(mvcc_txn_changes(t), 5);
    /* a reader meanwhile sees revision 1 */
    ASSERT_EQ_STR(mt_range(m.s, "a", "", 0, &tx), "rev=1 count=0");
    ASSERT_OK(mvcc_txn_end(t, &rev));
    ASSERT_EQ_INT(rev, 2);
    ASSERT_EQ_STR(mt_range(m.s, "a", "", 0, &tx), "rev=2 count=2 a=2@2/2/2/0 b=y@2/2/1/0");
    /* only misses: no revision, the delete reports the begin revision */
    ASSERT_OK(mvcc_txn_write_begin(m.s, &t));
    ASSERT_OK(mvcc_txn_delete_range(t, "zz", 2, NULL, 0, &n, &rev));
    ASSERT_EQ_INT(n, 0);
    ASSERT_EQ_INT(rev, 2);
    ASSERT_OK(mvcc_txn_end(t, &rev));
    ASSERT_EQ_INT(rev, 2);
    /* a read transaction refuses writes */
    ASSERT_OK(mvcc_txn_read_begin(m.s, &t));
    ASSERT_RC(mvcc_txn_put(t, "a", 1, "1", 1, 0, NULL), MVCC_EREADONLY);
    ASSERT_RC(mvcc_txn_delete_range(t, "a", 1, NULL, 0, NULL, NULL), MVCC_EREADONLY);
    ASSERT_OK(mvcc_txn_end(t, NULL));
    mvcc_range_result_release(&r);
    mt_close(&m);
}

/* A read transaction keeps its revision and its data while writes go on. */
static void test_read_isolation(void)
{
    mt_store m;
    mt_open(&m, "iso.db");
    mt_put(m.s, "k", "v1");
    mvcc_txn *rt;
    ASSERT_OK(mvcc_txn_read_begin(m.s, &rt));
    mt_put(m.s, "k", "v2");
    mt_del(m.s, "k", NULL);
    ASSERT_OK(backend_force_commit(m.be));
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mt_text t;
    ASSERT_OK(mvcc_txn_range(rt, "k", 1, NULL, 0, NULL, &r));
    ASSERT_EQ_STR(mt_render(&r, &t), "rev=2 count=1 k=v1@2/2/1/0");
    mvcc_range_options o = { .rev = 3 };
    ASSERT_RC(mvcc_txn_range(rt, "k", 1, NULL, 0, &o, &r), MVCC_EFUTUREREV);
    ASSERT_EQ_INT(r.rev, 2);
    ASSERT_EQ_INT(r.count, -1);
    ASSERT_OK(mvcc_txn_end(rt, NULL));
    mvcc_range_result_release(&r);
    mt_close(&m);
}

/* Restore gives back every revision, version and the revisions counters. */
static void test_restore_reopen(void)
{
    mt_store m;
    mt_open(&m, "reopen.db");
    mt_put(m.s, "a", "1");
    mt_put(m.s, "a", "2");
    mt_put(m.s, "b", "1");
    mt_del(m.s, "a", NULL);
    mt_put(m.s, "a", "3");
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_write_begin(m.s, &t));
    ASSERT_OK(mvcc_txn_put(t, "c", 1, "1", 1, 0, NULL));
    ASSERT_OK(mvcc_txn_put(t, "c", 1, "2", 1, 0, NULL));
    ASSERT_OK(mvcc_txn_delete_range(t, "b", 1, NULL, 0, NULL, NULL));
    ASSERT_OK(mvcc_txn_end(t, NULL));
    mt_del(m.s, "zz", NULL);
    char before[8][512];
    mt_text tx;
    for (int64_t r = 1; r <= 7; r++)
        snprintf(before[r], sizeof before[r], "%s", mt_range(m.s, "", "", r, &tx));
    mt_reopen(&m);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 7);
    for (int64_t r = 1; r <= 7; r++)
        ASSERT_EQ_STR(mt_range(m.s, "", "", r, &tx), before[r]);
    ASSERT_EQ_INT(mt_put(m.s, "c", "3"), 8);
    ASSERT_EQ_STR(mt_range(m.s, "c", NULL, 0, &tx), "rev=8 count=1 c=3@7/8/3/0");
    mt_close(&m);
}

/* Read-only: nothing created or written; writes refused; reads work. */
static void test_read_only(void)
{
    mt_store m;
    mt_open(&m, "ro.db");
    mt_put(m.s, "a", "1");
    mt_put(m.s, "b", "2");
    mt_close(&m);
    mt_store r;
    mt_opts(&r);
    r.bo.read_only = true;
    r.mo.read_only = true;
    mt_open_with(&r, "ro.db");
    uint64_t commits = backend_commits(r.be);
    mt_text t;
    ASSERT_EQ_STR(mt_range(r.s, "", "", 0, &t), "rev=3 count=2 a=1@2/2/1/0 b=2@3/3/1/0");
    ASSERT_RC(mvcc_store_put(r.s, "c", 1, "3", 1, 0, NULL), MVCC_EREADONLY);
    ASSERT_RC(mvcc_store_compact(r.s, 2), MVCC_EREADONLY);
    ASSERT_RC(mvcc_store_set_consistent_index(r.s, 5), MVCC_EREADONLY);
    ASSERT_EQ_U64(backend_commits(r.be), commits);
    mt_close(&r);
    /* A read-only store over a writable backend without buckets creates none. */
    mt_opts(&r);
    r.mo.read_only = true;
    harness_path(r.path, sizeof r.path, "empty.db");
    ASSERT_OK(backend_open(r.path, &r.bo, &r.be));
    ASSERT_OK(mvcc_store_open(r.be, &r.mo, &r.s));
    ASSERT_EQ_INT(mvcc_store_rev(r.s), 1);
    ASSERT_EQ_STR(mt_range(r.s, "", "", 0, &t), "rev=1 count=0");
    ASSERT_EQ_U64(backend_pending(r.be), 0);
    mt_close(&r);
    /* Without opt.read_only over a read-only backend: refused. */
    mt_opts(&r);
    r.bo.read_only = true;
    harness_path(r.path, sizeof r.path, "ro.db");
    ASSERT_OK(backend_open(r.path, &r.bo, &r.be));
    char why[256] = "";
    r.mo.errbuf = why;
    r.mo.errbuf_size = sizeof why;
    ASSERT_RC(mvcc_store_open(r.be, &r.mo, &r.s), BOLT_EDATABASEREADONLY);
    ASSERT_TRUE(strstr(why, "creating") != NULL);
    ASSERT_OK(backend_close(r.be));
}

static int count_fn(void *arg, bolt_val k, bolt_val v)
{
    (void)k;
    (void)v;
    (*(int *)arg)++;
    return 0;
}

static bool has_ci(backend *be)
{
    backend_read_tx *rtx;
    ASSERT_OK(backend_read_tx_begin(be, &rtx));
    int n = 0;
    ASSERT_OK(backend_read_tx_range(rtx, bolt_str("meta"), bolt_str("consistent_index"),
                                    (bolt_val){ NULL, 0 }, 1, count_fn, &n));
    backend_read_tx_end(rtx);
    return n == 1;
}

/* The consistent index goes to meta with the commit, only once set. */
static void test_consistent_index(void)
{
    mt_store m;
    mt_open(&m, "ci.db");
    mt_put(m.s, "a", "1");
    ASSERT_OK(mvcc_store_commit(m.s));
    ASSERT_EQ_U64(mvcc_store_consistent_index(m.s), 0);
    ASSERT_FALSE(has_ci(m.be));
    uint32_t h0;
    ASSERT_OK(mvcc_store_hash(m.s, &h0, NULL));
    ASSERT_OK(mvcc_store_set_consistent_index(m.s, 515));
    mt_put(m.s, "b", "1");
    mt_reopen(&m);
    ASSERT_EQ_U64(mvcc_store_consistent_index(m.s), 515);
    /* Hash ignores it: the same file with another index hashes the same. */
    uint32_t h1, h2;
    ASSERT_OK(mvcc_store_hash(m.s, &h1, NULL));
    ASSERT_OK(mvcc_store_set_consistent_index(m.s, 9000));
    ASSERT_OK(mvcc_store_commit(m.s));
    ASSERT_OK(mvcc_store_hash(m.s, &h2, NULL));
    ASSERT_EQ_U64(h1, h2);
    mt_reopen(&m);
    ASSERT_EQ_U64(mvcc_store_consistent_index(m.s), 9000);
    mt_close(&m);
}

/* Random puts/deletes/txns against the model, with reopens. */
static void test_random_model(void)
{
    uint64_t seed = harness_seed();
    mt_store m;
    mt_open(&m, "random.db");
    mt_model md;
    mt_model_init(&md);
    uint64_t x = seed;
    char key[16], val[32], end[16];
    mt_text a, b;
    for (int step = 0; step < 1500; step++) {
        x = strata_splitmix64(x);
        int op = (int)(x % 10);
        x = strata_splitmix64(x);
        snprintf(key, sizeof key, "k%02d", (int)(x % 24));
        if (op < 5) {
            snprintf(val, sizeof val, "v%d", step);
            int64_t rev = mt_put(m.s, key, val);
            mt_model_change(&md, md.rev + 1, 0, key, val);
            md.rev++;
            ASSERT_EQ_INT(rev, md.rev);
        } else if (op < 7) {
            x = strata_splitmix64(x);
            snprintf(end, sizeof end, "k%02d", (int)(x % 26));
            int64_t n = mt_del(m.s, key, end);
            int64_t sub = 0;
            for (int i = 0; i < 26; i++) {
                char k2[16];
                snprintf(k2, sizeof k2, "k%02d", i);
                if (strcmp(k2, key) >= 0 && strcmp(k2, end) < 0 && mt_model_alive(&md, k2, md.rev))
                    mt_model_change(&md, md.rev + 1, sub++, k2, NULL);
            }
            ASSERT_EQ_INT(n, sub);
            if (sub > 0)
                md.rev++;
        } else if (op < 8) {
            /* a txn: put, delete it, put two others */
            mvcc_txn *t;
            ASSERT_OK(mvcc_txn_write_begin(m.s, &t));
            int64_t sub = 0;
            snprintf(val, sizeof val, "t%d", step);
            ASSERT_OK(mvcc_txn_put(t, key, strlen(key), val, strlen(val), 0, NULL));
            mt_model_change(&md, md.rev + 1, sub++, key, val);
            ASSERT_OK(mvcc_txn_delete_range(t, key, strlen(key), NULL, 0, NULL, NULL));
            mt_model_change(&md, md.rev + 1, sub++, key, NULL);
            for (int i = 0; i < 2; i++) {
                x = strata_splitmix64(x);
                snprintf(key, sizeof key, "k%02d", (int)(x % 24));
                ASSERT_OK(mvcc_txn_put(t, key, strlen(key), val, strlen(val), 0, NULL));
                mt_model_change(&md, md.rev + 1, sub++, key, val);
            }
            ASSERT_OK(mvcc_txn_end(t, NULL));
            md.rev++;
        } else if (op < 9) {
            x = strata_splitmix64(x);
            int64_t rev = (int64_t)(x % (uint64_t)(md.rev + 2));
            ASSERT_EQ_STR(mt_range(m.s, "", "", rev, &a), mt_model_range(&md, "", "", rev, &b));
            ASSERT_EQ_STR(mt_range(m.s, key, NULL, rev, &a),
                          mt_model_range(&md, key, NULL, rev, &b));
        } else if (step % 7 == 0) {
            mt_reopen(&m);
        }
        ASSERT_EQ_INT(mvcc_store_rev(m.s), md.rev);
    }
    for (int64_t rev = 1; rev <= md.rev; rev += 7)
        ASSERT_EQ_STR(mt_range(m.s, "", "", rev, &a), mt_model_range(&md, "", "", rev, &b));
    mt_model_free(&md);
    mt_close(&m);
}

/*
 * One result filled again and again (its storage is reused up to 256 KiB,
 * a bigger one is given back): every answer is whole and only its own,
 * whatever the previous one held (a big range, a hit, a miss, an error).
 */
static void test_result_reuse(void)
{
    mt_store m;
    mt_open(&m, "reuse.db");
    char key[16], val[1024];
    memset(val, 'v', sizeof val);
    for (int i = 0; i < 600; i++) { /* 600 x 1 KiB: a result past 256 KiB */
        snprintf(key, sizeof key, "k%04d", i);
        val[0] = (char)('a' + i % 26);
        ASSERT_OK(mvcc_store_put(m.s, key, strlen(key), val, sizeof val, 0, NULL));
    }
    mt_put(m.s, "small", "s");
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mt_text t;
    for (int round = 0; round < 3; round++) {
        ASSERT_OK(mvcc_store_range(m.s, "k", 1, "l", 1, NULL, &r));
        ASSERT_EQ_INT(r.n, 600);
        ASSERT_EQ_INT(r.count, 600);
        for (size_t i = 0; i < r.n; i++) {
            snprintf(key, sizeof key, "k%04d", (int)i);
            ASSERT_EQ_INT(r.kvs[i].key_len, strlen(key));
            ASSERT_TRUE(memcmp(r.kvs[i].key, key, strlen(key)) == 0);
            ASSERT_EQ_INT(r.kvs[i].value_len, sizeof val);
            ASSERT_EQ_INT(r.kvs[i].value[0], 'a' + (int)i % 26);
            ASSERT_EQ_INT(r.kvs[i].value[sizeof val - 1], 'v');
        }
        ASSERT_OK(mvcc_store_range(m.s, "small", 5, NULL, 0, NULL, &r));
        ASSERT_EQ_STR(mt_render(&r, &t), "rev=602 count=1 small=s@602/602/1/0");
        ASSERT_OK(mvcc_store_range(m.s, "small", 5, NULL, 0, NULL, &r)); /* kept storage */
        ASSERT_EQ_STR(mt_render(&r, &t), "rev=602 count=1 small=s@602/602/1/0");
        ASSERT_OK(mvcc_store_range(m.s, "nope", 4, NULL, 0, NULL, &r));
        ASSERT_EQ_STR(mt_render(&r, &t), "rev=602 count=0");
        mvcc_range_options o = { .rev = 603 };
        ASSERT_RC(mvcc_store_range(m.s, "small", 5, NULL, 0, &o, &r), MVCC_EFUTUREREV);
        ASSERT_EQ_INT(r.n, 0);
        ASSERT_OK(mvcc_store_range(m.s, "k0007", 5, NULL, 0, NULL, &r));
        ASSERT_EQ_INT(r.n, 1);
        ASSERT_EQ_INT(r.kvs[0].value[0], 'a' + 7);
    }
    /* the same through a read transaction (zero copy into its view) */
    mvcc_txn *tx;
    ASSERT_OK(mvcc_txn_read_begin(m.s, &tx));
    ASSERT_OK(mvcc_txn_range(tx, "k", 1, "l", 1, NULL, &r));
    ASSERT_EQ_INT(r.n, 600);
    ASSERT_OK(mvcc_txn_range(tx, "small", 5, NULL, 0, NULL, &r));
    ASSERT_EQ_STR(mt_render(&r, &t), "rev=602 count=1 small=s@602/602/1/0");
    ASSERT_OK(mvcc_txn_end(tx, NULL));
    mvcc_range_result_release(&r);
    ASSERT_TRUE(r.kvs == NULL && r.n == 0);
    mt_close(&m);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_basic);
    RUN(test_result_reuse);
    RUN(test_txn);
    RUN(test_read_isolation);
    RUN(test_restore_reopen);
    RUN(test_read_only);
    RUN(test_consistent_index);
    RUN(test_random_model);
    return 0;
}
