/*
 * gate.h: a failpoint gate for the backend's threaded tests
 * (test_pipeline.c, test_deferred.c). Header-only, like crash_os.h. Set
 * gate_failpoint as backend_options.failpoint with the gate as its arg.
 *
 * A thread that reaches the gate's failpoint (`name`, fixed at init) while
 * the gate is armed is held there until the test releases it: the k-th
 * thread to enter waits until released >= k, then returns fail_rc. While
 * disarmed it passes, after sched_yield `yields` times (to widen a
 * window). armed, released, fail_rc and yields change under mu
 * (gate_release, gate_disarm), or before any thread can reach the
 * failpoint. No sleeps: the test waits with gate_wait_entered.
 */
#ifndef STRATA_TESTS_BACKEND_GATE_H
#define STRATA_TESTS_BACKEND_GATE_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>

typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *name; /* the failpoint it concerns */
    bool armed;       /* hold the threads that reach it (else pass through) */
    int entered;      /* threads that reached it while armed */
    int released;     /* threads allowed to go on */
    int fail_rc;      /* what a released thread's failpoint returns */
    int yields;       /* disarmed: sched_yield this many times */
} gate;

static inline void gate_init(gate *g, const char *name, bool armed)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->name = name;
    g->armed = armed;
}

static inline void gate_destroy(gate *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

static inline int gate_failpoint(void *arg, const char *name)
{
    gate *g = arg;
    if (strcmp(name, g->name) != 0)
        return 0;
    pthread_mutex_lock(&g->mu);
    if (!g->armed) {
        int y = g->yields;
        pthread_mutex_unlock(&g->mu);
        for (int i = 0; i < y; i++)
            sched_yield();
        return 0;
    }
    int me = ++g->entered;
    pthread_cond_broadcast(&g->cv);
    while (g->released < me)
        pthread_cond_wait(&g->cv, &g->mu);
    int rc = g->fail_rc;
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static inline void gate_wait_entered(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    while (g->entered < n)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static inline void gate_release(gate *g, int n)
{
    pthread_mutex_lock(&g->mu);
    g->released = n;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Stop holding, and let every thread held so far go on. */
static inline void gate_disarm(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->armed = false;
    g->released = g->entered;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

#endif
