/*
 * test_lease_glue.c: mvcc/lease_glue.c, the store's side of the lessor, over
 * a real mvcc store (etcd's kvstore_txn.go put/delete and kvstore.go
 * restore against lessor.go): a leased put attaches, an unleased overwrite
 * or a delete detaches, a put naming a missing lease writes nothing and
 * fails with etcd's "lease not found", a revoke deletes the keys in sorted
 * key order in one revision and the lease record in the same backend
 * transaction, restore re-attaches each key to the lease of its newest put.
 */
#include "lease_test.h"

#include <pthread.h>
#include <sched.h>

#include <strata/mvcc.h>

#include "../../mvcc/kvpb.h"
#include "../../mvcc/mvcc_int.h"
#include "../../mvcc/revkey.h"

typedef struct st {
    backend *be;
    lease_lessor *l;
    mvcc_store *kv;
    char path[4096];
} st;

static void st_open(st *s, const char *name, bool fresh)
{
    if (fresh)
        harness_path(s->path, sizeof s->path, name);
    backend_options bo = lt_bk_opts(NULL);
    ASSERT_OK(backend_open(s->path, &bo, &s->be));
    lease_options lo = lt_opts(NULL);
    ASSERT_OK(lease_lessor_open(s->be, &lo, &s->l));
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = s->l;
    ASSERT_OK(mvcc_store_open(s->be, &mo, &s->kv));
    lease_lessor_promote(s->l, 0);
}

static void st_close(st *s)
{
    lt_check(s->l);
    ASSERT_OK(mvcc_store_close(s->kv));
    ASSERT_OK(lease_lessor_close(s->l));
    ASSERT_OK(backend_close(s->be));
}

static int64_t put(st *s, const char *key, int64_t lease)
{
    int64_t rev = -1;
    ASSERT_OK(mvcc_store_put(s->kv, key, strlen(key), "v", 1, lease, &rev));
    return rev;
}

/* "k1,k2," : the keys attached to id, sorted; "-" when the lease is missing. */
static const char *keys_of(st *s, int64_t id)
{
    static char buf[4096];
    lease_keys *k;
    int rc = lease_lookup_keys(s->l, id, &k);
    if (rc == LEASE_ENOTFOUND)
        return "-";
    ASSERT_OK(rc);
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < k->n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%.*s,", (int)k->keys[i].size,
                                (const char *)k->keys[i].data);
    lease_keys_free(k);
    return buf;
}

/* The lease field of key's newest kv (-1: no such key). */
static int64_t kv_lease(st *s, const char *key)
{
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    ASSERT_OK(mvcc_store_range(s->kv, key, strlen(key), NULL, 0, NULL, &r));
    int64_t l = r.n == 1 ? r.kvs[0].lease : -1;
    mvcc_range_result_release(&r);
    return l;
}

/* A table of puts and deletes with the attachments they must leave. */
static void test_attach_detach(void)
{
    st s;
    st_open(&s, "attach.db", true);
    ASSERT_OK(lease_grant(s.l, 1, 100, NULL));
    ASSERT_OK(lease_grant(s.l, 2, 100, NULL));
    static const struct {
        char op; /* p put, d delete */
        const char *key;
        int64_t lease;
        int want_rc;
        const char *keys1, *keys2;
    } steps[] = {
        { 'p', "a", 1, 0, "a,", "" },
        { 'p', "b", 1, 0, "a,b,", "" },
        { 'p', "a", 2, 0, "b,", "a," }, /* leased overwrite: moves */
        { 'p', "a", 0, 0, "b,", "" },   /* unleased overwrite: detaches */
        { 'p', "c", 3, LEASE_ENOTFOUND, "b,", "" },
        { 'p', "b", 3, LEASE_ENOTFOUND, "b,", "" }, /* nothing written: b keeps lease 1 */
        { 'd', "b", 0, 0, "", "" },                 /* delete: detaches */
        { 'p', "b", 2, 0, "", "b," },
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int64_t rev0 = mvcc_store_rev(s.kv), rev = -1, n;
        const char *k = steps[i].key;
        int rc = steps[i].op == 'p'
                         ? mvcc_store_put(s.kv, k, strlen(k), "v", 1, steps[i].lease, &rev)
                         : mvcc_store_delete_range(s.kv, k, strlen(k), NULL, 0, &n, &rev);
        ASSERT_RC(rc, steps[i].want_rc);
        if (rc != 0)
            ASSERT_EQ_INT(mvcc_store_rev(s.kv), rev0); /* no revision, nothing written */
        ASSERT_EQ_STR(keys_of(&s, 1), steps[i].keys1);
        ASSERT_EQ_STR(keys_of(&s, 2), steps[i].keys2);
        lt_check(s.l);
    }
    ASSERT_EQ_INT(kv_lease(&s, "b"), 2);
    ASSERT_EQ_INT(kv_lease(&s, "c"), -1);
    ASSERT_EQ_INT(kv_lease(&s, "a"), 0);
    st_close(&s);
}

typedef struct tomb_log {
    char buf[4096];
    size_t len;
    int64_t rev;
} tomb_log;

/* Tombstones of revision log->rev, in key-bucket order (= sub order). */
static int tomb_fn(void *arg, bolt_val key, bolt_val value)
{
    tomb_log *t = arg;
    mvcc__revkey rk;
    ASSERT_OK(mvcc__revkey_decode(key.data, key.size, &rk));
    if (rk.rev.main != t->rev)
        return 0;
    ASSERT_TRUE(rk.tombstone);
    mvcc__kv kv;
    ASSERT_OK(mvcc__kv_decode(value.data, value.size, &kv));
    t->len += (size_t)snprintf(t->buf + t->len, sizeof t->buf - t->len, "%.*s/%lld,",
                               (int)kv.key_len, (const char *)kv.key, (long long)rk.rev.sub);
    return 0;
}

/* Revoke: sorted keys, one revision, the record in the same transaction. */
static void test_revoke(void)
{
    st s;
    st_open(&s, "revoke.db", true);
    ASSERT_OK(lease_grant(s.l, 7, 100, NULL));
    ASSERT_OK(lease_grant(s.l, 8, 100, NULL));
    const char *keys[] = { "m", "zz", "a", "b\x01", "ab", "b" };
    for (size_t i = 0; i < 6; i++)
        put(&s, keys[i], 7);
    put(&s, "other", 8);
    put(&s, "plain", 0);
    ASSERT_OK(backend_force_commit(s.be));
    int64_t rev0 = mvcc_store_rev(s.kv);
    ASSERT_OK(lease_revoke(s.l, 7));
    ASSERT_EQ_INT(mvcc_store_rev(s.kv), rev0 + 1);
    /* Before any commit: the record is gone from the batch with the keys. */
    ASSERT_FALSE(lt_record(s.be, 7).found);
    ASSERT_TRUE(lt_record(s.be, 8).found);
    tomb_log t = { .rev = rev0 + 1 };
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(s.be, &rt));
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("key"), tomb_fn, &t));
    backend_read_tx_end(rt);
    ASSERT_EQ_STR(t.buf, "a/0,ab/1,b/2,b\x01/3,m/4,zz/5,");
    for (size_t i = 0; i < 6; i++)
        ASSERT_EQ_INT(kv_lease(&s, keys[i]), -1);
    ASSERT_EQ_INT(kv_lease(&s, "other"), 8);
    ASSERT_EQ_STR(keys_of(&s, 7), "-");
    /* A lease without keys: no revision. */
    ASSERT_OK(lease_grant(s.l, 9, 100, NULL));
    ASSERT_OK(lease_revoke(s.l, 9));
    ASSERT_EQ_INT(mvcc_store_rev(s.kv), rev0 + 1);
    /* A lease whose keys were all deleted meanwhile: no revision either. */
    ASSERT_OK(lease_grant(s.l, 10, 100, NULL));
    put(&s, "gone", 10);
    int64_t n, rev;
    ASSERT_OK(mvcc_store_delete_range(s.kv, "gone", 4, NULL, 0, &n, &rev));
    ASSERT_OK(lease_revoke(s.l, 10));
    ASSERT_EQ_INT(mvcc_store_rev(s.kv), rev);
    /* Durable together. */
    ASSERT_OK(backend_force_commit(s.be));
    st_close(&s);
    st_open(&s, "revoke.db", false);
    ASSERT_EQ_STR(keys_of(&s, 7), "-");
    ASSERT_EQ_STR(keys_of(&s, 8), "other,");
    ASSERT_EQ_INT(kv_lease(&s, "m"), -1);
    st_close(&s);
}

/* Tombstones of revision rev, checked against the expected keys in sub order. */
typedef struct tomb_seq {
    int64_t rev;
    size_t n, bad;
    char (*want)[16];
} tomb_seq;

static int tomb_seq_fn(void *arg, bolt_val key, bolt_val value)
{
    tomb_seq *t = arg;
    mvcc__revkey rk;
    ASSERT_OK(mvcc__revkey_decode(key.data, key.size, &rk));
    if (rk.rev.main != t->rev)
        return 0;
    mvcc__kv kv;
    ASSERT_OK(mvcc__kv_decode(value.data, value.size, &kv));
    if (!rk.tombstone || rk.rev.sub != (int64_t)t->n || kv.key_len != strlen(t->want[t->n]) ||
        memcmp(kv.key, t->want[t->n], kv.key_len) != 0)
        t->bad++;
    t->n++;
    return 0;
}

/*
 * A revoke of more keys than the store deletes in one chunk (kvstore_txn.c
 * DK_CHUNK, 1,024): 2,600 keys put with the lease, and 90 more attached to
 * it but never written (alive nowhere: delete_keys skips them), spread over
 * every chunk. One revision, the live keys' tombstones in key order with
 * sub-revisions 0, 1, 2, ..., nothing left in the index, the record gone.
 */
static void test_revoke_in_chunks(void)
{
    st s;
    st_open(&s, "chunks.db", true);
    ASSERT_OK(lease_grant(s.l, 5, 100, NULL));
    enum { LIVE = 2600, ABSENT = 90 };
    char(*want)[16] = calloc(LIVE, sizeof *want);
    ASSERT_NOT_NULL(want);
    char key[32];
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_write_begin(s.kv, &t));
    for (int i = 0; i < LIVE; i++) {
        /* Written out of order; "c-%05d" sorts them by i. */
        int j = (i * 7) % LIVE;
        snprintf(want[j], sizeof want[j], "c-%05d", j);
        int64_t rev;
        ASSERT_OK(mvcc_txn_put(t, want[j], strlen(want[j]), "v", 1, 5, &rev));
    }
    ASSERT_OK(mvcc_txn_end(t, NULL));
    for (int i = 0; i < ABSENT; i++) {
        int w = snprintf(key, sizeof key, "c-%05d-absent", i * (LIVE / ABSENT));
        ASSERT_OK(lease_attach(s.l, 5, (bolt_val){ key, (size_t)w }));
    }
    int64_t rev0 = mvcc_store_rev(s.kv);
    ASSERT_OK(lease_revoke(s.l, 5));
    ASSERT_EQ_INT(mvcc_store_rev(s.kv), rev0 + 1);
    ASSERT_FALSE(lt_record(s.be, 5).found);
    ASSERT_EQ_STR(keys_of(&s, 5), "-");
    tomb_seq ts = { .rev = rev0 + 1, .want = want };
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(s.be, &rt));
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("key"), tomb_seq_fn, &ts));
    backend_read_tx_end(rt);
    ASSERT_EQ_SIZE(ts.n, (size_t)LIVE);
    ASSERT_EQ_SIZE(ts.bad, 0);
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    mvcc_range_options ro = { .size = sizeof ro, .count_only = true };
    ASSERT_OK(mvcc_store_range(s.kv, "c-", 2, "c.", 2, &ro, &r));
    ASSERT_EQ_INT(r.count, 0);
    mvcc_range_result_release(&r);
    char why[256];
    ASSERT_OK(idx_tree_check(s.kv->index, why, sizeof why));
    free(want);
    st_close(&s);
}

/* Restore: every key re-attached to the lease of its newest put (docs/schema.md §7 step 4). */
static void test_restore(void)
{
    st s;
    st_open(&s, "restore.db", true);
    ASSERT_OK(lease_grant(s.l, 1, 100, NULL));
    ASSERT_OK(lease_grant(s.l, 2, 100, NULL));
    put(&s, "a", 1);
    put(&s, "b", 1);
    put(&s, "b", 2); /* newest put: lease 2 */
    put(&s, "c", 1);
    put(&s, "c", 0); /* unleased overwrite */
    put(&s, "d", 2);
    int64_t n, rev;
    ASSERT_OK(mvcc_store_delete_range(s.kv, "d", 1, NULL, 0, &n, &rev)); /* deleted */
    put(&s, "e", 2);
    /* In one txn: e overwritten unleased, then leased again. */
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_write_begin(s.kv, &t));
    ASSERT_OK(mvcc_txn_put(t, "e", 1, "x", 1, 0, &rev));
    ASSERT_OK(mvcc_txn_put(t, "f", 1, "x", 1, 1, &rev));
    ASSERT_OK(mvcc_txn_put(t, "e", 1, "y", 1, 1, &rev));
    ASSERT_OK(mvcc_txn_end(t, &rev));
    ASSERT_EQ_STR(keys_of(&s, 1), "a,e,f,");
    ASSERT_EQ_STR(keys_of(&s, 2), "b,");
    st_close(&s);
    st_open(&s, "restore.db", false);
    ASSERT_EQ_STR(keys_of(&s, 1), "a,e,f,");
    ASSERT_EQ_STR(keys_of(&s, 2), "b,");
    ASSERT_EQ_INT(lease_get_lease(s.l, bolt_str("c")), 0);
    /* Revoking after the reopen deletes what restore attached. */
    ASSERT_OK(lease_revoke(s.l, 1));
    ASSERT_EQ_INT(kv_lease(&s, "a"), -1);
    ASSERT_EQ_INT(kv_lease(&s, "e"), -1);
    ASSERT_EQ_INT(kv_lease(&s, "b"), 2);
    st_close(&s);
}

/* Expired leases revoked by the lessor's own pass through the store. */
static void test_auto_revoke_through_store(void)
{
    strata_manual_clock clk;
    strata_manual_clock_init(&clk, SEC(1000));
    char path[4096];
    harness_path(path, sizeof path, "auto.db");
    backend_options bo = lt_bk_opts(NULL);
    backend *be;
    ASSERT_OK(backend_open(path, &bo, &be));
    lease_options lo = lt_opts(&clk);
    lo.auto_revoke = true;
    lease_lessor *l;
    ASSERT_OK(lease_lessor_open(be, &lo, &l));
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = l;
    mvcc_store *kv;
    ASSERT_OK(mvcc_store_open(be, &mo, &kv));
    lease_lessor_promote(l, 0);
    for (int64_t id = 1; id <= 50; id++) {
        ASSERT_OK(lease_grant(l, id, id % 2 ? 5 : 500, NULL));
        char k[16];
        int kn = snprintf(k, sizeof k, "k%02lld", (long long)id);
        int64_t rev;
        ASSERT_OK(mvcc_store_put(kv, k, (size_t)kn, "v", 1, id, &rev));
    }
    int64_t rev0 = mvcc_store_rev(kv);
    strata_manual_clock_advance(&clk, SEC(5));
    ASSERT_OK(lease_lessor_poke(l));
    ASSERT_EQ_SIZE(lease_count(l), 25);
    ASSERT_EQ_INT(mvcc_store_rev(kv), rev0 + 25); /* one revision per lease */
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    ASSERT_OK(mvcc_store_range(kv, "k", 1, "l", 1, NULL, &r));
    ASSERT_EQ_SIZE(r.n, 25);
    for (size_t i = 0; i < r.n; i++)
        ASSERT_EQ_INT(r.kvs[i].lease % 2, 0);
    mvcc_range_result_release(&r);
    ASSERT_OK(mvcc_store_close(kv));
    ASSERT_OK(lease_lessor_close(l));
    ASSERT_OK(backend_close(be));
}

typedef struct hook_log {
    char buf[8192];
    size_t len;
    int calls;
} hook_log;

/* The store's write hook (the watch seam): "REV:key/sub,...;" per call. */
static void on_write(void *arg, int64_t rev, const mvcc__change *ch, size_t n)
{
    hook_log *h = arg;
    h->calls++;
    h->len += (size_t)snprintf(h->buf + h->len, sizeof h->buf - h->len, "%lld:", (long long)rev);
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(ch[i].deleted);
        ASSERT_EQ_INT(ch[i].kv.mod_revision, rev);
        h->len += (size_t)snprintf(h->buf + h->len, sizeof h->buf - h->len, "%.*s/%lld,",
                                   (int)ch[i].kv.key_len, (const char *)ch[i].kv.key,
                                   (long long)ch[i].sub);
    }
    h->len += (size_t)snprintf(h->buf + h->len, sizeof h->buf - h->len, ";");
}

/*
 * The batched auto-revoke over the real store: several revokes share a
 * write transaction, each its own revision with its keys deleted in sorted
 * order (sub-revisions from 0); a lease without keys makes no revision;
 * the watch hook runs once per revision; readers see no revision of a
 * batch before its end; the incremental HashKV matches a full scan; the
 * tombstones are durable with the records after a reopen.
 */
static void test_batched_revokes(void)
{
    strata_manual_clock clk;
    strata_manual_clock_init(&clk, SEC(1000));
    char path[4096];
    harness_path(path, sizeof path, "batched.db");
    backend_options bo = lt_bk_opts(NULL);
    backend *be;
    ASSERT_OK(backend_open(path, &bo, &be));
    lease_options lo = lt_opts(&clk);
    lo.auto_revoke = true;
    lo.revoke_batch = 4;
    lease_lessor *l;
    ASSERT_OK(lease_lessor_open(be, &lo, &l));
    mvcc_options mo;
    mvcc_options_init(&mo);
    mo.lessor = l;
    mvcc_store *kv;
    ASSERT_OK(mvcc_store_open(be, &mo, &kv));
    lease_lessor_promote(l, 0);
    /* Leases 1..6 expire at 1..6 s (offered in that order), 7 much later; 3 has no keys. */
    for (int64_t id = 1; id <= 7; id++) {
        ASSERT_OK(lease_grant(l, id, id <= 6 ? id : 500, NULL));
        for (int j = 2; j >= 0 && id != 3; j--) {
            char k[16];
            int kn = snprintf(k, sizeof k, "k%lld-%d", (long long)id, j);
            int64_t rev;
            ASSERT_OK(mvcc_store_put(kv, k, (size_t)kn, "v", 1, id, &rev));
        }
    }
    int64_t rev0 = mvcc_store_rev(kv);
    hook_log h = { .len = 0 };
    ASSERT_OK(mvcc__store_set_watch_hooks(kv, on_write, NULL, NULL, &h));
    strata_manual_clock_advance(&clk, SEC(6));
    ASSERT_OK(lease_lessor_poke(l));
    ASSERT_OK(mvcc__store_set_watch_hooks(kv, NULL, NULL, NULL, NULL));
    ASSERT_EQ_SIZE(lease_count(l), 1);
    ASSERT_EQ_INT(mvcc_store_rev(kv), rev0 + 5);
    char want[1024];
    snprintf(want, sizeof want,
             "%lld:k1-0/0,k1-1/1,k1-2/2,;%lld:k2-0/0,k2-1/1,k2-2/2,;%lld:k4-0/0,k4-1/1,k4-2/2,;"
             "%lld:k5-0/0,k5-1/1,k5-2/2,;%lld:k6-0/0,k6-1/1,k6-2/2,;",
             (long long)rev0 + 1, (long long)rev0 + 2, (long long)rev0 + 3, (long long)rev0 + 4,
             (long long)rev0 + 5);
    ASSERT_EQ_STR(h.buf, want);
    /* The tombstones in the key bucket carry the same revisions. */
    for (int64_t r = 1; r <= 5; r++) {
        tomb_log t = { .rev = rev0 + r };
        backend_read_tx *rt;
        ASSERT_OK(backend_read_tx_begin(be, &rt));
        ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("key"), tomb_fn, &t));
        backend_read_tx_end(rt);
        int64_t id = r < 3 ? r : r + 1;
        char w[64];
        snprintf(w, sizeof w, "k%lld-0/0,k%lld-1/1,k%lld-2/2,", (long long)id, (long long)id,
                 (long long)id);
        ASSERT_EQ_STR(t.buf, w);
    }
    /* Every revision of the batch reads as etcd's would have. */
    for (int64_t r = 0; r <= 5; r++) {
        mvcc_range_result rr;
        mvcc_range_result_init(&rr);
        mvcc_range_options ro = { .size = sizeof ro, .rev = rev0 + r };
        ASSERT_OK(mvcc_store_range(kv, "k", 1, "l", 1, &ro, &rr));
        ASSERT_EQ_SIZE(rr.n, (size_t)(5 - r) * 3 + 3); /* + lease 7's keys */
        mvcc_range_result_release(&rr);
    }
    uint32_t inc, scan;
    ASSERT_OK(mvcc__hash_kv_incremental(kv, &inc));
    ASSERT_OK(mvcc__hash_kv_scan(kv, 0, &scan));
    ASSERT_EQ_HEX(inc, scan);
    ASSERT_OK(mvcc_store_close(kv));
    ASSERT_OK(lease_lessor_close(l));
    ASSERT_OK(backend_close(be));
    /* Reopened: the records of the revoked leases are gone, the keys too. */
    ASSERT_OK(backend_open(path, &bo, &be));
    ASSERT_OK(lease_lessor_open(be, &lo, &l));
    mo.lessor = l;
    ASSERT_OK(mvcc_store_open(be, &mo, &kv));
    ASSERT_EQ_SIZE(lease_count(l), 1);
    lease_keys *lk;
    ASSERT_OK(lease_lookup_keys(l, 7, &lk)); /* restore re-attached the keys left */
    ASSERT_EQ_SIZE(lk->n, 3);
    lease_keys_free(lk);
    ASSERT_EQ_INT(mvcc_store_rev(kv), rev0 + 5);
    ASSERT_OK(mvcc_store_close(kv));
    ASSERT_OK(lease_lessor_close(l));
    ASSERT_OK(backend_close(be));
}

typedef struct writer {
    mvcc_store *kv;
    int cpu;
    int64_t rev;
    int rc;
} writer;

static void pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ASSERT_OK(sched_setaffinity(0, sizeof set, &set));
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pin_to(w->cpu);
    w->rc = mvcc_store_put(w->kv, "w", 1, "2", 1, 0, &w->rev);
    return NULL;
}

/*
 * The write lock's holder notes its CPU (write_cpu1: kvstore_txn.c) while
 * it holds the lock, and clears it at the end; a second writer pinned to
 * that same CPU waits (counted in write_waiters, which a batched revoke
 * yields to) and gets the lock once the holder ends: its put lands after
 * the holder's.
 */
static void test_write_lock_cpu_hint(void)
{
    cpu_set_t old;
    ASSERT_OK(sched_getaffinity(0, sizeof old, &old));
    int cpu = sched_getcpu();
    ASSERT_TRUE(cpu >= 0);
    pin_to(cpu);
    st s;
    st_open(&s, "hint.db", true);
    ASSERT_EQ_INT(__atomic_load_n(&s.kv->write_cpu1, __ATOMIC_RELAXED), 0);
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_write_begin(s.kv, &t));
    ASSERT_EQ_INT(__atomic_load_n(&s.kv->write_cpu1, __ATOMIC_RELAXED), cpu + 1);
    int64_t r1;
    ASSERT_OK(mvcc_txn_put(t, "w", 1, "1", 1, 0, &r1));
    writer w = { .kv = s.kv, .cpu = cpu, .rev = -1, .rc = -1 };
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, writer_main, &w));
    /* Loop invariant: the writer has not reached the lock yet (it yields the CPU to it). */
    while (mvcc__write_waiters(s.kv) == 0)
        sched_yield();
    ASSERT_EQ_INT(w.rev, -1); /* still waiting: the lock is held */
    int64_t rev;
    ASSERT_OK(mvcc_txn_end(t, &rev));
    ASSERT_OK(pthread_join(th, NULL));
    ASSERT_OK(w.rc);
    ASSERT_EQ_INT(w.rev, r1 + 1);
    ASSERT_EQ_SIZE(mvcc__write_waiters(s.kv), 0);
    ASSERT_EQ_INT(__atomic_load_n(&s.kv->write_cpu1, __ATOMIC_RELAXED), 0);
    mvcc_range_result r;
    mvcc_range_result_init(&r);
    ASSERT_OK(mvcc_store_range(s.kv, "w", 1, NULL, 0, NULL, &r));
    ASSERT_EQ_SIZE(r.n, 1);
    ASSERT_EQ_INT(r.kvs[0].value_len, 1);
    ASSERT_TRUE(memcmp(r.kvs[0].value, "2", 1) == 0);
    mvcc_range_result_release(&r);
    st_close(&s);
    ASSERT_OK(sched_setaffinity(0, sizeof old, &old));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_attach_detach);
    RUN(test_revoke);
    RUN(test_revoke_in_chunks);
    RUN(test_restore);
    RUN(test_auto_revoke_through_store);
    RUN(test_batched_revokes);
    RUN(test_write_lock_cpu_hint);
    return 0;
}
