/*
 * batch.c: bolt_batch, bbolt's DB.Batch. Concurrent callers share one write
 * transaction and one commit.
 *
 * Rules:
 *   1. db->batch (under db->mu) is the batch gathering calls, or NULL. A
 *      caller that finds none starts one and becomes its leader; the others
 *      add their call to it and wait.
 *   2. The batch closes when it holds batch_max_size calls (the caller that
 *      fills it wakes the leader) or when the leader's wait of
 *      batch_max_delay_ms ends; closing sets db->batch to NULL, so later
 *      callers start a new batch.
 *   3. The leader runs every call in one write transaction. When a call
 *      fails, the transaction is rolled back, that call is marked SOLO, and
 *      the rest run again (bbolt's trySolo); a SOLO call's own thread then
 *      runs it alone with bolt_update, so its status is its own.
 *   4. Calls live on their callers' stacks; the batch lives on the leader's.
 *      A caller leaves only once the leader has finished with every call
 *      (finished, even for a SOLO call: a retry still walks the list), and
 *      the leader leaves only after every caller has taken its result
 *      (pending == 0), so no stack memory is used after its frame ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "bolt_int.h"
#include "sync.h"

enum { CALL_WAITING, CALL_DONE, CALL_SOLO };

typedef struct batch_call {
    int (*fn)(bolt_tx *tx, void *arg);
    void *arg;
    int state; /* db->mu */
    int rc;    /* when DONE */
    struct batch_call *next;
} batch_call;

struct bolt__batch {
    batch_call *calls; /* in arrival order (reversed at run time) */
    size_t n, max;
    bool closed;       /* rule 2 */
    bool finished;     /* the leader is done with every call (rule 4) */
    size_t pending;    /* callers (not the leader) yet to take their result */
    pthread_cond_t cv; /* waits of the leader and the callers, with db->mu */
};

/* Run the calls still WAITING in one transaction (rule 3); db->mu not held. */
static void batch_run(bolt_db *db, batch_call *calls)
{
    for (;;) {
        bolt_tx *tx;
        int rc = bolt_tx_begin(db, BOLT_TX_WRITE, &tx);
        batch_call *failed = NULL;
        for (batch_call *c = calls; rc == 0 && c != NULL; c = c->next) {
            if (c->state != CALL_WAITING)
                continue;
            int frc = c->fn(tx, c->arg);
            if (frc != 0) {
                failed = c;
                break;
            }
        }
        if (failed != NULL) {
            bolt_tx_rollback(tx);
            pthread_mutex_lock(&db->mu);
            failed->state = CALL_SOLO;
            pthread_mutex_unlock(&db->mu);
            continue;
        }
        if (rc == 0)
            rc = bolt_tx_commit(tx);
        pthread_mutex_lock(&db->mu);
        for (batch_call *c = calls; c != NULL; c = c->next) {
            if (c->state == CALL_WAITING) {
                c->rc = rc;
                c->state = CALL_DONE;
            }
        }
        pthread_mutex_unlock(&db->mu);
        return;
    }
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The leader's part: gather, run, hand out results (rules 2-4); db->mu held. */
static void batch_lead(bolt_db *db, struct bolt__batch *b)
{
    unsigned delay = db->opt.batch_max_delay_ms ? db->opt.batch_max_delay_ms : 10;
    struct timespec until;
    deadline_after(&until, delay);
    while (!b->closed && pthread_cond_timedwait(&b->cv, &db->mu, &until) != ETIMEDOUT)
        ;
    if (db->batch == b)
        db->batch = NULL; /* rule 2: closed by the delay */
    b->closed = true;
    /* Run in arrival order: reverse the pushed list. */
    batch_call *order = NULL;
    for (batch_call *c = b->calls, *next; c != NULL; c = next) {
        next = c->next;
        c->next = order;
        order = c;
    }
    b->calls = order;
    pthread_mutex_unlock(&db->mu);
    batch_run(db, order);
    pthread_mutex_lock(&db->mu);
    b->finished = true;
    pthread_cond_broadcast(&b->cv);
    while (b->pending > 0)
        pthread_cond_wait(&b->cv, &db->mu);
}

int bolt_batch(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg)
{
    if (db == NULL)
        return BOLT_EDATABASENOTOPEN;
    if (fn == NULL)
        return STRATA_EMISUSE;
    if (db->read_only)
        return BOLT_EDATABASEREADONLY;
    batch_call call = { fn, arg, CALL_WAITING, 0, NULL };
    pthread_mutex_lock(&db->mu);
    struct bolt__batch *b = db->batch;
    if (b == NULL) {
        struct bolt__batch own = { .max = db->opt.batch_max_size ? db->opt.batch_max_size : 1000 };
        int rc = strata__cond_init(&own.cv, true);
        if (rc != 0) {
            pthread_mutex_unlock(&db->mu);
            return rc;
        }
        own.calls = &call;
        own.n = 1;
        db->batch = &own;
        if (own.n >= own.max) {
            own.closed = true;
            db->batch = NULL;
        }
        batch_lead(db, &own);
        pthread_mutex_unlock(&db->mu);
        pthread_cond_destroy(&own.cv);
    } else {
        call.next = b->calls;
        b->calls = &call;
        b->pending++;
        if (++b->n >= b->max) {
            b->closed = true; /* rule 2: full */
            db->batch = NULL;
            pthread_cond_broadcast(&b->cv);
        }
        while (!b->finished)
            pthread_cond_wait(&b->cv, &db->mu);
        if (--b->pending == 0)
            pthread_cond_broadcast(&b->cv); /* rule 4: the leader may leave */
        pthread_mutex_unlock(&db->mu);
    }
    if (call.state == CALL_SOLO)
        return bolt_update(db, fn, arg);
    return call.rc;
}
