/*
 * test_concurrency.c: the store under threads (suite concurrency, run
 * under TSan): one writer, readers checking that a read transaction sees
 * one fixed revision, streaming iterators, HashKV callers, and a thread
 * compacting behind the writer in small batches. At the end the store
 * equals a model of the writer's history and the incremental HashKV equals
 * the scan. No sleeps: threads run until the writer is done.
 */
#include "mvcc_test.h"

#include <pthread.h>

#include "mvcc_int.h"

#define WRITES 10000
#define KEYS   200

typedef struct shared {
    mvcc_store *s;
    int done; /* atomic: the writer finished */
    mt_model md;
    uint64_t seed;
    int reads, iters, hashes, compactions; /* each written by one thread */
} shared;

static bool writer_done(shared *sh)
{
    return __atomic_load_n(&sh->done, __ATOMIC_ACQUIRE) != 0;
}

static void *writer(void *arg)
{
    shared *sh = arg;
    uint64_t x = sh->seed;
    char key[16], val[32];
    for (int i = 0; i < WRITES; i++) {
        x = strata_splitmix64(x);
        snprintf(key, sizeof key, "k%03d", (int)(x % KEYS));
        if (x % 6 == 0) {
            if (mt_del(sh->s, key, NULL) > 0) {
                mt_model_change(&sh->md, sh->md.rev + 1, 0, key, NULL);
                sh->md.rev++;
            }
        } else {
            snprintf(val, sizeof val, "v%d", i);
            mt_put(sh->s, key, val);
            mt_model_change(&sh->md, sh->md.rev + 1, 0, key, val);
            sh->md.rev++;
        }
    }
    __atomic_store_n(&sh->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A read txn: two ranges at its revision agree, and nothing is newer than it. */
static void *reader(void *arg)
{
    shared *sh = arg;
    while (!writer_done(sh)) {
        mvcc_txn *t;
        ASSERT_OK(mvcc_txn_read_begin(sh->s, &t));
        int64_t rev = mvcc_txn_rev(t);
        mvcc_range_result a, b;
        mvcc_range_result_init(&a);
        mvcc_range_result_init(&b);
        int rc1 = mvcc_txn_range(t, "", 0, "", 0, NULL, &a);
        int rc2 = mvcc_txn_range(t, "", 0, "", 0, NULL, &b);
        /*
         * A slow reader may fall behind the compactor, which trails the
         * writer by 50 revisions: then its ranges fail, and a later one
         * never succeeds again.
         */
        ASSERT_TRUE(rc1 == 0 || rc1 == MVCC_ECOMPACTED);
        ASSERT_TRUE(rc2 == 0 || rc2 == MVCC_ECOMPACTED);
        ASSERT_TRUE(rc1 == 0 || rc2 != 0);
        if (rc1 != 0 || rc2 != 0)
            b.n = a.n = 0;
        ASSERT_EQ_SIZE(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
            ASSERT_TRUE(a.kvs[i].mod_revision <= rev);
            ASSERT_EQ_INT(a.kvs[i].mod_revision, b.kvs[i].mod_revision);
            ASSERT_EQ_MEM(a.kvs[i].value, a.kvs[i].value_len, b.kvs[i].value, b.kvs[i].value_len);
        }
        mvcc_range_result_release(&a);
        mvcc_range_result_release(&b);
        ASSERT_OK(mvcc_txn_end(t, NULL));
        __atomic_add_fetch(&sh->reads, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void *iterator(void *arg)
{
    shared *sh = arg;
    while (!writer_done(sh)) {
        mvcc_range_iter *it;
        ASSERT_OK(mvcc_range_iter_open(sh->s, "", 0, "", 0, 0, 16, false, &it));
        const mvcc_kv *kvs;
        size_t n;
        int rc;
        uint8_t last[16] = "";
        size_t last_len = 0;
        while ((rc = mvcc_range_iter_next(it, &kvs, &n)) == 0) {
            for (size_t i = 0; i < n; i++) {
                ASSERT_TRUE(kvs[i].mod_revision <= mvcc_range_iter_rev(it));
                ASSERT_TRUE(kvs[i].key_len < sizeof last);
                ASSERT_TRUE(last_len == 0 || memcmp(last, kvs[i].key, kvs[i].key_len) < 0);
                memcpy(last, kvs[i].key, kvs[i].key_len);
                last_len = kvs[i].key_len;
            }
        }
        /* The compactor trails the writer by 50 revisions: the iterator's may fall below. */
        ASSERT_TRUE(rc == MVCC_EITERDONE || rc == MVCC_ECOMPACTED);
        mvcc_range_iter_close(it);
        sh->iters++;
    }
    return NULL;
}

static void *hasher(void *arg)
{
    shared *sh = arg;
    while (!writer_done(sh)) {
        mvcc_hash_kv h;
        ASSERT_OK(mvcc_store_hash_kv(sh->s, 0, &h));
        sh->hashes++;
    }
    return NULL;
}

static void *compactor(void *arg)
{
    shared *sh = arg;
    while (!writer_done(sh)) {
        int64_t c = mvcc_store_rev(sh->s) - 50;
        if (c > mvcc_store_compact_rev(sh->s)) {
            ASSERT_OK(mvcc_store_compact(sh->s, c));
            sh->compactions++;
        }
        ASSERT_OK(mvcc_store_compact_wait(sh->s));
    }
    return NULL;
}

static void test_everything_at_once(void)
{
    mt_store m;
    mt_opts(&m);
    m.mo.compaction_batch_limit = 16;
    mt_open_with(&m, "conc.db");
    shared sh = { .s = m.s, .seed = harness_seed() };
    mt_model_init(&sh.md);
    pthread_t th[6];
    void *(*fns[6])(void *) = { writer, reader, reader, iterator, hasher, compactor };
    for (int i = 0; i < 6; i++)
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, fns[i], &sh), 0);
    for (int i = 0; i < 6; i++)
        pthread_join(th[i], NULL);
    ASSERT_OK(mvcc_store_compact_wait(m.s));
    ASSERT_TRUE(sh.reads > 0 && sh.iters > 0 && sh.hashes > 0);
    fprintf(stderr, "reads %d iterations %d hashes %d compactions %d\n", sh.reads, sh.iters,
            sh.hashes, sh.compactions);
    ASSERT_EQ_INT(mvcc_store_rev(m.s), sh.md.rev);
    sh.md.compact = mvcc_store_compact_rev(m.s);
    mt_text a, b;
    ASSERT_EQ_STR(mt_range(m.s, "", "", 0, &a), mt_model_range(&sh.md, "", "", 0, &b));
    uint32_t scan, inc;
    ASSERT_OK(mvcc__hash_kv_scan(m.s, 0, &scan));
    ASSERT_OK(mvcc__hash_kv_incremental(m.s, &inc));
    ASSERT_EQ_U64(inc, scan);
    mt_reopen(&m);
    ASSERT_EQ_STR(mt_range(m.s, "", "", 0, &a), mt_model_range(&sh.md, "", "", 0, &b));
    ASSERT_OK(mvcc__hash_kv_scan(m.s, 0, &scan));
    ASSERT_EQ_U64(inc, scan);
    mt_model_free(&sh.md);
    mt_close(&m);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_everything_at_once);
    return 0;
}
