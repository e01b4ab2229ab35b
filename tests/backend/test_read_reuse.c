/*
 * test_read_reuse.c: read_tx.c rule 4, kept read views. An ended view of
 * the current state is kept and handed to the next reader; anything that
 * changes what a new reader would see (a write's unlock, a commit, close)
 * makes it stale first, and a kept view never holds back what a commit
 * frees. Each test fails without the step it names: the reuse itself, the
 * publish's bump (a reader after an unlock would read the old value), the
 * commit's drop (the pages the commit freed would stay pending), close's
 * drop (close would report a reader still open).
 */
#include <pthread.h>
#include <sys/stat.h>

#include "backend_test.h"

/* A view: a kept one when there is one, else a begun one. */
static backend_read_tx *view_take(backend *be, bool *reused)
{
    backend_read_tx *rt;
    uint64_t tag;
    *reused = backend_read_tx_reuse(be, &rt, &tag);
    if (!*reused)
        ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_TRUE(rt != NULL);
    return rt;
}

static const char *view_get(backend_read_tx *rt, const char *key, bk_str *s)
{
    s->len = 0;
    s->buf[0] = '\0';
    ASSERT_OK(backend_read_tx_range(rt, bolt_str("b"), bolt_str(key), (bolt_val){ NULL, 0 }, 0,
                                    bk_append, s));
    return s->len == 0 ? "(none)" : s->buf;
}

static backend *open_quiet(const char *name)
{
    backend_options o = bk_opts(NULL);
    o.batch_interval_ns = 3600ull * 1000000000u; /* commits only when asked */
    backend *be = bk_open(name, &o);
    bk_bucket(be, "b");
    return be;
}

/* The view ended last is handed out again, tag and all, and reads the same. */
static void test_kept_and_reused(void)
{
    backend *be = open_quiet("kept.db");
    bk_put(be, "b", "k", "v1");
    ASSERT_OK(backend_force_commit(be));
    backend_read_tx *a, *b;
    uint64_t tag = 99;
    ASSERT_FALSE(backend_read_tx_reuse(be, &a, &tag)); /* nothing kept yet */
    ASSERT_TRUE(a == NULL);
    ASSERT_OK(backend_read_tx_begin(be, &a));
    backend_read_tx_set_tag(a, 42);
    ASSERT_TRUE(backend_read_tx_current(a));
    bk_str s;
    ASSERT_EQ_STR(view_get(a, "k", &s), "k=v1 ");
    backend_read_tx_end(a);
    ASSERT_EQ_SIZE(backend_read_tx_open(be), 0); /* a kept view is not an open one */
    ASSERT_TRUE(backend_read_tx_reuse(be, &b, &tag));
    ASSERT_TRUE(b == a);
    ASSERT_EQ_U64(tag, 42);
    ASSERT_EQ_SIZE(backend_read_tx_open(be), 1);
    ASSERT_EQ_STR(view_get(b, "k", &s), "k=v1 ");
    /* A second reader meanwhile begins its own; both are kept at the end. */
    backend_read_tx *c;
    ASSERT_FALSE(backend_read_tx_reuse(be, &c, NULL));
    ASSERT_OK(backend_read_tx_begin(be, &c));
    backend_read_tx_end(b);
    backend_read_tx_end(c);
    backend_read_tx *d, *e;
    ASSERT_TRUE(backend_read_tx_reuse(be, &d, NULL));
    ASSERT_TRUE(backend_read_tx_reuse(be, &e, NULL));
    ASSERT_TRUE((d == b && e == c) || (d == c && e == b));
    backend_read_tx_end(d);
    backend_read_tx_end(e);
    /* A view with a cursor left open is not kept (bolt_tx_reusable). */
    ASSERT_TRUE(backend_read_tx_reuse(be, &a, NULL));
    ASSERT_TRUE(backend_read_tx_reuse(be, &b, NULL));
    bolt_bucket *bk;
    ASSERT_OK(bolt_tx_bucket(backend_read_tx_bolt(a), bolt_str("b"), &bk));
    bolt_cursor *cur;
    ASSERT_OK(bolt_cursor_open(bk, &cur));
    backend_read_tx_end(a); /* torn down with its cursor */
    backend_read_tx_end(b);
    ASSERT_TRUE(backend_read_tx_reuse(be, &a, NULL));
    ASSERT_TRUE(a == b);
    ASSERT_FALSE(backend_read_tx_reuse(be, &c, NULL));
    backend_read_tx_end(a);
    ASSERT_OK(backend_close(be));
}

/*
 * Backend rule 3 with kept views: a view kept before a write's unlock is
 * never handed to a reader that begins after it; nor after a commit began.
 */
static void test_unlock_and_commit_make_stale(void)
{
    backend *be = open_quiet("stale.db");
    bk_put(be, "b", "k", "v1");
    ASSERT_OK(backend_force_commit(be));
    bk_str s;
    bool reused;
    backend_read_tx *rt = view_take(be, &reused);
    ASSERT_EQ_STR(view_get(rt, "k", &s), "k=v1 ");
    backend_read_tx_end(rt); /* kept */

    bk_put(be, "b", "k", "v2"); /* published at unlock: the kept view is stale */
    rt = view_take(be, &reused);
    ASSERT_FALSE(reused);
    ASSERT_EQ_STR(view_get(rt, "k", &s), "k=v2 ");
    /* A view held across the unlock is not kept at its end either. */
    backend_read_tx *old = rt;
    bk_put(be, "b", "k", "v3");
    ASSERT_FALSE(backend_read_tx_current(old));
    ASSERT_EQ_STR(view_get(old, "k", &s), "k=v2 "); /* a view never changes */
    backend_read_tx_end(old);
    rt = view_take(be, &reused);
    ASSERT_FALSE(reused);
    ASSERT_EQ_STR(view_get(rt, "k", &s), "k=v3 ");
    backend_read_tx_end(rt);

    /* A delete too; then a commit, though it changes nothing a reader sees. */
    rt = view_take(be, &reused);
    ASSERT_TRUE(reused);
    backend_read_tx_end(rt);
    bk_del(be, "b", "k");
    rt = view_take(be, &reused);
    ASSERT_FALSE(reused);
    ASSERT_EQ_STR(view_get(rt, "k", &s), "(none)");
    backend_read_tx_end(rt);
    ASSERT_OK(backend_force_commit(be));
    rt = view_take(be, &reused);
    ASSERT_FALSE(reused); /* BEGIN ended it */
    ASSERT_EQ_STR(view_get(rt, "k", &s), "(none)");
    backend_read_tx_end(rt);
    ASSERT_OK(backend_close(be));
}

/* Fill "b" with n keys of 200 bytes, commit, delete them all (buffered). */
static void fill_and_delete(backend *be, int n)
{
    char key[32], val[201];
    memset(val, 'x', 200);
    val[200] = '\0';
    backend_batch_tx *tx = backend_batch(be);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key-%06d", i);
        backend_batch_tx_lock(tx);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(key), bolt_str(val)));
        ASSERT_OK(backend_batch_tx_unlock(tx));
    }
    ASSERT_OK(backend_force_commit(be));
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "key-%06d", i);
        bk_del(be, "b", key);
    }
}

static uint64_t file_size(const char *name)
{
    char path[4096];
    harness_path(path, sizeof path, name);
    struct stat st;
    ASSERT_TRUE(stat(path, &st) == 0);
    return (uint64_t)st.st_size;
}

/*
 * A kept view idle across commits must not hold back what a commit frees:
 * the commit's BEGIN ends it (before bolt commits and begins the next
 * writer, whose begin releases the pages no reader can see), so the pages
 * are released as if no reader had been there. The same steps without any
 * reader are the reference.
 */
static void test_kept_view_pins_nothing(void)
{
    uint64_t in_use[2], size[2];
    const char *names[2] = { "pin-ref.db", "pin-kept.db" };
    for (int kept = 0; kept < 2; kept++) {
        backend *be = open_quiet(names[kept]);
        fill_and_delete(be, 3000);
        if (kept) {
            bool reused;
            backend_read_tx *rt = view_take(be, &reused);
            bk_str s;
            ASSERT_EQ_STR(view_get(rt, "key-000001", &s), "(none)");
            backend_read_tx_end(rt); /* kept: its bolt reader is at the commit before */
            rt = view_take(be, &reused);
            ASSERT_TRUE(reused);
            backend_read_tx_end(rt);
        }
        ASSERT_OK(backend_force_commit(be)); /* frees every leaf of "b" */
        /* Those pages become allocatable two commits later (each commit's
         * logging reader, vtx, sees the state before it). */
        for (int i = 0; i < 2; i++) {
            bk_put(be, "b", "k", "v");
            ASSERT_OK(backend_force_commit(be));
        }
        in_use[kept] = backend_size_in_use(be);
        size[kept] = backend_size(be);
        ASSERT_OK(backend_close(be));
    }
    printf("size in use two commits after the delete's: %" PRIu64 " without a reader, %" PRIu64
           " with a view kept before it (size %" PRIu64 " / %" PRIu64 ")\n",
           in_use[0], in_use[1], size[0], size[1]);
    ASSERT_EQ_U64(in_use[1], in_use[0]);
    ASSERT_EQ_U64(size[1], size[0]);
    ASSERT_TRUE(in_use[0] < size[0] / 4); /* the pages were released */
    ASSERT_EQ_U64(file_size(names[1]), file_size(names[0]));
}

/* Close ends kept views: it reports no reader open and frees them (ASan). */
static void test_close_drops_kept(void)
{
    backend *be = open_quiet("close.db");
    bk_put(be, "b", "k", "v1");
    backend_read_tx *a, *b;
    ASSERT_OK(backend_read_tx_begin(be, &a));
    ASSERT_OK(backend_read_tx_begin(be, &b));
    backend_read_tx_end(a);
    backend_read_tx_end(b);
    ASSERT_OK(backend_close(be)); /* BOLT_ETXACTIVE if a kept view counted */
}

/* A defrag's switch-over publishes: views of the old db are not kept past it. */
static void test_defrag_drops_kept(void)
{
    backend *be = open_quiet("defrag.db");
    fill_and_delete(be, 500);
    bk_put(be, "b", "k", "v1");
    ASSERT_OK(backend_force_commit(be));
    bool reused;
    backend_read_tx *rt = view_take(be, &reused);
    backend_read_tx_end(rt);
    ASSERT_OK(backend_defrag(be, NULL));
    rt = view_take(be, &reused);
    ASSERT_FALSE(reused);
    bk_str s;
    ASSERT_EQ_STR(view_get(rt, "k", &s), "k=v1 ");
    backend_read_tx_end(rt);
    ASSERT_OK(backend_close(be));
}

/*
 * Threads: readers that take kept views while a writer puts and commits.
 * Rule 3 under reuse: a reader that begins after the writer's unlock of
 * value i (it read done >= i first) must see a value >= i, and a view
 * never changes while held.
 */
#define RW_READERS 3
#define RW_PUTS    3000

typedef struct rw_shared {
    backend *be;
    uint64_t done; /* atomic: the last value whose unlock returned */
    bool stop;     /* atomic */
    uint64_t reused[RW_READERS], reads[RW_READERS];
    int bad[RW_READERS];
} rw_shared;

typedef struct rw_reader {
    rw_shared *sh;
    int id;
} rw_reader;

static uint64_t view_value(backend_read_tx *rt)
{
    bk_str s;
    const char *v = view_get(rt, "k", &s);
    unsigned long long x = 0;
    if (sscanf(v, "k=%llu", &x) != 1)
        return 0;
    return x;
}

static void *rw_reader_main(void *arg)
{
    rw_reader *r = arg;
    rw_shared *sh = r->sh;
    while (!__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
        uint64_t done = __atomic_load_n(&sh->done, __ATOMIC_ACQUIRE);
        backend_read_tx *rt;
        bool reused = backend_read_tx_reuse(sh->be, &rt, NULL);
        if (!reused && backend_read_tx_begin(sh->be, &rt) != 0) {
            sh->bad[r->id]++;
            break;
        }
        uint64_t v = view_value(rt);
        if (v < done || view_value(rt) != v)
            sh->bad[r->id]++;
        backend_read_tx_end(rt);
        sh->reused[r->id] += reused;
        sh->reads[r->id]++;
    }
    return NULL;
}

static void test_readers_and_writer(void)
{
    backend_options o = bk_opts(NULL);
    o.batch_interval_ns = 3600ull * 1000000000u;
    backend *be = bk_open("threads.db", &o);
    bk_bucket(be, "b");
    bk_put(be, "b", "k", "0");
    rw_shared sh = { .be = be };
    rw_reader rs[RW_READERS];
    pthread_t th[RW_READERS];
    for (int i = 0; i < RW_READERS; i++) {
        rs[i] = (rw_reader){ &sh, i };
        ASSERT_TRUE(pthread_create(&th[i], NULL, rw_reader_main, &rs[i]) == 0);
    }
    char val[32];
    for (uint64_t i = 1; i <= RW_PUTS; i++) {
        snprintf(val, sizeof val, "%llu", (unsigned long long)i);
        bk_put(be, "b", "k", val);
        __atomic_store_n(&sh.done, i, __ATOMIC_RELEASE);
        if (i % 100 == 0)
            ASSERT_OK(backend_force_commit(be));
        /* Let the readers reuse for a while between some writes. */
        if (i % 10 == 0) {
            for (int spin = 0; spin < 2000; spin++) {
                bool r;
                backend_read_tx *rt = view_take(be, &r);
                ASSERT_TRUE(view_value(rt) == i);
                backend_read_tx_end(rt);
                if (spin > 50 && r)
                    break;
            }
        }
    }
    __atomic_store_n(&sh.stop, true, __ATOMIC_RELEASE);
    uint64_t reads = 0, reused = 0;
    for (int i = 0; i < RW_READERS; i++) {
        ASSERT_TRUE(pthread_join(th[i], NULL) == 0);
        ASSERT_EQ_INT(sh.bad[i], 0);
        reads += sh.reads[i];
        reused += sh.reused[i];
    }
    printf("%d puts, %" PRIu64 " reads by %d readers, %" PRIu64 " of them on kept views\n", RW_PUTS,
           reads, RW_READERS, reused);
    ASSERT_EQ_SIZE(backend_read_tx_open(be), 0);
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_kept_and_reused);
    RUN(test_unlock_and_commit_make_stale);
    RUN(test_kept_view_pins_nothing);
    RUN(test_close_drops_kept);
    RUN(test_defrag_drops_kept);
    RUN(test_readers_and_writer);
    return 0;
}
