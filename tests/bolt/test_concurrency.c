/*
 * test_concurrency.c: readers and one writer at once (built and run under
 * ThreadSanitizer in `make test`'s tsan build, and normally elsewhere).
 *
 * The writer commits NCOMMITS times; commit c adds key k<c> with a value
 * derived from c and sets "n" to c + 1, so any consistent view with n = m
 * holds exactly k0..k<m-1> with their values. The map reservation is small
 * (256 KiB) and the file grows to several times that, so commits keep
 * replacing the map while readers hold the old ones.
 *   1. Readers never block the writer: a "pinned" reader begins its read
 *      transaction and only then lets the writer start; it ends it only
 *      after the writer has made every commit. Were a commit to wait for
 *      readers, the test would deadlock (and fail on its timeout).
 *   2. A read transaction's view is stable: the pinned reader checks its
 *      whole view after all the commits (its pages were neither reused nor
 *      unmapped under it), and looping readers check theirs while commits
 *      run.
 *   3. Writers exclude each other: a second writer thread commits to its
 *      own bucket at the same time; every one of both writers' commits is
 *      there at the end.
 *   4. No sleeps: threads meet on a mutex and condition variables.
 */
#include "bolt_test.h"

#include <pthread.h>

#define NCOMMITS 400
#define NREADERS 3
#define VALUE    700

static bolt_db *db;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool pinned, writer_done;
static unsigned long reader_views[NREADERS];

static void value_for(unsigned c, unsigned char *v)
{
    for (unsigned i = 0; i < VALUE; i++)
        v[i] = (unsigned char)(c * 13 + i);
}

/* Check a whole view; returns its n. */
static uint64_t check_view(bolt_tx *tx)
{
    bolt_bucket *b;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("data"), &b));
    bolt_val nv;
    ASSERT_OK(bolt_bucket_get(b, bolt_str("n"), &nv));
    ASSERT_EQ_SIZE(nv.size, 8);
    uint64_t n;
    memcpy(&n, nv.data, 8);
    unsigned char want[VALUE];
    bolt_cursor *c;
    ASSERT_OK(bolt_cursor_open(b, &c));
    bolt_val k, v;
    uint64_t seen = 0;
    int rc;
    for (rc = bolt_cursor_first(c, &k, &v); rc == 0; rc = bolt_cursor_next(c, &k, &v)) {
        if (k.size == 1)
            continue; /* "n" */
        char key[16];
        snprintf(key, sizeof key, "k%05llu", (unsigned long long)seen);
        ASSERT_EQ_MEM(k.data, k.size, key, strlen(key));
        value_for((unsigned)seen, want);
        ASSERT_EQ_MEM(v.data, v.size, want, sizeof want);
        seen++;
    }
    ASSERT_RC(rc, BOLT_NOTFOUND);
    ASSERT_EQ_U64(seen, n);
    bolt_cursor_close(c);
    return n;
}

static void *pinned_reader(void *arg)
{
    (void)arg;
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    uint64_t n0 = check_view(tx);
    pthread_mutex_lock(&mu);
    pinned = true;
    pthread_cond_broadcast(&cond);
    while (!writer_done)
        pthread_cond_wait(&cond, &mu);
    pthread_mutex_unlock(&mu);
    /* Rule 2: the old view, unchanged after every commit and remap. */
    ASSERT_EQ_U64(check_view(tx), n0);
    ASSERT_TRUE(bolt_tx_size(tx) < 256 * 1024);
    bolt_tx_rollback(tx);
    return NULL;
}

static void *looping_reader(void *arg)
{
    unsigned long *views = arg;
    uint64_t last = 0;
    for (;;) {
        pthread_mutex_lock(&mu);
        bool done = writer_done;
        pthread_mutex_unlock(&mu);
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, 0, &tx));
        uint64_t n = check_view(tx);
        ASSERT_TRUE(n >= last); /* views only move forward */
        /* Hold the view across more commits, then check it again. */
        ASSERT_EQ_U64(check_view(tx), n);
        bolt_tx_rollback(tx);
        last = n;
        (*views)++;
        if (done)
            break;
    }
    ASSERT_EQ_U64(last, NCOMMITS + 10);
    return NULL;
}

#define OTHER_COMMITS 150

/* Rule 3: the second writer, one key per commit in bucket "other". */
static void *other_writer(void *arg)
{
    (void)arg;
    for (unsigned c = 0; c < OTHER_COMMITS; c++) {
        bolt_tx *tx;
        ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
        bolt_bucket *b;
        ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("other"), &b));
        char key[16];
        snprintf(key, sizeof key, "o%05u", c);
        ASSERT_OK(bolt_bucket_put(b, bolt_str(key), bolt_str("other writer")));
        ASSERT_OK(bolt_tx_commit(tx));
    }
    return NULL;
}

static int count_keys(void *arg, bolt_val k, bolt_val v)
{
    (void)k;
    (void)v;
    (*(unsigned *)arg)++;
    return 0;
}

static void commit_one(unsigned c)
{
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, BOLT_TX_WRITE, &tx));
    bolt_bucket *b;
    ASSERT_OK(bolt_bucket_create_if_not_exists(bolt_tx_root(tx), bolt_str("data"), &b));
    char key[16];
    snprintf(key, sizeof key, "k%05u", c);
    unsigned char v[VALUE];
    value_for(c, v);
    ASSERT_OK(bolt_bucket_put(b, bolt_str(key), (bolt_val){ v, sizeof v }));
    uint64_t n = c + 1;
    ASSERT_OK(bolt_bucket_put(b, bolt_str("n"), (bolt_val){ &n, 8 }));
    ASSERT_OK(bolt_tx_commit(tx));
}

static void test_readers_and_writer(void)
{
    char path[4096];
    harness_path(path, sizeof path, "concurrency.db");
    bolt_options o = bt_opts();
    o.mmap_reserve = 256 * 1024;
    o.page_size = 4096;
    ASSERT_OK(bolt_open(path, &o, &db));
    for (unsigned c = 0; c < 10; c++)
        commit_one(c);
    pthread_t pin, loop[NREADERS];
    ASSERT_OK(pthread_create(&pin, NULL, pinned_reader, NULL));
    pthread_mutex_lock(&mu);
    while (!pinned)
        pthread_cond_wait(&cond, &mu);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < NREADERS; i++)
        ASSERT_OK(pthread_create(&loop[i], NULL, looping_reader, &reader_views[i]));
    pthread_t other;
    ASSERT_OK(pthread_create(&other, NULL, other_writer, NULL));
    /* Rule 1: every commit while the pinned reader holds its view. */
    for (unsigned c = 10; c < NCOMMITS + 10; c++)
        commit_one(c);
    pthread_mutex_lock(&mu);
    writer_done = true;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
    ASSERT_OK(pthread_join(pin, NULL));
    ASSERT_OK(pthread_join(other, NULL));
    unsigned long views = 0;
    for (int i = 0; i < NREADERS; i++) {
        ASSERT_OK(pthread_join(loop[i], NULL));
        views += reader_views[i];
    }
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_EQ_U64(check_view(tx), NCOMMITS + 10);
    bolt_bucket *ob;
    ASSERT_OK(bolt_tx_bucket(tx, bolt_str("other"), &ob));
    unsigned others = 0;
    ASSERT_OK(bolt_bucket_for_each(ob, count_keys, &others));
    ASSERT_EQ_INT(others, OTHER_COMMITS);
    ASSERT_TRUE(bolt_tx_size(tx) > 4 * 256 * 1024); /* grew past the reservation */
    bolt_tx_rollback(tx);
    bt_check(db);
    ASSERT_OK(bolt_close(db));
    printf("figure: concurrency: %u + %u commits by two writers with a reader pinned throughout, "
           "%lu checked views by %d looping readers\n",
           NCOMMITS, OTHER_COMMITS, views, NREADERS);
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_readers_and_writer);
    return 0;
}
