/*
 * test_deferred.c: backend.c rule 12, deferred deletes
 * (backend_delete_deferred, backend_deferred_wait): queued without the
 * lock, invisible to nothing until the commit that takes them has finished,
 * applied after the batch's own writes, outside the batch lock while the
 * commit is in flight (held there by the "commit_write" failpoint), taken
 * and replayed into the copy while a defrag copies (rule 13), lost and
 * reported with a failed commit,
 * applied by close; the refusals; and a concurrent run (suite concurrency).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "backend_test.h"
#include "gate.h"
#include "strata_config.h"

/* Put "k0".."k<n-1>" = "v" and commit them. */
static void put_keys(backend *be, int n)
{
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("b")));
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", i);
        ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str(k), bolt_str("v")));
    }
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_force_commit(be));
}

/* Queue the deletion of the named keys of bucket b; returns the ticket. */
static uint64_t defer(backend *be, const char *const *names, size_t n)
{
    bolt_val keys[16];
    ASSERT_TRUE(n <= 16);
    for (size_t i = 0; i < n; i++)
        keys[i] = bolt_str(names[i]);
    uint64_t ticket = 0;
    ASSERT_OK(backend_delete_deferred(be, bolt_str("b"), keys, n, &ticket));
    ASSERT_TRUE(ticket > 0);
    return ticket;
}

/* Queued deletes change nothing until a commit takes them; then they are gone, durably. */
static void test_deferred_basic(void)
{
    strata_manual_clock clk; /* the interval never passes: only the wait commits */
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("basic.db", &o);
    put_keys(be, 4);
    uint64_t commits = backend_commits(be);
    static const char *const first[] = { "k1", "k3" };
    uint64_t t1 = defer(be, first, 2);
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 2);
    ASSERT_EQ_U64(backend_pending(be), 0); /* not batch writes */
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=v k1=v k2=v k3=v ");
    static const char *const second[] = { "k0" };
    uint64_t t2 = defer(be, second, 1);
    ASSERT_TRUE(t2 > t1);
    ASSERT_OK(backend_deferred_wait(be, t1)); /* asks for a commit; covers t2 too */
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k2=v ");
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 0);
    ASSERT_TRUE(backend_commits(be) > commits); /* a commit with nothing else pending */
    ASSERT_OK(backend_deferred_wait(be, t2));
    ASSERT_OK(backend_deferred_wait(be, 0));
    ASSERT_OK(backend_close(be));
    be = bk_open("basic.db", &o);
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k2=v ");
    ASSERT_OK(backend_close(be));
}

/* The refusals, and the deletes that delete nothing. */
static void test_deferred_refusals(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("refusals.db", &o);
    put_keys(be, 2);
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_create_bucket(tx, bolt_str("other")));
    ASSERT_OK(backend_batch_tx_unlock(tx));
    uint64_t t = 7;
    ASSERT_RC(backend_delete_deferred(be, bolt_str("b"), NULL, 1, &t), STRATA_EMISUSE);
    ASSERT_EQ_U64(t, 0);
    bolt_val two[2] = { bolt_str("k0"), bolt_str("") };
    ASSERT_RC(backend_delete_deferred(be, bolt_str("b"), two, 2, &t), BOLT_EKEYREQUIRED);
    static unsigned char big[32769];
    memset(big, 'x', sizeof big);
    two[1] = (bolt_val){ big, sizeof big };
    ASSERT_RC(backend_delete_deferred(be, bolt_str("b"), two, 2, &t), BOLT_EKEYTOOLARGE);
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 0); /* nothing of a refused call stays */
    ASSERT_OK(backend_delete_deferred(be, bolt_str("b"), NULL, 0, &t));
    ASSERT_OK(backend_deferred_wait(be, t));                     /* an empty call needs no commit */
    ASSERT_RC(backend_deferred_wait(be, t + 1), STRATA_EMISUSE); /* never handed out */
    /* Under the batch lock: queueing is fine, waiting would deadlock. */
    backend_batch_tx_lock(tx);
    bolt_val missing[3] = { bolt_str("nope"), bolt_str("other"), bolt_str("k0") };
    ASSERT_OK(backend_delete_deferred(be, bolt_str("other"), missing, 1, &t)); /* empty bucket */
    ASSERT_OK(backend_delete_deferred(be, bolt_str("gone"), missing, 1, &t));  /* no bucket */
    uint64_t t2;
    ASSERT_OK(backend_delete_deferred(be, bolt_str("b"), missing, 1, &t2)); /* no key */
    ASSERT_RC(backend_deferred_wait(be, t2), STRATA_EMISUSE);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_OK(backend_delete_deferred(be, bolt_str("b"), &missing[2], 1, &t));
    ASSERT_OK(backend_deferred_wait(be, t));
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k1=v ");
    ASSERT_EQ_STR(bk_scan(be, "other", "", "", 0, &s), "");
    ASSERT_OK(backend_close(be));

    /* Read-only. */
    o.read_only = true;
    be = bk_open("refusals.db", &o);
    ASSERT_RC(backend_delete_deferred(be, bolt_str("b"), two, 1, &t), BOLT_EDATABASEREADONLY);
    ASSERT_RC(backend_deferred_wait(be, 1), BOLT_EDATABASEREADONLY);
    ASSERT_OK(backend_close(be));
}

/* The batch's own writes go first: a key put after its delete was queued is deleted. */
static void test_deferred_after_batch_writes(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("order.db", &o);
    put_keys(be, 2);
    static const char *const k0[] = { "k0" };
    uint64_t t = defer(be, k0, 1);
    bk_put(be, "b", "k0", "again");
    bk_put(be, "b", "k5", "new");
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=again k1=v k5=new ");
    ASSERT_OK(backend_deferred_wait(be, t));
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k1=v k5=new ");
    ASSERT_OK(backend_close(be));
}

/* Close's commit takes what is queued. */
static void test_deferred_close_applies(void)
{
    strata_manual_clock clk;
    backend_options o = bk_opts(&clk);
    backend *be = bk_open("close.db", &o);
    put_keys(be, 3);
    static const char *const k[] = { "k0", "k2" };
    defer(be, k, 2);
    ASSERT_OK(backend_close(be));
    be = bk_open("close.db", &o);
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k1=v ");
    ASSERT_OK(backend_close(be));
}

#if STRATA_FAILPOINTS

typedef struct call {
    pthread_t th;
    backend *be;
    int rc;
} call;

static void *force_main(void *arg)
{
    call *c = arg;
    c->rc = backend_force_commit(c->be);
    return NULL;
}

static void *defrag_main(void *arg)
{
    call *c = arg;
    c->rc = backend_defrag(c->be, NULL);
    return NULL;
}

static void call_start(call *c, backend *be, void *(*fn)(void *))
{
    c->be = be;
    c->rc = 1;
    ASSERT_EQ_INT(pthread_create(&c->th, NULL, fn, c), 0);
}

static int call_join(call *c)
{
    pthread_join(c->th, NULL);
    return c->rc;
}

static backend *gated_open(const char *name, gate *g)
{
    backend_options o = bk_opts(NULL);
    o.batch_interval_ns = 3600ull * 1000000000u; /* only the test commits */
    o.failpoint = gate_failpoint;
    o.failpoint_arg = g;
    return bk_open(name, &o);
}

/*
 * The commit that took the queue is held before its write-out: writers go
 * on (the batch lock is free), readers still see the keys, deletes queued
 * now wait for the next commit; once it has finished the keys are gone.
 */
static void test_deferred_outside_the_lock(void)
{
    gate g;
    gate_init(&g, "commit_write", false);
    backend *be = gated_open("outside.db", &g);
    put_keys(be, 4);
    static const char *const k01[] = { "k0", "k1" };
    uint64_t t1 = defer(be, k01, 2);
    pthread_mutex_lock(&g.mu);
    g.armed = true;
    pthread_mutex_unlock(&g.mu);
    call c;
    call_start(&c, be, force_main);
    gate_wait_entered(&g, 1); /* BEGIN took the queue; WRITE is held */
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 0);
    static const char *const k2[] = { "k2" };
    uint64_t t2 = defer(be, k2, 1);
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 1);
    bk_put(be, "b", "w", "1"); /* does not wait for the commit in flight */
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=v k1=v k2=v k3=v w=1 ");
    gate_disarm(&g);
    ASSERT_OK(call_join(&c));
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k2=v k3=v w=1 ");
    ASSERT_OK(backend_deferred_wait(be, t1));
    ASSERT_OK(backend_deferred_wait(be, t2));
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k3=v w=1 ");
    ASSERT_OK(backend_close(be));
    gate_destroy(&g);
}

/* A failed commit loses its deletes and says so, to waiters and to later calls. */
static void test_deferred_failed_commit(void)
{
    gate g;
    gate_init(&g, "commit_write", false);
    backend *be = gated_open("failed.db", &g);
    put_keys(be, 2);
    pthread_mutex_lock(&g.mu);
    g.armed = true;
    g.fail_rc = -EIO;
    g.released = 1;
    pthread_mutex_unlock(&g.mu);
    static const char *const k0[] = { "k0" };
    uint64_t t = defer(be, k0, 1);
    ASSERT_RC(backend_deferred_wait(be, t), BACKEND_EFAILED);
    ASSERT_RC(backend_delete_deferred(be, bolt_str("b"), (bolt_val[]){ bolt_str("k1") }, 1, NULL),
              BACKEND_EFAILED);
    backend_close(be);
    gate_destroy(&g);
}

/*
 * Rule 13: while a defrag records changes (held before its copy, which reads
 * the state START committed), a delete queued without the lock is taken by
 * the next commit, and one asked for under the batch lock is a batch delete
 * in the same commit as the section's put; the copy that replaces the file
 * has both keys gone and the put there, also after a reopen.
 */
static void test_deferred_during_defrag(void)
{
    gate g;
    gate_init(&g, "defrag_before_copy", true);
    backend *be = gated_open("defrag.db", &g);
    put_keys(be, 4);
    call d;
    call_start(&d, be, defrag_main);
    gate_wait_entered(&g, 1); /* START done: the defrag records changes */
    static const char *const k1[] = { "k1" };
    uint64_t t1 = defer(be, k1, 1);
    ASSERT_OK(backend_force_commit(be)); /* takes the queue, defrag or not */
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 0);
    ASSERT_OK(backend_deferred_wait(be, t1));
    bk_str s;
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=v k2=v k3=v ");

    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    ASSERT_OK(backend_batch_tx_put(tx, bolt_str("b"), bolt_str("w"), bolt_str("1")));
    uint64_t pending = backend_pending(be);
    uint64_t t2 = 0;
    ASSERT_OK(backend_delete_deferred(be, bolt_str("b"), (bolt_val[]){ bolt_str("k2") }, 1, &t2));
    ASSERT_TRUE(t2 >= t1);                          /* covers what was queued before */
    ASSERT_EQ_SIZE(backend_deferred_queued(be), 0); /* a batch delete, not queued */
    ASSERT_EQ_U64(backend_pending(be), pending + 1);
    ASSERT_OK(backend_batch_tx_unlock(tx));
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=v k3=v w=1 ");

    gate_release(&g, 1);
    ASSERT_OK(call_join(&d));
    ASSERT_OK(backend_deferred_wait(be, t2));
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=v k3=v w=1 ");
    ASSERT_OK(backend_close(be));
    be = gated_open("defrag.db", &g);
    ASSERT_EQ_STR(bk_scan(be, "b", "", "", 0, &s), "k0=v k3=v w=1 ");
    ASSERT_OK(backend_close(be));
    gate_destroy(&g);
}

#endif /* STRATA_FAILPOINTS */

/* ---- concurrency: writers, readers and a deleter at once ------------------ */

#define CW    2    /* writer threads */
#define CPUTS 3000 /* puts per writer */
#define COLD  4000 /* keys the deleter removes */

typedef struct crun {
    backend *be;
    atomic_bool done;
    int id;
} crun;

static void *cwriter(void *arg)
{
    crun *r = arg;
    for (int i = 0; i < CPUTS; i++) {
        char k[32];
        snprintf(k, sizeof k, "w%d-%05d", r->id, i);
        bk_put(r->be, "b", k, "x");
    }
    return NULL;
}

static void *cdeleter(void *arg)
{
    crun *r = arg;
    char names[100][16];
    bolt_val keys[100];
    uint64_t prev = 0;
    for (int base = 0; base < COLD; base += 100) {
        for (int i = 0; i < 100; i++) {
            snprintf(names[i], sizeof names[i], "k%d", base + i);
            keys[i] = bolt_str(names[i]);
        }
        uint64_t t;
        ASSERT_OK(backend_delete_deferred(r->be, bolt_str("b"), keys, 100, &t));
        if (base % 1000 == 900) {
            ASSERT_OK(backend_deferred_wait(r->be, prev)); /* at most two rounds queued */
            prev = t;
        }
    }
    uint64_t last;
    ASSERT_OK(backend_delete_deferred(r->be, bolt_str("b"), NULL, 0, &last));
    ASSERT_OK(backend_deferred_wait(r->be, last));
    return NULL;
}

static int count_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)value;
    int *n = arg;
    if (key.size > 0 && ((const char *)key.data)[0] == 'k')
        n[0]++;
    else
        n[1]++;
    return 0;
}

/* A reader: every view has the old keys never coming back once gone, and writes only growing. */
static void *creader(void *arg)
{
    crun *r = arg;
    int last_old = COLD, last_new = 0;
    while (!atomic_load(&r->done)) {
        int n[2] = { 0, 0 };
        backend_read_tx *rt;
        ASSERT_OK(backend_read_tx_begin(r->be, &rt));
        ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("b"), count_fn, n));
        backend_read_tx_end(rt);
        ASSERT_LE_INT(n[0], last_old);
        ASSERT_GE_INT(n[1], last_new);
        last_old = n[0];
        last_new = n[1];
    }
    return NULL;
}

static void test_deferred_concurrent(void)
{
    backend_options o = bk_opts(NULL);
    o.batch_interval_ns = MS(2);
    o.batch_limit = 500;
    backend *be = bk_open("concurrent.db", &o);
    put_keys(be, COLD);
    crun w[CW], del = { .be = be }, rd = { .be = be };
    pthread_t tw[CW], td, tr;
    atomic_init(&rd.done, false);
    ASSERT_EQ_INT(pthread_create(&tr, NULL, creader, &rd), 0);
    for (int i = 0; i < CW; i++) {
        w[i] = (crun){ .be = be, .id = i };
        ASSERT_EQ_INT(pthread_create(&tw[i], NULL, cwriter, &w[i]), 0);
    }
    ASSERT_EQ_INT(pthread_create(&td, NULL, cdeleter, &del), 0);
    for (int i = 0; i < CW; i++)
        pthread_join(tw[i], NULL);
    pthread_join(td, NULL);
    atomic_store(&rd.done, true);
    pthread_join(tr, NULL);
    int n[2] = { 0, 0 };
    backend_read_tx *rt;
    ASSERT_OK(backend_read_tx_begin(be, &rt));
    ASSERT_OK(backend_read_tx_for_each(rt, bolt_str("b"), count_fn, n));
    backend_read_tx_end(rt);
    ASSERT_EQ_INT(n[0], 0);
    ASSERT_EQ_INT(n[1], CW * CPUTS);
    printf("concurrent: %llu commits\n", (unsigned long long)backend_commits(be));
    ASSERT_OK(backend_close(be));
}

int main(void)
{
    HARNESS_BEGIN(1);
    RUN(test_deferred_basic);
    RUN(test_deferred_refusals);
    RUN(test_deferred_after_batch_writes);
    RUN(test_deferred_close_applies);
#if STRATA_FAILPOINTS
    RUN(test_deferred_outside_the_lock);
    RUN(test_deferred_failed_commit);
    RUN(test_deferred_during_defrag);
#endif
    RUN(test_deferred_concurrent);
    return 0;
}
