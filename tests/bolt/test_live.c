/*
 * test_live.c: the live read-only open (bolt_options.live): it reads a file
 * another open holds for writing, never blocks that writer, sees each new
 * commit at its next transaction, and bolt_tx_live_verify tells a reader
 * when a commit landed under it.
 */
#include "bolt_test.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static bolt_db *open_writer(const char *path)
{
    bolt_options o = bt_opts();
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    return db;
}

static bolt_db *open_live(const char *path, size_t reserve)
{
    bolt_options o = bt_opts();
    o.read_only = true;
    o.live = true;
    o.mmap_reserve = reserve;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    return db;
}

static void put(bolt_db *db, const char *key, const char *val)
{
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("b"), &b));
    ASSERT_OK(bolt_bucket_put(b, bolt_str(key), bolt_str(val)));
    ASSERT_OK(bolt_tx_commit(tx));
}

/* The value of key (its first size - 1 bytes) as a fresh live transaction sees it. */
static int live_get(bolt_db *db, const char *key, char *out, size_t size)
{
    bolt_tx *tx;
    bolt_bucket *b;
    bolt_val v;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    int rc = bolt_tx_bucket(tx, bolt_str("b"), &b);
    if (rc == 0)
        rc = bolt_bucket_get(b, bolt_str(key), &v);
    if (rc == 0) {
        size_t n = v.size < size - 1 ? v.size : size - 1; /* a prefix is enough */
        memcpy(out, v.data, n);
        out[n] = '\0';
        rc = bolt_tx_live_verify(tx);
    }
    bolt_tx_rollback(tx);
    return rc;
}

static void test_live_reads_a_locked_file(void)
{
    char path[4096], val[64];
    harness_path(path, sizeof path, "locked.db");
    bolt_db *w = open_writer(path);
    put(w, "k", "v1");

    /* An ordinary read-only open waits for the writer's lock and gives up. */
    bolt_options o = bt_opts();
    o.read_only = true;
    o.timeout_ms = 100;
    bolt_db *ro;
    ASSERT_RC(bolt_open(path, &o, &ro), BOLT_ETIMEOUT);
    ASSERT_NULL(ro);

    bolt_db *live = open_live(path, 0);
    ASSERT_OK(live_get(live, "k", val, sizeof val));
    ASSERT_EQ_STR(val, "v1");

    /* Each new live transaction starts from the newest commit. */
    put(w, "k", "v2");
    ASSERT_OK(live_get(live, "k", val, sizeof val));
    ASSERT_EQ_STR(val, "v2");
    ASSERT_OK(bolt_close(live));
    ASSERT_OK(bolt_close(w));
}

static void test_verify_sees_a_commit_under_the_reader(void)
{
    char path[4096];
    harness_path(path, sizeof path, "verify.db");
    bolt_db *w = open_writer(path);
    put(w, "k", "v1");
    bolt_db *live = open_live(path, 0);

    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(live, 0, &tx));
    ASSERT_OK(bolt_tx_live_verify(tx)); /* nothing committed yet */
    put(w, "k", "v2");
    ASSERT_RC(bolt_tx_live_verify(tx), BOLT_ELIVECHANGED);
    put(w, "k", "v3");
    ASSERT_RC(bolt_tx_live_verify(tx), BOLT_ELIVECHANGED);
    bolt_tx_rollback(tx);

    /* Started again after the commits, the reader is consistent. */
    ASSERT_OK(bolt_tx_begin(live, 0, &tx));
    bt_check(live);
    ASSERT_OK(bolt_tx_live_verify(tx));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(live));
    ASSERT_OK(bolt_close(w));
}

static void test_live_follows_growth_inside_its_map(void)
{
    char path[4096], key[32], val[64];
    harness_path(path, sizeof path, "grow.db");
    bolt_db *w = open_writer(path);
    put(w, "k0", "v");
    bolt_db *live = open_live(path, 64u << 20);
    /* The writer grows the file well past its size at the live open. */
    bolt_tx *tx;
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_begin(w, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    char big[2048];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(key), (bolt_val){ big, sizeof big }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_OK(live_get(live, "k03999", val, 8));
    ASSERT_EQ_STR(val, "xxxxxxx");
    ASSERT_OK(bolt_close(live));

    /* A live open whose map the file outgrows says so instead of reading past it. */
    live = open_live(path, 1u << 20);
    ASSERT_OK(bolt_tx_begin(w, BOLT_TX_WRITE, &tx));
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("b"), &b));
    for (int i = 4000; i < 8000; i++) {
        snprintf(key, sizeof key, "k%05d", i);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(key), (bolt_val){ big, sizeof big }));
    }
    ASSERT_OK(bolt_tx_commit(tx));
    ASSERT_RC(bolt_tx_begin(live, 0, &tx), BOLT_ELIVECHANGED);
    ASSERT_OK(bolt_close(live));
    ASSERT_OK(bolt_close(w));
}

static void test_live_misuse(void)
{
    char path[4096];
    harness_path(path, sizeof path, "misuse.db");
    bolt_db *w = open_writer(path);
    put(w, "k", "v");
    bolt_options o = bt_opts();
    o.live = true; /* without read_only */
    bolt_db *db;
    ASSERT_RC(bolt_open(path, &o, &db), STRATA_EMISUSE);
    ASSERT_NULL(db);
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(w, 0, &tx));
    ASSERT_RC(bolt_tx_live_verify(tx), STRATA_EMISUSE); /* not a live open */
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(w));
}

static void count_problem(void *arg, const char *problem)
{
    (void)problem;
    ++*(size_t *)arg;
}

/*
 * A writer in another process commits as fast as it can (puts, deletes,
 * growth); live readers check the whole file meanwhile. Whenever
 * bolt_tx_live_verify accepts a read, the check must have found nothing:
 * torn views may only ever show up as BOLT_ELIVECHANGED.
 */
static void test_live_check_against_a_busy_writer(void)
{
    char path[4096];
    harness_path(path, sizeof path, "busy.db");
    bolt_db *w = open_writer(path);
    put(w, "k", "v");
    ASSERT_OK(bolt_close(w));
    int ready[2];
    ASSERT_OK(pipe(ready));
    pid_t child = fork();
    ASSERT_TRUE(child >= 0);
    if (child == 0) {
        bolt_db *cw = open_writer(path);
        strata_rng rng;
        strata_rng_seed(&rng, harness_seed());
        char key[32], val[200];
        memset(val, 'v', sizeof val);
        if (write(ready[1], "x", 1) != 1)
            _exit(2);
        for (int i = 0; i < 400; i++) {
            bolt_tx *tx;
            bolt_bucket *b;
            if (bolt_tx_begin(cw, BOLT_TX_WRITE, &tx) != 0 ||
                bolt_tx_bucket(tx, bolt_str("b"), &b) != 0)
                _exit(3);
            for (int j = 0; j < 50; j++) {
                snprintf(key, sizeof key, "k%06llu",
                         (unsigned long long)strata_rng_below(&rng, 5000));
                int rc = strata_rng_below(&rng, 3) == 0
                                 ? bolt_bucket_delete(b, bolt_str(key))
                                 : bolt_bucket_put(b, bolt_str(key), (bolt_val){ val, sizeof val });
                if (rc != 0)
                    _exit(4);
            }
            if (bolt_tx_commit(tx) != 0)
                _exit(5);
        }
        _exit(bolt_close(cw) == 0 ? 0 : 6);
    }
    char c;
    ASSERT_EQ_INT(read(ready[0], &c, 1), 1);
    bolt_db *live = open_live(path, 256u << 20);
    size_t consistent = 0, retried = 0;
    int status = 0;
    for (;;) {
        bool done = waitpid(child, &status, WNOHANG) == child;
        bolt_tx *tx;
        int rc = bolt_tx_begin(live, 0, &tx);
        if (rc == BOLT_ELIVECHANGED || rc == BOLT_ECORRUPT) {
            retried++; /* caught a meta mid-write: start again */
            continue;
        }
        ASSERT_OK(rc);
        size_t problems = 0;
        (void)bolt_tx_check(tx, count_problem, &problems);
        rc = bolt_tx_live_verify(tx);
        bolt_tx_rollback(tx);
        if (rc == BOLT_ELIVECHANGED) {
            retried++;
        } else {
            ASSERT_OK(rc);
            ASSERT_EQ_SIZE(problems, 0);
            consistent++;
        }
        if (done)
            break;
    }
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ_INT(WEXITSTATUS(status), 0);
    ASSERT_GE_INT(consistent, 1);
    printf("live checks: %zu consistent, %zu started again\n", consistent, retried);
    close(ready[0]);
    close(ready[1]);
    ASSERT_OK(bolt_close(live));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_live_reads_a_locked_file);
    RUN(test_verify_sees_a_commit_under_the_reader);
    RUN(test_live_follows_growth_inside_its_map);
    RUN(test_live_misuse);
    RUN(test_live_check_against_a_busy_writer);
    return 0;
}
