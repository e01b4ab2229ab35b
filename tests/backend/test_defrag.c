/* test_defrag.c: backend/defrag.c (copy + replay, bounded pause, crash safety). */
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend_test.h"
#include "strata_config.h"

#define NK 12000

static void key_of(char *buf, size_t n, char kind, int i)
{
    snprintf(buf, n, "%c%07d", kind, i);
}

static void fill(backend *be, int n)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("key")));
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("meta")));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    char val[120];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < n; i += 1000) {
        backend_batch_tx_lock(tx);
        for (int j = i; j < i + 1000 && j < n; j++) {
            char k[16];
            key_of(k, sizeof k, 'k', j);
            ASSERT_OK(backend_batch_tx_seq_put(tx, bolt_str("key"), bolt_str(k), bolt_str(val)));
        }
        ASSERT_OK(backend_batch_tx_unlock(tx));
    }
    ASSERT_OK(backend_force_commit(be));
}

/* Keep k keys i % 4 == 0; the rest goes. */
static void delete_most(backend *be, int n)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    for (int j = 0; j < n; j++) {
        if (j % 4 == 0)
            continue;
        char k[16];
        key_of(k, sizeof k, 'k', j);
        ASSERT_OK(backend_batch_tx_delete(tx, bolt_str("key"), bolt_str(k)));
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_force_commit(be));
    ASSERT_OK(backend_force_commit(be));
}

typedef struct counts {
    bool hooked; /* the failpoint hook deleted k keys 4, 12, 20, ... < 4000 */
    int k, w, x;
    int bad;
} counts;

static int count_kind(void *arg, bolt_val key, bolt_val value)
{
    counts *c = arg;
    char kind = ((const char *)key.data)[0];
    int i = atoi((const char *)key.data + 1);
    if (kind == 'k') {
        c->k++;
        c->bad += i % 4 != 0 || (c->hooked && i % 8 == 4 && i < 4000);
    } else if (kind == 'w') {
        c->w++;
    } else if (kind == 'x') {
        c->x++;
    }
    return 0;
}

static counts count_all(backend *be, bool hooked)
{
    counts c = { .hooked = hooked };
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("key"), count_kind, &c));
    backend_read_tx_end(rt);
    return c;
}

/* ---- a writer thread during defrag ----------------------------------------- */

typedef struct wctx {
    backend *be;
    int stop; /* atomic */
    int written;
    int failures;
} wctx;

static void *writer(void *arg)
{
    wctx *w = arg;
    backend_batch_tx *tx = backend_batch(w->be);
    /* Loop invariant: w0000000 .. w<written - 1> are put (3000 at most, so the file can shrink). */
    while ((!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) || w->written < 200) &&
           w->written < 3000) {
        char k[16];
        key_of(k, sizeof k, 'w', w->written);
        backend_batch_tx_lock(tx);
        int rc = backend_batch_tx_put(tx, bolt_str("key"), bolt_str(k), bolt_str("written"));
        int urc = backend_batch_tx_unlock(tx);
        if (rc != 0 || urc != 0) {
            w->failures++;
            break;
        }
        w->written++;
    }
    return NULL;
}

typedef struct hook {
    backend *be;
    const char *crash_at;  /* _exit here (a crash) */
    const char *fail_at;   /* return -EIO here */
    int during_copy_calls; /* writes made at defrag_before_copy */
    int nested_rc;
} hook;

static int on_failpoint(void *arg, const char *name)
{
    hook *h = arg;
    if (h->crash_at != NULL && strcmp(name, h->crash_at) == 0)
        _exit(0);
    if (h->fail_at != NULL && strcmp(name, h->fail_at) == 0)
        return -EIO;
    if (strcmp(name, "defrag_before_copy") == 0 && h->be != NULL) {
        /* Writes after the snapshot: they must be replayed into the copy. */
        h->nested_rc = backend_defrag(h->be, NULL);
        backend_batch_tx *tx = backend_batch(h->be);
        backend_batch_tx_lock(tx);
        for (int i = 4; i < 4000; i += 8) {
            char k[16];
            key_of(k, sizeof k, 'k', i);
            if (backend_batch_tx_delete(tx, bolt_str("key"), bolt_str(k)) != 0)
                return -EINVAL;
        }
        for (int i = 0; i < 700; i++) {
            char k[16];
            key_of(k, sizeof k, 'x', i);
            if (backend_batch_tx_put(tx, bolt_str("key"), bolt_str(k), bolt_str("x")) != 0)
                return -EINVAL;
        }
        h->during_copy_calls++;
        if (backend_batch_tx_unlock(tx) != 0)
            return -EINVAL;
    }
    return 0;
}

static void check_report(void *arg, const char *problem)
{
    fprintf(stderr, "  check: %s\n", problem);
}

static void bolt_check_file(const char *name)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    bolt_options o;
    bolt_options_init(&o);
    o.mmap_reserve = 64u << 20;
    bolt_db *db;
    ASSERT_OK(bolt_open(path, &o, &db));
    bolt_tx *tx;
    ASSERT_OK(bolt_tx_begin(db, 0, &tx));
    ASSERT_OK(bolt_tx_check(tx, check_report, NULL));
    bolt_tx_rollback(tx);
    ASSERT_OK(bolt_close(db));
}

/* Every key survives, the file shrinks, a writer runs meanwhile. */
static void test_defrag_keeps_keys_and_shrinks(void)
{
    backend_options o = bk_opts(NULL);
    hook h = { 0 };
    o.failpoint = on_failpoint;
    o.failpoint_arg = &h;
    backend *be = bk_open("shrink.db", &o);
    fill(be, NK);
    delete_most(be, NK);
    uint32_t hash_before;
    ASSERT_OK(backend_hash(be, NULL, 0, &hash_before));
    backend_read_tx *old_reader;
    ASSERT_OK(backend_read_tx_begin(be, &old_reader));

    wctx w = { be, 0, 0, 0 };
    pthread_t t;
    ASSERT_OK(-pthread_create(&t, NULL, writer, &w));
    h.be = be;
    backend_defrag_stats st;
    int rc = backend_defrag(be, &st);
    h.be = NULL;
    __atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(w.failures, 0);
#if STRATA_FAILPOINTS
    ASSERT_EQ_INT(h.during_copy_calls, 1);
    ASSERT_RC(h.nested_rc, BACKEND_EDEFRAGBUSY);
    ASSERT_TRUE(st.keys_replayed >= 700 + 500);
#endif
    ASSERT_TRUE(st.keys_copied >= NK / 4);
    ASSERT_TRUE(st.stall_ns <= st.total_ns);
    fprintf(stderr,
            "defrag: %llu -> %llu bytes, %llu copied, %llu replayed, %.1f ms, stall %.3f ms\n",
            (unsigned long long)st.size_before, (unsigned long long)st.size_after,
            (unsigned long long)st.keys_copied, (unsigned long long)st.keys_replayed,
            st.total_ns / 1e6, st.stall_ns / 1e6);
    ASSERT_TRUE(st.size_after < st.size_before / 2);

    /* The reader begun before defrag still reads the old file, whole. */
    counts c = { .hooked = false };
    ASSERT_OK(backend_read_tx_for_each(old_reader, bolt_str("key"), count_kind, &c));
    ASSERT_EQ_INT(c.k, NK / 4);
    backend_read_tx_end(old_reader);

    c = count_all(be, STRATA_FAILPOINTS);
    ASSERT_EQ_INT(c.bad, 0);
    ASSERT_EQ_INT(c.w, w.written);
#if STRATA_FAILPOINTS
    ASSERT_EQ_INT(c.k, NK / 4 - 500);
    ASSERT_EQ_INT(c.x, 700);
#endif
    /* Writes go on into the new file and survive a reopen. */
    bk_put(be, "key", "z", "after");
    ASSERT_OK(backend_close(be));
    bolt_check_file("shrink.db");
    o.failpoint = NULL;
    be = bk_open("shrink.db", &o);
    counts c2 = count_all(be, STRATA_FAILPOINTS);
    ASSERT_EQ_INT(c2.bad, 0);
    ASSERT_EQ_INT(c2.k, c.k);
    ASSERT_EQ_INT(c2.w, c.w);
    bk_str s;
    ASSERT_EQ_STR(bk_get(be, "key", "z", &s), "z=after ");
    char tmp[4096];
    ASSERT_TRUE(access(harness_path(tmp, sizeof tmp, "shrink.db.defrag.tmp"), F_OK) != 0);
    ASSERT_OK(backend_close(be));
}

/* Without writers the copy hashes the same as the original. */
static void test_defrag_same_hash(void)
{
    backend_options o = bk_opts(NULL);
    backend *be = bk_open("hash.db", &o);
    fill(be, 3000);
    delete_most(be, 3000);
    bk_put(be, "meta", "consistent_index", "42");
    uint32_t h0, h1;
    ASSERT_OK(backend_force_commit(be));
    ASSERT_OK(backend_hash(be, NULL, 0, &h0));
    backend_defrag_stats st;
    ASSERT_OK(backend_defrag(be, &st));
    ASSERT_OK(backend_hash(be, NULL, 0, &h1));
    ASSERT_EQ_HEX(h1, h0);
    ASSERT_EQ_U64(st.keys_copied, 3000 / 4 + 1);
    ASSERT_OK(backend_close(be));
}

#if STRATA_FAILPOINTS
/* A failure before the rename keeps the old db and removes the copy. */
static void test_defrag_failure_keeps_old(void)
{
    const char *points[] = { "defrag_before_copy", "defrag_before_final", "defrag_before_rename",
                             "defrag_after_rename" };
    for (int p = 0; p < 4; p++) {
        backend_options o = bk_opts(NULL);
        hook h = { .fail_at = points[p] };
        o.failpoint = on_failpoint;
        o.failpoint_arg = &h;
        char name[64];
        snprintf(name, sizeof name, "fail%d.db", p);
        backend *be = bk_open(name, &o);
        fill(be, 2000);
        delete_most(be, 2000);
        bk_put(be, "key", "x0000001", "pending"); /* uncommitted, must survive */
        ASSERT_RC(backend_defrag(be, NULL), -EIO);
        char tmp[4200], path[4096];
        harness_path(path, sizeof path, name);
        snprintf(tmp, sizeof tmp, "%s.defrag.tmp", path);
        ASSERT_TRUE(access(tmp, F_OK) != 0);
        counts c = count_all(be, false);
        ASSERT_EQ_INT(c.k, 500);
        ASSERT_EQ_INT(c.x, 1);
        bk_put(be, "key", "x0000002", "later");
        ASSERT_OK(backend_close(be));
        o.failpoint = NULL;
        be = bk_open(name, &o);
        c = count_all(be, false);
        ASSERT_EQ_INT(c.k, 500);
        ASSERT_EQ_INT(c.x, 2);
        ASSERT_OK(backend_close(be));
        bolt_check_file(name);
    }
}

/* A crash at any point leaves a whole file (old or new); open cleans up. */
static void test_defrag_crash_points(void)
{
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_UNDER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(TEST_UNDER_TSAN)
    fprintf(stderr, "skipped under TSan (fork)\n");
    return;
#endif
    const char *points[] = { "defrag_before_copy", "defrag_before_final", "defrag_before_rename",
                             "defrag_after_rename" };
    for (int p = 0; p < 4; p++) {
        char name[64], path[4096], tmp[4200];
        snprintf(name, sizeof name, "crash%d.db", p);
        harness_path(path, sizeof path, name);
        snprintf(tmp, sizeof tmp, "%s.defrag.tmp", path);
        fflush(NULL);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            backend_options o = bk_opts(NULL);
            bolt_options bo = *o.bolt;
            bo.no_sync = false;
            o.bolt = &bo;
            hook h = { .crash_at = points[p] };
            o.failpoint = on_failpoint;
            o.failpoint_arg = &h;
            backend *be;
            if (backend_open(path, &o, &be) != 0)
                _exit(2);
            fill(be, 2000);
            delete_most(be, 2000);
            backend_defrag(be, NULL);
            _exit(3); /* the crash point was not reached */
        }
        int status;
        ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ_INT(WEXITSTATUS(status), 0);
        bool left = access(tmp, F_OK) == 0;
        ASSERT_TRUE(left == (p == 1 || p == 2)); /* the copy exists from COPY to the rename */
        backend_options o = bk_opts(NULL);
        backend *be = bk_open(name, &o);
        ASSERT_TRUE(access(tmp, F_OK) != 0);
        counts c = count_all(be, false);
        ASSERT_EQ_INT(c.k, 500);
        ASSERT_EQ_INT(c.bad, 0);
        ASSERT_OK(backend_close(be));
        bolt_check_file(name);
    }
}
#endif

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_defrag_keeps_keys_and_shrinks);
    RUN(test_defrag_same_hash);
#if STRATA_FAILPOINTS
    RUN(test_defrag_failure_keeps_old);
    RUN(test_defrag_crash_points);
#endif
    return 0;
}
