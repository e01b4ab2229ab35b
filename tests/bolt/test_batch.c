/*
 * test_batch.c: bolt_batch (bbolt's DB.Batch). Concurrent callers share one
 * commit; a failing call gets its own status while the others commit.
 * Deterministic: the batch size equals the number of threads, so the last
 * caller to arrive fills the batch and the delay never decides anything
 * (it is set far beyond the test's run time).
 */
#include "bolt_test.h"

#include <pthread.h>

#define THREADS 8

typedef struct job {
    bolt_db *db;
    int id;
    int fail; /* this call returns an error instead of writing */
    int rc;
} job;

static int put_job(bolt_tx *tx, void *arg)
{
    const job *j = arg;
    if (j->fail)
        return STRATA_EMISUSE; /* any error of the caller's own */
    bolt_bucket *b;
    char key[16];
    snprintf(key, sizeof key, "k%d", j->id);
    int rc = bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b);
    return rc != 0 ? rc : bolt_bucket_put(b, bolt_str(key), bolt_str("v"));
}

static void *run_job(void *arg)
{
    job *j = arg;
    j->rc = bolt_batch(j->db, put_job, j);
    return NULL;
}

static bolt_txid current_txid(bolt_db *db)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    bolt_txid id = bolt_tx_id(tx);
    bolt_tx_rollback(tx);
    return id;
}

static void run(int failing, int *commits, bolt_db **out_db)
{
    char path[4096];
    harness_path(path, sizeof path, failing >= 0 ? "batch-fail.db" : "batch.db");
    bolt_options o = bt_opts();
    o.batch_max_size = THREADS;
    o.batch_max_delay_ms = 600000; /* only a full batch closes it */
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_txid before = current_txid(db);
    job jobs[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ db, i, i == failing, -1 };
        ASSERT_OK(pthread_create(&th[i], NULL, run_job, &jobs[i]));
    }
    for (int i = 0; i < THREADS; i++)
        ASSERT_OK(pthread_join(th[i], NULL));
    for (int i = 0; i < THREADS; i++)
        ASSERT_RC(jobs[i].rc, i == failing ? STRATA_EMISUSE : 0);
    *commits = (int)(current_txid(db) - before);
    *out_db = db;
}

static void test_concurrent_calls_share_one_commit(void)
{
    int commits;
    bolt_db *db;
    run(-1, &commits, &db);
    ASSERT_EQ_INT(commits, 1); /* eight callers, one commit */
    bolt_tx *tx;
    bolt_bucket *b;
    bolt_val v;
    char key[16];
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = 0; i < THREADS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_OK(bolt_bucket_get(b, bolt_str(key), &v));
    }
    bolt_tx_rollback(tx);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_a_failing_call_does_not_sink_the_batch(void)
{
    int commits;
    bolt_db *db;
    run(3, &commits, &db);
    /* The failing call ran alone (and rolled back): the rest committed together. */
    ASSERT_EQ_INT(commits, 1);
    bolt_tx *tx;
    bolt_bucket *b;
    bolt_val v;
    char key[16];
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = 0; i < THREADS; i++) {
        snprintf(key, sizeof key, "k%d", i);
        ASSERT_RC(bolt_bucket_get(b, bolt_str(key), &v), i == 3 ? BOLT_NOTFOUND : 0);
    }
    bolt_tx_rollback(tx);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
}

static void test_batch_misuse(void)
{
    char path[4096];
    harness_path(path, sizeof path, "batch-ro.db");
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    ASSERT_RC(bolt_batch(db, NULL, NULL), STRATA_EMISUSE);
    ASSERT_OK(bolt_close(db));
    o.read_only = true;
    ASSERT_OK(bolt_open(path, &o, &db));
    job j = { db, 0, 0, 0 };
    ASSERT_RC(bolt_batch(db, put_job, &j), BOLT_EDATABASEREADONLY);
    ASSERT_OK(bolt_close(db));
    ASSERT_RC(bolt_batch(NULL, put_job, &j), BOLT_EDATABASENOTOPEN);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_concurrent_calls_share_one_commit);
    RUN(test_a_failing_call_does_not_sink_the_batch);
    RUN(test_batch_misuse);
    return 0;
}
