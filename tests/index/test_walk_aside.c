/*
 * test_walk_aside.c: tree_index.c rule 3, deterministically. A chunked
 * walk (compact: write lock; keep: read lock) is held by a gate at the
 * second key of its first chunk, with the lock. Another thread then asks
 * for the lock: a lookup (a put begins with one) or a put. Once that
 * thread is seen waiting, the gate opens, and the walk's next key must be
 * the first of a new chunk: the walk stepped aside before it, rather than
 * finishing its chunk of up to 64 keys while the other thread waits.
 * During a keep walk a lookup shares the read lock and returns while the
 * gate is still closed. No sleeps: the test waits on the gate's condition
 * variable and on the tree's waiter count.
 *
 * Needs the walk hook (idx_int.h), compiled with -Dfailpoints=true.
 */
#define HARNESS_STRERROR(rc) idx_strerror(rc)
#include <strata/idx.h>

#include <pthread.h>
#include <sched.h>

#include "../../index/idx_int.h"
#include "../harness.h"

#if STRATA_FAILPOINTS

enum { NKEYS = 1000, GATE_AT = 1 };

/* Holds the walk at key GATE_AT of its first chunk; records the next key's n. */
typedef struct walk_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;  /* the walk is held at the gate, with the lock */
    bool released; /* the test opened the gate */
    bool passed;   /* the gate is behind the walk */
    long next_n;   /* n at the walk's first key after the gate (-1: none yet) */
    long calls;
} walk_gate;

static void gate_hook(void *arg, size_t n)
{
    walk_gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->calls++;
    if (!g->passed && g->calls == GATE_AT + 1) {
        ASSERT_EQ_SIZE(n, GATE_AT); /* the first chunk's second key */
        g->entered = true;
        pthread_cond_broadcast(&g->cv);
        while (!g->released)
            pthread_cond_wait(&g->cv, &g->mu);
        g->passed = true;
    } else if (g->passed && g->next_n < 0) {
        g->next_n = (long)n;
    }
    pthread_mutex_unlock(&g->mu);
}

static void gate_init(walk_gate *g)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = g->released = g->passed = false;
    g->next_n = -1;
    g->calls = 0;
}

static void gate_destroy(walk_gate *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static void gate_wait_entered(walk_gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_release(walk_gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->released = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static int key_of(int i, char *buf)
{
    return snprintf(buf, 32, "key-%08d", i);
}

/* NKEYS keys, two revisions each: key i at i + 1 and NKEYS + i + 1. */
static idx_tree *base_tree(void)
{
    idx_tree *t;
    ASSERT_OK(idx_tree_new(&t));
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < NKEYS; i++) {
            char k[32];
            int n = key_of(i, k);
            ASSERT_OK(idx_tree_put(t, k, (size_t)n, (idx_rev){ round * NKEYS + i + 1, 0 }));
        }
    return t;
}

typedef struct walker {
    idx_tree *t;
    bool compact;
    int64_t at;
    int rc;
    size_t kept;
} walker;

static void *walker_run(void *arg)
{
    walker *w = arg;
    idx_rev_set *keep = NULL;
    w->rc = w->compact ? idx_tree_compact(w->t, w->at, &keep) : idx_tree_keep(w->t, w->at, &keep);
    if (w->rc == 0)
        w->kept = idx_rev_set_count(keep);
    idx_rev_set_free(keep);
    return NULL;
}

typedef struct other {
    idx_tree *t;
    bool put;   /* else a lookup */
    int key;    /* a key the walk has not reached at the gate */
    int64_t at; /* the put's revision, or the lookup's */
    int rc;
    idx_rev got;
} other;

static void *other_run(void *arg)
{
    other *o = arg;
    char k[32];
    int n = key_of(o->key, k);
    if (o->put)
        o->rc = idx_tree_put(o->t, k, (size_t)n, (idx_rev){ o->at, 0 });
    else
        o->rc = idx_tree_get(o->t, k, (size_t)n, o->at, &o->got, NULL, NULL);
    return NULL;
}

/*
 * A compaction walk held at the gate (write lock); `put` chooses the
 * waiter: a put (a writer) or a lookup (a reader).
 */
static void check_compaction_steps_aside(bool put)
{
    idx_tree *t = base_tree();
    walk_gate g;
    gate_init(&g);
    idx__walk_hook_arg = &g;
    idx__walk_hook = gate_hook;

    walker w = { t, true, NKEYS, -1, 0 }; /* drops every key's first revision */
    pthread_t wt, ot;
    ASSERT_EQ_INT(pthread_create(&wt, NULL, walker_run, &w), 0);
    gate_wait_entered(&g);

    other o = { t, put, NKEYS / 2, put ? 2 * NKEYS + 1 : 2 * NKEYS, -1, { 0, 0 } };
    ASSERT_EQ_INT(pthread_create(&ot, NULL, other_run, &o), 0);
    /* The walk holds the lock at the gate: the other thread must wait. */
    while (!idx__tree_someone_waits(t))
        sched_yield();
    gate_release(&g);
    ASSERT_EQ_INT(pthread_join(ot, NULL), 0);
    ASSERT_EQ_INT(pthread_join(wt, NULL), 0);
    idx__walk_hook = NULL;

    ASSERT_OK(w.rc);
    ASSERT_EQ_SIZE(w.kept, NKEYS); /* each key's second revision */
    ASSERT_OK(o.rc);
    if (!put)
        ASSERT_EQ_INT(o.got.main, NKEYS + NKEYS / 2 + 1);
    /* Rule 3: the key after the gate began a new chunk. */
    ASSERT_EQ_INT(g.next_n, 0);
    gate_destroy(&g);

    char why[256];
    int rc = idx_tree_check(t, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "check: %s\n", why);
    ASSERT_OK(rc);
    idx_tree_free(t);
}

static void test_compaction_steps_aside_for_lookup(void)
{
    check_compaction_steps_aside(false);
}

static void test_compaction_steps_aside_for_put(void)
{
    check_compaction_steps_aside(true);
}

/* A keep walk holds a read lock: a lookup shares it, the gate still closed. */
static void test_keep_shares_with_lookup(void)
{
    idx_tree *t = base_tree();
    walk_gate g;
    gate_init(&g);
    idx__walk_hook_arg = &g;
    idx__walk_hook = gate_hook;

    walker w = { t, false, NKEYS, -1, 0 };
    pthread_t wt, ot;
    ASSERT_EQ_INT(pthread_create(&wt, NULL, walker_run, &w), 0);
    gate_wait_entered(&g);
    other o = { t, false, NKEYS / 2, 2 * NKEYS, -1, { 0, 0 } };
    ASSERT_EQ_INT(pthread_create(&ot, NULL, other_run, &o), 0);
    ASSERT_EQ_INT(pthread_join(ot, NULL), 0); /* returns while the walk is held */
    ASSERT_OK(o.rc);
    ASSERT_EQ_INT(o.got.main, NKEYS + NKEYS / 2 + 1);
    gate_release(&g);
    ASSERT_EQ_INT(pthread_join(wt, NULL), 0);
    idx__walk_hook = NULL;
    ASSERT_OK(w.rc);
    ASSERT_EQ_SIZE(w.kept, NKEYS);
    ASSERT_EQ_INT(g.next_n, GATE_AT + 1); /* nobody waited: the chunk went on */
    gate_destroy(&g);
    idx_tree_free(t);
}

#endif /* STRATA_FAILPOINTS */

int main(void)
{
    HARNESS_BEGIN(1);
#if STRATA_FAILPOINTS
    RUN(test_compaction_steps_aside_for_lookup);
    RUN(test_compaction_steps_aside_for_put);
    RUN(test_keep_shares_with_lookup);
#else
    printf("failpoints not compiled in: the walk-aside tests need the walk hook\n");
#endif
    return 0;
}
