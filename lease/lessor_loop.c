/*
 * lessor_loop.c: the lessor's loop (etcd's runLoop: revokeExpiredLeases and
 * checkpointScheduledLeases every 500 ms), on a thread of its own or run
 * by lease_lessor_poke.
 *
 * A pass, under l->mu: take the expired leases off the top of the expiry
 * queue, at most as many as the rate limiter allows, each put back at
 * now + the retry interval (etcd's expireExists: offered again if it is
 * still there then); take the due checkpoints. Then, with no lock held:
 * hand the IDs to on_expired in batches, and with auto_revoke revoke each
 * one that is still expired (a renew in between saves it).
 *
 * The thread sleeps tick_ns of wall time between passes (a condition
 * variable on CLOCK_MONOTONIC); what a pass does depends only on the
 * lessor's clock, so tests on a manual clock drive it with poke.
 */
#include "lease_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* Leases the rate limiter lets through now (SIZE_MAX: no limit); mu held. */
static size_t offer_limit(lease_lessor *l, uint64_t now)
{
    if (l->opt.expire_rate == 0)
        return SIZE_MAX;
    /* A bucket of one tick's worth (etcd: leaseRevokeRate / 2 per 500 ms), at least 1. */
    double cap = (double)l->opt.expire_rate * (double)l->opt.tick_ns / 1e9;
    if (cap < 1)
        cap = 1;
    if (l->tokens_at == 0 || now < l->tokens_at) {
        l->tokens = cap;
    } else {
        l->tokens += (double)l->opt.expire_rate * (double)(now - l->tokens_at) / 1e9;
        if (l->tokens > cap)
            l->tokens = cap;
    }
    l->tokens_at = now == 0 ? 1 : now;
    return (size_t)l->tokens;
}

/* An expired lease taken by the bulk path: its queue time (the order), then its ID. */
typedef struct due_lease {
    uint64_t time;
    int64_t id;
} due_lease;

static int cmp_due(const void *a, const void *b)
{
    const due_lease *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The pass takes the due leases in bulk when at least this share (1/N) of the queue is due. */
#define BULK_SHARE 8
#define BULK_MIN   1024

/*
 * The bulk form of the pass's offer loop (a mass expiry, no rate limit):
 * one sequential scan over the heap takes the due entries and a heapify
 * restores it, O(n), instead of one O(log n) sift per lease (a million
 * leases expiring together cost about a second of sifts through a 16 MB
 * heap under mu). The outcome is the loop's: each expired lease offered
 * and re-queued at retry, each due lease not expired re-queued at its
 * expiry; the IDs come ordered by queue time, ties by ID (the loop: ties
 * in heap order; in ID order the revokes that follow also delete the
 * lease records in key order). mu held. *ids: strata_malloc'd, the count
 * returned; -ENOMEM with the queue untouched (the loop then runs).
 */
static int take_due_bulk(lease_lessor *l, uint64_t now, uint64_t retry, int64_t **ids,
                         size_t *count)
{
    lease__queue *q = &l->expq;
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++)
        n += q->a[i].time <= now && lease__is_expired(l, q->a[i].lease, now);
    due_lease *d = strata_malloc((n > 0 ? n : 1) * sizeof *d);
    int64_t *out = strata_malloc((n > 0 ? n : 1) * sizeof *out);
    if (d == NULL || out == NULL) {
        strata_free(d);
        strata_free(out);
        return -ENOMEM;
    }
    size_t k = 0;
    bool sorted = true;
    /* Invariant: d[0, k) are the expired leases among a[0, i), each re-timed to retry. */
    for (size_t i = 0; i < q->n; i++) {
        lease__qent *e = &q->a[i];
        if (e->time > now)
            continue;
        if (!lease__is_expired(l, e->lease, now)) {
            e->time = e->lease->expiry_ns;
            continue;
        }
        d[k] = (due_lease){ e->time, e->lease->id };
        if (k > 0 && cmp_due(&d[k - 1], &d[k]) > 0)
            sorted = false;
        k++;
        e->time = retry;
    }
    lease__queue_heapify(q);
    if (!sorted)
        qsort(d, k, sizeof *d, cmp_due);
    for (size_t i = 0; i < k; i++)
        out[i] = d[i].id;
    strata_free(d);
    *ids = out;
    *count = k;
    return 0;
}

/* Take the due leases in bulk: no rate limit, and a large share of the queue due; mu held. */
static bool want_bulk(lease_lessor *l, uint64_t now)
{
    size_t qn = l->expq.n, share = qn / BULK_SHARE;
    return l->opt.expire_rate == 0 && qn >= BULK_MIN &&
           lease__queue_count_due(&l->expq, 0, now, share) >= share;
}

void lease__pass(lease_lessor *l)
{
    if (l->opt.no_clock)
        return;
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    lease__lock_spin(l); /* lessor.c rule 8 */
    uint64_t now = lease__now(l);
    uint64_t retry = now + l->opt.expired_retry_ns;
    if (retry < now)
        retry = UINT64_MAX - 1;
    if (l->primary && !(want_bulk(l, now) && take_due_bulk(l, now, retry, &ids, &n) == 0)) {
        size_t limit = offer_limit(l, now);
        const lease__qent *e;
        /* Invariant: ids[0, n) are expired leases, each re-queued at now + retry. */
        while (n < limit && (e = lease__queue_peek(&l->expq)) != NULL && e->time <= now) {
            lease__lease *ls = e->lease;
            if (!lease__is_expired(l, ls, now)) {
                (void)lease__queue_set(&l->expq, ls, ls->expiry_ns);
                continue;
            }
            if (n == cap) {
                size_t ncap = cap == 0 ? 256 : cap * 2;
                int64_t *v = strata_realloc(ids, ncap * sizeof *v);
                if (v == NULL)
                    break; /* the rest stay due: offered in a later pass */
                ids = v;
                cap = ncap;
            }
            ids[n++] = ls->id;
            (void)lease__queue_set(&l->expq, ls, retry);
        }
        if (l->opt.expire_rate != 0)
            l->tokens -= (double)n;
    }
    lease__take_checkpoints(l, now);
    lease_expired_fn fn = l->opt.on_expired;
    pthread_mutex_unlock(&l->mu);

    if (n > 0) {
        __atomic_add_fetch(&l->stats.offered, n, __ATOMIC_RELAXED);
        if (fn != NULL)
            for (size_t i = 0; i < n; i += l->opt.expire_batch) {
                size_t m = n - i < l->opt.expire_batch ? n - i : l->opt.expire_batch;
                fn(l->opt.on_expired_arg, ids + i, m);
            }
        if (l->opt.auto_revoke) {
            struct timespec c0, c1;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
            /* A failure leaves the rest expired: offered and revoked again after the retry. */
            (void)lease__revoke_expired_many(l, ids, n);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
            int64_t d = (int64_t)(c1.tv_sec - c0.tv_sec) * 1000000000 + (c1.tv_nsec - c0.tv_nsec);
            if (d > 0)
                __atomic_add_fetch(&l->stats.auto_revoke_cpu_ns, (uint64_t)d, __ATOMIC_RELAXED);
        }
    }
    strata_free(ids);
}

/*
 * Lowers the calling thread's priority by inc nice steps (capped at 19):
 * on Linux, setpriority(PRIO_PROCESS, tid) sets one thread's nice value,
 * and raising it needs no privilege. Best effort: a refusal (a sandbox)
 * leaves the thread as it was; it changes only how the thread is scheduled.
 */
static void lower_priority(int inc)
{
#ifdef __linux__
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int cur = getpriority(PRIO_PROCESS, (id_t)tid);
    if (cur == -1 && errno != 0)
        return;
    int want = cur + inc > 19 ? 19 : cur + inc;
    if (want > cur)
        (void)setpriority(PRIO_PROCESS, (id_t)tid, want);
#else
    (void)inc;
#endif
}

static void *loop_main(void *arg)
{
    lease_lessor *l = arg;
    if (l->opt.thread_nice > 0)
        lower_priority(l->opt.thread_nice);
    pthread_mutex_lock(&l->loop_mu);
    while (!l->stop) {
        uint64_t req = l->poke_req;
        pthread_mutex_unlock(&l->loop_mu);
        lease__pass(l);
        pthread_mutex_lock(&l->loop_mu);
        l->pass_done = req;
        pthread_cond_broadcast(&l->loop_cv);
        if (l->stop || l->poke_req != req)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec + l->opt.tick_ns % LEASE__NS_PER_S;
        ts.tv_sec += (time_t)(l->opt.tick_ns / LEASE__NS_PER_S + t / LEASE__NS_PER_S);
        ts.tv_nsec = (long)(t % LEASE__NS_PER_S);
        /* Invariant: leaves on a poke, a stop, or the tick's end. */
        while (!l->stop && l->poke_req == req)
            if (pthread_cond_timedwait(&l->loop_cv, &l->loop_mu, &ts) == ETIMEDOUT)
                break;
    }
    pthread_mutex_unlock(&l->loop_mu);
    return NULL;
}

int lease__loop_start(lease_lessor *l)
{
    int rc = pthread_create(&l->thread, NULL, loop_main, l);
    if (rc != 0)
        return -rc;
    l->thread_started = true;
    return 0;
}

void lease__loop_stop(lease_lessor *l)
{
    if (!l->thread_started)
        return;
    pthread_mutex_lock(&l->loop_mu);
    l->stop = true;
    pthread_cond_broadcast(&l->loop_cv);
    pthread_mutex_unlock(&l->loop_mu);
    pthread_join(l->thread, NULL);
    l->thread_started = false;
}

int lease_lessor_poke(lease_lessor *l)
{
    pthread_mutex_lock(&l->loop_mu);
    if (l->stop) {
        pthread_mutex_unlock(&l->loop_mu);
        return LEASE_ECLOSED;
    }
    if (!l->thread_started) {
        pthread_mutex_unlock(&l->loop_mu);
        lease__pass(l);
        return 0;
    }
    uint64_t my = ++l->poke_req;
    pthread_cond_broadcast(&l->loop_cv);
    while (l->pass_done < my && !l->stop)
        pthread_cond_wait(&l->loop_cv, &l->loop_mu);
    pthread_mutex_unlock(&l->loop_mu);
    return 0;
}
