/*
 * test_wlog.c: backend/wlog.c, the write log: seeded writes of every op,
 * with empty, short and long buckets, keys and values, appended and
 * replayed into a bolt write transaction in order (later writes win),
 * against a model; truncate and clear; the limits of an entry (wlog.c
 * invariant 4: a bucket name or key of 65,536 bytes, a value of 1 GiB,
 * refused with STRATA_EOVERFLOW and the log unchanged).
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../backend/backend_int.h"
#include "backend_test.h"

enum { NKEYS = 40, NOPS = 3000 };

static const char *const buckets[] = { "key", "b", "a-longer-bucket-name" };

static void test_replay_against_model(void)
{
    strata_rng rng;
    strata_rng_seed(&rng, harness_seed());
    char path[4200];
    snprintf(path, sizeof path, "%s/wlog.db", harness_tmpdir());
    bolt_db *db;
    ASSERT_OK(bolt_open(path, bk_bolt_opts(), &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    for (size_t b = 0; b < 3; b++)
        ASSERT_OK(bolt_bucket_create(bolt_tx_root(tx), (bolt_val){ buckets[b], strlen(buckets[b]) },
                                     NULL));
    backend__wlog *l;
    ASSERT_OK(backend__wlog_new(&l));
    /* model[b][k]: the value's length + 1 of the last put (its bytes: (k + len) & 0xff), 0: none */
    static size_t model[3][NKEYS];
    static unsigned char val[70000];
    char key[64];
    for (int op = 0; op < NOPS; op++) {
        size_t b = (size_t)strata_rng_below(&rng, 3);
        size_t k = (size_t)strata_rng_below(&rng, NKEYS);
        int kl = snprintf(key, sizeof key, "k%03zu", k);
        uint64_t what = strata_rng_below(&rng, 10);
        bolt_val bk = { buckets[b], strlen(buckets[b]) };
        if (what < 3) {
            ASSERT_OK(backend__wlog_append(l, BACKEND__LOG_DELETE, bk,
                                           (bolt_val){ key, (size_t)kl },
                                           (bolt_val){ "ignored", 7 }));
            model[b][k] = 0;
        } else {
            size_t len = what == 9 ? 65536 + (size_t)strata_rng_below(&rng, 4000)
                                   : (size_t)strata_rng_below(&rng, 40);
            for (size_t i = 0; i < len; i++)
                val[i] = (unsigned char)((k + len) & 0xff);
            ASSERT_OK(backend__wlog_append(l, what < 6 ? BACKEND__LOG_PUT : BACKEND__LOG_SEQ_PUT,
                                           bk, (bolt_val){ key, (size_t)kl },
                                           (bolt_val){ val, len }));
            model[b][k] = len + 1;
        }
        if (op % 500 == 499) /* replay in slices, as the commit thread does */
            ASSERT_OK(backend__wlog_replay(l, tx, 1 + (size_t)strata_rng_below(&rng, 300), 0));
    }
    ASSERT_OK(backend__wlog_replay(l, tx, 0, 0));
    ASSERT_EQ_SIZE(backend__wlog_count(l), 0);
    for (size_t b = 0; b < 3; b++) {
        bolt_bucket *bb;
        ASSERT_OK(bolt_tx_bucket(tx, (bolt_val){ buckets[b], strlen(buckets[b]) }, &bb));
        for (size_t k = 0; k < NKEYS; k++) {
            int kl = snprintf(key, sizeof key, "k%03zu", k);
            bolt_val v;
            int rc = bolt_bucket_get(bb, (bolt_val){ key, (size_t)kl }, &v);
            if (model[b][k] == 0) {
                ASSERT_RC(rc, BOLT_NOTFOUND);
                continue;
            }
            ASSERT_OK(rc);
            size_t len = model[b][k] - 1;
            ASSERT_EQ_SIZE(v.size, len);
            for (size_t i = 0; i < len; i++)
                ASSERT_EQ_INT(((const unsigned char *)v.data)[i], (int)((k + len) & 0xff));
        }
    }
    /* Truncate keeps the oldest entries; clear drops them all. */
    for (int i = 0; i < 5; i++)
        ASSERT_OK(backend__wlog_append(l, BACKEND__LOG_PUT, (bolt_val){ "b", 1 },
                                       (bolt_val){ "t", 1 }, (bolt_val){ "v", 1 }));
    backend__wlog_truncate(l, 2);
    ASSERT_EQ_SIZE(backend__wlog_count(l), 2);
    ASSERT_EQ_SIZE(backend__wlog_appended(l), 2);
    backend__wlog_clear(l);
    ASSERT_EQ_SIZE(backend__wlog_count(l), 0);
    backend__wlog_free(l);
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
}

static void test_entry_limits(void)
{
    backend__wlog *l;
    ASSERT_OK(backend__wlog_new(&l));
    size_t big = 65536;
    unsigned char *p = calloc(big, 1);
    ASSERT_TRUE(p != NULL);
    p[0] = 'x';
    bolt_val bk = { "key", 3 }, k = { "k", 1 }, v = { "v", 1 };
    ASSERT_OK(backend__wlog_append(l, BACKEND__LOG_PUT, bk, k, v));
    /* The largest that fit. */
    ASSERT_OK(backend__wlog_append(l, BACKEND__LOG_PUT, (bolt_val){ p, big - 1 }, k, v));
    ASSERT_OK(backend__wlog_append(l, BACKEND__LOG_DELETE, bk, (bolt_val){ p, big - 1 }, v));
    ASSERT_EQ_SIZE(backend__wlog_count(l), 3);
    /* One more byte is refused, and the log is unchanged. */
    ASSERT_RC(backend__wlog_append(l, BACKEND__LOG_PUT, (bolt_val){ p, big }, k, v),
              STRATA_EOVERFLOW);
    ASSERT_RC(backend__wlog_append(l, BACKEND__LOG_PUT, bk, (bolt_val){ p, big }, v),
              STRATA_EOVERFLOW);
    /* A value of 1 GiB (never read: the size is checked first). */
    ASSERT_RC(backend__wlog_append(l, BACKEND__LOG_PUT, bk, k, (bolt_val){ p, (size_t)1 << 30 }),
              STRATA_EOVERFLOW);
    ASSERT_EQ_SIZE(backend__wlog_count(l), 3);
    free(p);
    backend__wlog_free(l);
}

int main(void)
{
    HARNESS_BEGIN(20261207);
    RUN(test_replay_against_model);
    RUN(test_entry_limits);
    return 0;
}
