/*
 * lease_test.h: helpers shared by the lease test programs (header-only): a
 * backend on a manual clock in the test's directory, a lessor over it, and
 * a range deleter over a plain `kv` bucket that stands in for the mvcc
 * store (one "revision" per write transaction that deleted something, and
 * a log of the keys in the order they were deleted).
 */
#ifndef STRATA_TESTS_LEASE_TEST_H
#define STRATA_TESTS_LEASE_TEST_H

#include <errno.h>
#include <strata/lease.h>
#define HARNESS_STRERROR(rc) lease_strerror(rc)
#include "../harness.h"

#include "../../lease/lease_int.h"
#include "../../lease/leasepb.h"

#define SEC(n) ((uint64_t)(n)*1000000000u)
#define MS(n)  ((uint64_t)(n)*1000000u)

/* The backend's bolt options without fsync; never changed once set (copy to change). */
static HARNESS_UNUSED const bolt_options *lt_bolt_opts(void)
{
    static bolt_options bo;
    if (bo.size == 0) {
        backend_bolt_options_init(&bo);
        bo.no_sync = true;
    }
    return &bo;
}

static HARNESS_UNUSED backend_options lt_bk_opts(strata_manual_clock *clk)
{
    backend_options o;
    backend_options_init(&o);
    o.mmap_reserve = 256u << 20;
    o.bolt = lt_bolt_opts();
    o.batch_interval_ns = SEC(3600); /* commits only when a test asks */
    if (clk != NULL)
        o.clock = &clk->clock;
    return o;
}

static HARNESS_UNUSED backend *lt_bk_open(const char *name, const backend_options *o)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    backend *be;
    ASSERT_OK(backend_open(path, o, &be));
    return be;
}

/* Lessor options for tests: the manual clock, no thread (poke drives it). */
static HARNESS_UNUSED lease_options lt_opts(strata_manual_clock *clk)
{
    lease_options o;
    lease_options_init(&o);
    o.clock = clk != NULL ? &clk->clock : NULL;
    o.no_thread = true;
    return o;
}

static HARNESS_UNUSED void lt_check(lease_lessor *l)
{
    char why[256] = "";
    int rc = lease__lessor_check(l, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "lessor check: %s\n", why);
    ASSERT_OK(rc);
}

static const bolt_val lt_kv = { "kv", 2 };
static const bolt_val lt_lease_bucket = { "lease", 5 };

/* The stand-in store: a kv bucket, keys deleted through the range deleter. */
typedef struct lt_store {
    backend *be;
    lease_lessor *l;
    int64_t rev;        /* revisions: write txns that deleted something */
    size_t txn_deletes; /* deletes in the open txn */
    char log[1 << 16];  /* "key," per delete, in order */
    size_t log_len;
    int fail_delete_at; /* delete number (1-based) that fails with -EIO; 0 = none */
    int deletes;
    /* The batched deleter (lt_store_init_batched): delete_keys, next_rev, yield_wanted. */
    int begins;      /* write txns begun */
    int yield_every; /* yield_wanted says yes after this many next_revs in a txn; 0 = never */
    int txn_revs;    /* revisions closed in the open txn */
    int yields;      /* times yield_wanted said yes */
} lt_store;

static HARNESS_UNUSED int lt_begin(void *arg, void **txn)
{
    lt_store *s = arg;
    backend_batch_tx_lock(backend_batch(s->be));
    s->begins++;
    s->txn_revs = 0;
    s->txn_deletes = 0;
    *txn = s;
    return 0;
}

static HARNESS_UNUSED int lt_delete_range(void *txn, bolt_val key, bolt_val end)
{
    lt_store *s = txn;
    ASSERT_EQ_SIZE(end.size, 0);
    if (++s->deletes == s->fail_delete_at)
        return -EIO;
    int64_t id = lease_get_lease(s->l, key);
    int rc = backend_batch_tx_delete(backend_batch(s->be), lt_kv, key);
    if (rc != 0)
        return rc;
    if (id != LEASE_NONE)
        ASSERT_OK(lease_detach(s->l, id, key));
    s->txn_deletes++;
    int n = snprintf(s->log + s->log_len, sizeof s->log - s->log_len, "%.*s,", (int)key.size,
                     (const char *)key.data);
    if (n > 0 && s->log_len + (size_t)n < sizeof s->log)
        s->log_len += (size_t)n;
    return 0;
}

static void lt_log(lt_store *s, const char *text, size_t len)
{
    if (s->log_len + len + 1 < sizeof s->log) {
        memcpy(s->log + s->log_len, text, len);
        s->log_len += len;
        s->log[s->log_len] = '\0';
    }
}

/* delete_keys: the keys in the given order, no detach (the lessor drops them). */
static HARNESS_UNUSED int lt_delete_keys(void *txn, const bolt_val *keys, size_t n)
{
    lt_store *s = txn;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ASSERT_TRUE(memcmp(keys[i - 1].data, keys[i].data,
                               keys[i - 1].size < keys[i].size ? keys[i - 1].size : keys[i].size) <=
                        0);
        if (++s->deletes == s->fail_delete_at)
            return -EIO;
        int rc = backend_batch_tx_delete(backend_batch(s->be), lt_kv, keys[i]);
        if (rc != 0)
            return rc;
        s->txn_deletes++;
        lt_log(s, keys[i].data, keys[i].size);
        lt_log(s, ",", 1);
    }
    return 0;
}

/* next_rev: a revision per revoke that deleted something; "|" marks it in the log. */
static HARNESS_UNUSED int lt_next_rev(void *txn)
{
    lt_store *s = txn;
    if (s->txn_deletes > 0) {
        s->rev++;
        s->txn_revs++;
        s->txn_deletes = 0;
        lt_log(s, "|", 1);
    }
    return 0;
}

static HARNESS_UNUSED bool lt_yield_wanted(void *arg)
{
    lt_store *s = arg;
    /* Asked with the txn open (a yes ends the batch), then until it says no (the hand-off). */
    if (s->yield_every > 0 && s->txn_revs >= s->yield_every) {
        s->txn_revs = 0;
        s->yields++;
        return true;
    }
    return false;
}

static HARNESS_UNUSED backend_batch_tx *lt_batch_tx(void *txn)
{
    lt_store *s = txn;
    return backend_batch(s->be);
}

static HARNESS_UNUSED int lt_end(void *txn)
{
    lt_store *s = txn;
    if (s->txn_deletes > 0)
        s->rev++;
    return backend_batch_tx_unlock(backend_batch(s->be));
}

static HARNESS_UNUSED void lt_store_init(lt_store *s, backend *be, lease_lessor *l)
{
    memset(s, 0, sizeof *s);
    s->be = be;
    s->l = l;
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, lt_kv));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    lease_range_deleter rd = {
        .arg = s,
        .begin = lt_begin,
        .delete_range = lt_delete_range,
        .batch_tx = lt_batch_tx,
        .end = lt_end,
    };
    lease_lessor_set_range_deleter(l, &rd);
}

/* The stand-in store with the batched deleter's optional calls (what mvcc offers). */
static HARNESS_UNUSED void lt_store_init_batched(lt_store *s, backend *be, lease_lessor *l)
{
    lt_store_init(s, be, l);
    lease_range_deleter rd = {
        .arg = s,
        .begin = lt_begin,
        .delete_range = lt_delete_range,
        .batch_tx = lt_batch_tx,
        .end = lt_end,
        .delete_keys = lt_delete_keys,
        .next_rev = lt_next_rev,
        .yield_wanted = lt_yield_wanted,
    };
    lease_lessor_set_range_deleter(l, &rd);
}

/* A leased put into the stand-in store (what mvcc's put does). */
static HARNESS_UNUSED void lt_put(lt_store *s, const char *key, int64_t id)
{
    backend_batch_tx *tx = backend_batch(s->be);
    backend_batch_tx_lock(tx);
    bolt_val k = bolt_str(key);
    int64_t old = lease_get_lease(s->l, k);
    if (old != LEASE_NONE)
        ASSERT_OK(lease_detach(s->l, old, k));
    char v[32];
    snprintf(v, sizeof v, "%lld", (long long)id);
    ASSERT_OK(backend_batch_tx_put(tx, lt_kv, k, bolt_str(v)));
    if (id != LEASE_NONE)
        ASSERT_OK(lease_attach(s->l, id, k));
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

static int lt_count_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    (void)value;
    ++*(size_t *)arg;
    return 0;
}

/* Pairs in bucket as a fresh read transaction sees them. */
static HARNESS_UNUSED size_t lt_count(backend *be, bolt_val bucket)
{
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    size_t n = 0;
    int rc = backend_read_tx_for_each(rt, bucket, lt_count_fn, &n);
    backend_read_tx_end(rt);
    if (rc == BACKEND_EBUCKETNOTFOUND)
        return 0;
    ASSERT_OK(rc);
    return n;
}

typedef struct lt_rec {
    bool found;
    lease__pb pb;
} lt_rec;

static int lt_rec_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    lt_rec *r = arg;
    r->found = true;
    ASSERT_OK(lease__pb_decode(value.data, value.size, &r->pb));
    return 0;
}

/* The lease record of id as a fresh read transaction sees it. */
static HARNESS_UNUSED lt_rec lt_record(backend *be, int64_t id)
{
    uint8_t key[8];
    lease__key_encode(id, key);
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    lt_rec r = { false, { 0, 0, 0 } };
    ASSERT_OK(backend_read_tx_range(rt, lt_lease_bucket, (bolt_val){ key, 8 },
                                    (bolt_val){ NULL, 0 }, 0, lt_rec_fn, &r));
    backend_read_tx_end(rt);
    return r;
}

/* Writes a raw record into the lease bucket (hostile-record tests). */
static HARNESS_UNUSED void lt_raw_put(backend *be, const void *key, size_t klen, const void *val,
                                      size_t vlen)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, lt_lease_bucket));
    ASSERT_OK(backend_batch_tx_put(tx, lt_lease_bucket, (bolt_val){ key, klen },
                                   (bolt_val){ val, vlen }));
    ASSERT_OK(backend_batch_tx_unlock(tx));
}

#endif
