/*
 * test_compaction.c: mvcc/compaction.c: etcd's acceptance rules, the
 * records left in the `key` bucket, the meta marks, time-bounded batches,
 * a compaction resumed after a crash between its marks (also on a
 * read-only open, which only reports it), and etcd issue 17780's corner.
 */
#include "mvcc_test.h"

#include "mvcc_int.h"
#include "revkey.h"

typedef struct listing {
    char buf[65536];
    size_t len;
} listing;

static int list_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)value;
    listing *l = arg;
    mvcc__revkey rk;
    ASSERT_OK(mvcc__revkey_decode(key.data, key.size, &rk));
    l->len +=
            (size_t)snprintf(l->buf + l->len, sizeof l->buf - l->len, "%s%" PRId64 "_%" PRId64 "%s",
                             l->len ? " " : "", rk.rev.main, rk.rev.sub, rk.tombstone ? "t" : "");
    return 0;
}

/* The `key` bucket's records as "2_0 3_0t ...". */
static const char *bucket(backend *be, listing *l)
{
    l->len = 0;
    l->buf[0] = '\0';
    backend_read_tx *rtx;
    ASSERT_OK(backend_read_tx_begin(be, &rtx));
    ASSERT_OK(backend_read_tx_for_each(rtx, bolt_str("key"), list_fn, l));
    backend_read_tx_end(rtx);
    return l->buf;
}

/* The records the model says a finished compaction at c leaves: newest put <= c per key, all > c.
 */
static const char *expected(const mt_model *md, int64_t c, listing *l)
{
    l->len = 0;
    l->buf[0] = '\0';
    for (size_t i = 0; i < md->n; i++) {
        const mt_change *ch = &md->c[i];
        if (ch->main <= c && (mt_model_at(md, ch->key, c) != ch || ch->value == NULL))
            continue;
        l->len += (size_t)snprintf(l->buf + l->len, sizeof l->buf - l->len,
                                   "%s%" PRId64 "_%" PRId64 "%s", l->len ? " " : "", ch->main,
                                   ch->sub, ch->value == NULL ? "t" : "");
    }
    return l->buf;
}

static int mark_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    mvcc__revkey rk;
    ASSERT_EQ_SIZE(value.size, 17);
    ASSERT_OK(mvcc__revkey_decode(value.data, value.size, &rk));
    *(int64_t *)arg = rk.rev.main;
    return 0;
}

/* meta/name's revision, -1 when absent. */
static int64_t meta_mark(backend *be, const char *name)
{
    backend_read_tx *rtx;
    ASSERT_OK(backend_read_tx_begin(be, &rtx));
    int64_t rev = -1;
    ASSERT_OK(backend_read_tx_range(rtx, bolt_str("meta"), bolt_str(name), (bolt_val){ NULL, 0 }, 1,
                                    mark_fn, &rev));
    backend_read_tx_end(rtx);
    return rev;
}

static void put_meta_mark(backend *be, const char *name, int64_t rev)
{
    uint8_t v[MVCC__REVKEY_TOMB_LEN];
    size_t n = mvcc__revkey_encode((idx_rev){ rev, 0 }, false, v);
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str("meta"), bolt_str(name), (bolt_val){ v, n }));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_force_commit(be));
}

static void compact(mt_store *m, int64_t rev)
{
    ASSERT_OK(mvcc_store_compact(m->s, rev));
    ASSERT_OK(mvcc_store_compact_wait(m->s));
    ASSERT_OK(mvcc_store_commit(m->s));
}

/* etcd's rules: <= compacted refused, > current refused, Compact(0) on a new store accepted. */
static void test_acceptance(void)
{
    mt_store m;
    mt_open(&m, "accept.db");
    ASSERT_RC(mvcc_store_compact(m.s, 2), MVCC_EFUTUREREV);
    compact(&m, 0);
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), 0);
    ASSERT_RC(mvcc_store_compact(m.s, 0), MVCC_ECOMPACTED);
    ASSERT_OK(mvcc_store_compact_wait(m.s));
    mt_put(m.s, "a", "1");
    mt_put(m.s, "a", "2");
    mt_put(m.s, "b", "1");
    compact(&m, 3);
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), 3);
    ASSERT_EQ_INT(mvcc_store_pending_compaction(m.s), 0);
    ASSERT_RC(mvcc_store_compact(m.s, 3), MVCC_ECOMPACTED);
    ASSERT_RC(mvcc_store_compact(m.s, 2), MVCC_ECOMPACTED);
    ASSERT_RC(mvcc_store_compact(m.s, 5), MVCC_EFUTUREREV);
    mt_text t;
    ASSERT_EQ_STR(mt_range(m.s, "a", NULL, 2, &t), "error=MVCC_ECOMPACTED rev=0 count=-1");
    ASSERT_EQ_STR(mt_range(m.s, "a", NULL, 3, &t), "rev=4 count=1 a=2@2/3/2/0");
    ASSERT_EQ_STR(mt_range(m.s, "", "", 0, &t), "rev=4 count=2 a=2@2/3/2/0 b=1@4/4/1/0");
    listing l;
    ASSERT_EQ_STR(bucket(m.be, &l), "3_0 4_0");
    ASSERT_EQ_INT(meta_mark(m.be, "scheduledCompactRev"), 3);
    ASSERT_EQ_INT(meta_mark(m.be, "finishedCompactRev"), 3);
    mt_reopen(&m);
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), 3);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 4);
    ASSERT_EQ_STR(mt_range(m.s, "", "", 3, &t), "rev=4 count=1 a=2@2/3/2/0");
    mt_close(&m);
}

/*
 * Compacting at a tombstone removes it; the revision survives a reopen
 * (docs/schema.md §7 step 3).
 */
static void test_tombstone_reopen(void)
{
    mt_store m;
    mt_open(&m, "tomb.db");
    mt_put(m.s, "a", "1");
    mt_del(m.s, "a", NULL);
    compact(&m, 3);
    listing l;
    ASSERT_EQ_STR(bucket(m.be, &l), "");
    mt_reopen(&m);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 3);
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), 3);
    ASSERT_EQ_INT(mt_put(m.s, "a", "2"), 4);
    mt_close(&m);
}

/* Random histories, compacted at random points in small, time-bounded batches. */
static void test_random_physical(void)
{
    uint64_t x = harness_seed();
    mt_store m;
    mt_opts(&m);
    m.mo.compaction_batch_limit = 3;
    m.mo.compaction_batch_max_ns = 1; /* every batch stops at its first time check */
    mt_open_with(&m, "phys.db");
    mt_model md;
    mt_model_init(&md);
    char key[16], val[16];
    listing got, want;
    for (int round = 0; round < 30; round++) {
        for (int i = 0; i < 60; i++) {
            x = strata_splitmix64(x);
            snprintf(key, sizeof key, "k%02d", (int)(x % 20));
            snprintf(val, sizeof val, "%d.%d", round, i);
            if (x % 5 == 0) {
                if (mt_del(m.s, key, NULL) > 0) {
                    mt_model_change(&md, md.rev + 1, 0, key, NULL);
                    md.rev++;
                }
            } else {
                mt_put(m.s, key, val);
                mt_model_change(&md, md.rev + 1, 0, key, val);
                md.rev++;
            }
        }
        x = strata_splitmix64(x);
        int64_t c = md.compact + 1 + (int64_t)(x % (uint64_t)(md.rev - md.compact));
        compact(&m, c);
        md.compact = c;
        ASSERT_EQ_STR(bucket(m.be, &got), expected(&md, c, &want));
        ASSERT_EQ_INT(meta_mark(m.be, "finishedCompactRev"), c);
        mt_text a, b;
        for (int64_t r = c; r <= md.rev; r += 5)
            ASSERT_EQ_STR(mt_range(m.s, "", "", r, &a), mt_model_range(&md, "", "", r, &b));
        if (round % 10 == 9)
            mt_reopen(&m);
    }
    mt_model_free(&md);
    mt_close(&m);
}

/*
 * A crash between the marks: scheduled written, deletion not done. The
 * next open refuses reads below it at once and resumes the deletion; a
 * read-only open only reports it and reads correctly at and above it.
 */
static void test_resume(void)
{
    mt_store m;
    mt_open(&m, "resume.db");
    mt_model md;
    mt_model_init(&md);
    for (int i = 0; i < 40; i++) {
        char k[8], v[8];
        snprintf(k, sizeof k, "k%d", i % 7);
        snprintf(v, sizeof v, "%d", i);
        mt_put(m.s, k, v);
        mt_model_change(&md, md.rev + 1, 0, k, v);
        md.rev++;
    }
    mt_close(&m);
    /* The state etcd leaves when it dies right after updateCompactRev's commit. */
    backend *be;
    ASSERT_OK(backend_open(m.path, &m.bo, &be));
    put_meta_mark(be, "scheduledCompactRev", 30);
    ASSERT_OK(backend_close(be));

    mt_store r;
    mt_opts(&r);
    r.bo.read_only = true;
    r.mo.read_only = true;
    mt_open_with(&r, "resume.db");
    ASSERT_EQ_INT(mvcc_store_pending_compaction(r.s), 30);
    ASSERT_EQ_INT(mvcc_store_compact_rev(r.s), 30);
    mt_text a, b;
    ASSERT_EQ_STR(mt_range(r.s, "", "", 29, &a), "error=MVCC_ECOMPACTED rev=0 count=-1");
    md.compact = 30;
    ASSERT_EQ_STR(mt_range(r.s, "", "", 30, &a), mt_model_range(&md, "", "", 30, &b));
    listing l, w;
    size_t before = strlen(bucket(r.be, &l));
    mt_close(&r);

    mt_opts(&m);
    mt_open_with(&m, "resume.db");
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), 30);
    ASSERT_OK(mvcc_store_compact_wait(m.s));
    ASSERT_OK(mvcc_store_commit(m.s));
    ASSERT_EQ_INT(mvcc_store_pending_compaction(m.s), 0);
    ASSERT_EQ_INT(meta_mark(m.be, "finishedCompactRev"), 30);
    ASSERT_EQ_STR(bucket(m.be, &l), expected(&md, 30, &w));
    ASSERT_TRUE(strlen(l.buf) < before);
    for (int64_t rv = 30; rv <= md.rev; rv++)
        ASSERT_EQ_STR(mt_range(m.s, "", "", rv, &a), mt_model_range(&md, "", "", rv, &b));
    mt_model_free(&md);
    mt_close(&m);
}

/*
 * etcd issue 17780: a committed full batch deleted the newest records
 * (tombstones) of a compaction of the newest revision, then the process
 * died before the finished mark. etcd 3.4.23 restores the current revision
 * from the records left (1 here) and reuses revisions; strata restores it
 * from the scheduled mark.
 */
static void test_issue_17780(void)
{
    mt_store m;
    mt_open(&m, "i17780.db");
    mt_put(m.s, "a", "1");
    mt_put(m.s, "b", "1");
    mt_del(m.s, "a", NULL);
    mt_del(m.s, "b", NULL);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 5);
    mt_close(&m);
    backend *be;
    ASSERT_OK(backend_open(m.path, &m.bo, &be));
    put_meta_mark(be, "scheduledCompactRev", 5);
    /* the full batch: every record <= 5 goes (nothing is alive at 5) */
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    const int64_t revs[] = { 2, 3, 4, 5 };
    for (int i = 0; i < 4; i++) {
        uint8_t k[MVCC__REVKEY_TOMB_LEN];
        size_t n = mvcc__revkey_encode((idx_rev){ revs[i], 0 }, revs[i] >= 4, k);
        ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("key"), (bolt_val){ k, n }));
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_close(be));
    mt_opts(&m);
    mt_open_with(&m, "i17780.db");
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 5);
    ASSERT_EQ_INT(mvcc_store_compact_rev(m.s), 5);
    ASSERT_OK(mvcc_store_compact_wait(m.s));
    ASSERT_EQ_INT(mt_put(m.s, "c", "1"), 6);
    ASSERT_OK(mvcc_store_commit(m.s));
    ASSERT_EQ_INT(meta_mark(m.be, "finishedCompactRev"), 5);
    mt_reopen(&m);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), 6);
    mt_close(&m);
}

/* Reads begun before a compaction keep working at their revision when it is still >= it. */
static void test_reader_across_compaction(void)
{
    mt_store m;
    mt_open(&m, "reader.db");
    mt_put(m.s, "a", "1");
    mt_put(m.s, "a", "2");
    mt_put(m.s, "b", "1");
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_read_begin(m.s, &t));
    compact(&m, 3);
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mt_text tx;
    mvcc_range_options o = { .rev = 3 };
    ASSERT_OK(mvcc_txn_range(t, "a", 1, NULL, 0, &o, &r));
    ASSERT_EQ_STR(mt_render(&r, &tx), "rev=4 count=1 a=2@2/3/2/0");
    o.rev = 2;
    ASSERT_RC(mvcc_txn_range(t, "a", 1, NULL, 0, &o, &r), MVCC_ECOMPACTED);
    ASSERT_OK(mvcc_txn_end(t, NULL));
    mvcc_range_result_release(&r);
    mt_close(&m);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_acceptance);
    RUN(test_tombstone_reopen);
    RUN(test_random_physical);
    RUN(test_resume);
    RUN(test_issue_17780);
    RUN(test_reader_across_compaction);
    return 0;
}
