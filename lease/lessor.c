/*
 * lessor.c: etcd 3.4's lessor (lease/lessor.go): open and recover, grant,
 * revoke, renew, lookup, attach/detach, checkpoints, promote/demote.
 * The loop (expiry offers, auto-revoke, checkpoint pass) is
 * lessor_loop.c; the heaps lease_queue.c; the tables lease_map.c.
 *
 * Rules:
 *   1. Lock order: the backend's batch lock, then l->mu (lease.h). Every
 *      write of a lease record happens under the batch lock: grant and the
 *      standalone revoke take it; a revoke through the range deleter holds
 *      it through the store's write transaction; the commit hook runs
 *      under it.
 *   2. A revoke deletes the keys and the record in one backend batch
 *      transaction (the store's write transaction holds the batch lock from
 *      begin to end, so no commit can fall between the two).
 *   3. A lease record is written by grant ({ID, TTL}) and by the commit
 *      hook for a dirty lease ({ID, TTL, RemainingTTL}, a checkpoint); it
 *      is deleted by revoke, which also drops the lease from dirty_ids so
 *      the hook can never write a revoked lease back.
 *   4. Renew writes nothing; a renew that clears a checkpointed remaining
 *      TTL marks the lease dirty (the hook rewrites it once).
 *   5. An auto-revoke pass of at least defer_min leases (a mass expiry)
 *      queues its records' deletes with backend_delete_deferred instead,
 *      while the revoke's txn holds the batch lock: the next commit takes
 *      the queue at its BEGIN and applies it in the same bolt transaction
 *      as the batch that holds the keys' tombstones (rule 2 still holds;
 *      the queue is applied on the committing thread, outside the store's
 *      write lock). Until the commit that deletes them has finished, a
 *      grant of one of the pass's IDs waits (a grant's record written
 *      before that commit would be deleted by it): the pass publishes its
 *      IDs (pend_ids) first and waits for its last ticket at its end.
 *      While a defragmentation runs, the backend deletes them through the
 *      batch instead (backend.c rule 13), so they still share the keys'
 *      commit.
 *   6. An auto-revoke pass warms the next revokes ahead of them (warm_ahead):
 *      the lessor's side (the table slot, the lease, its items, what
 *      removing them writes) in short holds of mu, then the store's side
 *      (the range deleter's prefetch: its index entries) with no lock of
 *      the lessor held. The first window is warmed before a batch takes
 *      the store's write lock; the batch then tops it up every
 *      WARM_WINDOW / 2 revokes, a whole window at a time, so the misses
 *      overlap instead of stalling one revoke after another. A hint only:
 *      every find under the lock is done again.
 *   7. The store's puts take mu spinning first (lease__lock_spin): attach,
 *      detach, a key's lease and a lease's lookup. The pass's short holds
 *      (rule 6) come right when a writer it let in runs its put.
 *   8. So do the pass (lessor_loop.c), its revokes and the commit hook
 *      (lease__flush_dirty): a put holds mu for one lookup, and a pass
 *      that slept on it meanwhile made the put's unlock pay a futex
 *      wake-up (8-16 us on this VM; 2.0-2.4 ms per 1M-lease expiry, in
 *      the putter's slow puts alone: docs/lease.md, session 11).
 */
#include "lease_int.h"

#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "grow.h"
#include "leasepb.h"

static const bolt_val lease_bucket = { "lease", 5 };

uint64_t lease__now(lease_lessor *l)
{
    return l->clock->now_ns(l->clock);
}

static void stat_add(uint64_t *c, uint64_t n)
{
    __atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

void lease_options_init(lease_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

/* Seconds to nanoseconds, saturating (a TTL may be up to 9e9 s). */
static uint64_t s_to_ns(int64_t s)
{
    if (s <= 0)
        return 0;
    if ((uint64_t)s > UINT64_MAX / LEASE__NS_PER_S)
        return UINT64_MAX;
    return (uint64_t)s * LEASE__NS_PER_S;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* etcd's Lease.RemainingTTL: the checkpointed remaining TTL if set, else the TTL. */
static int64_t lease_remaining_ttl(const lease__lease *ls)
{
    return ls->remaining_ttl > 0 ? ls->remaining_ttl : ls->ttl;
}

/* etcd's refresh(extend): expiry = now + extend + RemainingTTL. Never FOREVER. */
static uint64_t refreshed_expiry(uint64_t now, uint64_t extend, const lease__lease *ls)
{
    uint64_t e = sat_add(sat_add(now, extend), s_to_ns(lease_remaining_ttl(ls)));
    return e == LEASE__FOREVER ? e - 1 : e;
}

static int64_t remaining_ns(const lease__lease *ls, uint64_t now)
{
    if (ls->expiry_ns == LEASE__FOREVER)
        return INT64_MAX;
    if (ls->expiry_ns >= now) {
        uint64_t d = ls->expiry_ns - now;
        return d > (uint64_t)INT64_MAX ? INT64_MAX - 1 : (int64_t)d;
    }
    uint64_t d = now - ls->expiry_ns;
    return d > (uint64_t)INT64_MAX ? INT64_MIN : -(int64_t)d;
}

/* ---- dirty records and the commit hook ----------------------------------- */

/* Marks ls for the commit hook (rule 3); mu held. 0 or -ENOMEM. */
static int mark_dirty(lease_lessor *l, lease__lease *ls)
{
    if (ls->dirty)
        return 0;
    if (l->ndirty == l->dirty_cap) {
        size_t cap = l->dirty_cap == 0 ? 64 : l->dirty_cap * 2;
        int64_t *d = strata_realloc(l->dirty_ids, cap * sizeof *d);
        if (d == NULL)
            return -ENOMEM;
        l->dirty_ids = d;
        l->dirty_cap = cap;
    }
    l->dirty_ids[l->ndirty++] = ls->id;
    ls->dirty = true;
    return 0;
}

static int put_record(backend_batch_tx *tx, const lease__lease *ls)
{
    uint8_t key[LEASE__KEY_LEN], val[LEASE__PB_MAX];
    size_t n;
    lease__pb pb = { ls->id, ls->ttl, ls->remaining_ttl };
    lease__key_encode(ls->id, key);
    int rc = lease__pb_encode(&pb, val, sizeof val, &n);
    if (rc != 0)
        return rc;
    return backend_batch_tx_put(tx, lease_bucket, (bolt_val){ key, sizeof key },
                                (bolt_val){ val, n });
}

int lease__flush_dirty(lease_lessor *l, backend_batch_tx *tx)
{
    int rc = 0;
    lease__lock_spin(l); /* rule 8 */
    size_t done = 0;
    /* Invariant: dirty_ids[0, done) are written (or revoked since). */
    for (; done < l->ndirty; done++) {
        lease__lease *ls = lease__ltable_find(&l->leases, l->dirty_ids[done]);
        if (ls == NULL || !ls->dirty)
            continue;
        if ((rc = put_record(tx, ls)) != 0)
            break;
        ls->dirty = false;
        stat_add(&l->stats.records_written, 1);
    }
    /* What was not written stays for the next commit. */
    if (done > 0)
        memmove(l->dirty_ids, l->dirty_ids + done, (l->ndirty - done) * sizeof *l->dirty_ids);
    l->ndirty -= done;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int commit_hook(void *arg, backend_batch_tx *tx)
{
    return lease__flush_dirty(arg, tx);
}

/* ---- open and close ------------------------------------------------------- */

static void set_errmsg(const lease_options *o, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void set_errmsg(const lease_options *o, const char *fmt, ...)
{
    if (o->errmsg == NULL || o->errmsg_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->errmsg, o->errmsg_size, fmt, ap);
    va_end(ap);
}

static void free_lease(lease__lease *ls)
{
    lease__item *it = ls->items;
    while (it != NULL) {
        lease__item *next = it->next;
        strata_free(it);
        it = next;
    }
    strata_free(ls);
}

static lease__lease *new_lease(lease_lessor *l, int64_t id, int64_t ttl, int64_t remaining)
{
    lease__lease *ls = strata_calloc(1, sizeof *ls);
    if (ls == NULL)
        return NULL;
    ls->id = id;
    ls->ttl = ttl;
    ls->remaining_ttl = remaining;
    ls->expiry_ns = LEASE__FOREVER;
    ls->seq = ++l->next_seq;
    ls->qidx[0] = ls->qidx[1] = LEASE__NOQ;
    return ls;
}

typedef struct load_ctx {
    lease_lessor *l;
    int rc;
} load_ctx;

static void key_hex(char *out, const uint8_t *k, size_t n)
{
    size_t m = n > 16 ? 16 : n;
    for (size_t i = 0; i < m; i++)
        sprintf(out + 2 * i, "%02x", k[i]);
    if (n > m)
        strcpy(out + 2 * m, "...");
}

/* One record of the bucket (etcd's unsafeGetAllLeases + initAndRecover). */
static int load_record(void *arg, bolt_val key, bolt_val value)
{
    load_ctx *c = arg;
    lease_lessor *l = c->l;
    char hex[40];
    key_hex(hex, key.data, key.size);
    lease__pb pb;
    int rc = lease__pb_decode(value.data, value.size, &pb);
    if (rc != 0) {
        set_errmsg(&l->opt, "lease record with key %s: not a leasepb.Lease (%s)", hex,
                   strata_strerror(rc));
        return LEASE_ECORRUPT;
    }
    char why[96];
    if (lease__record_check(key.data, key.size, &pb, why, sizeof why) != 0) {
        set_errmsg(&l->opt, "lease record with key %s: %s", hex, why);
        return LEASE_ECORRUPT;
    }
    if (pb.ttl < 0 || pb.remaining_ttl < 0) {
        set_errmsg(&l->opt, "lease record %016" PRIx64 ": negative %s (%" PRId64 ")",
                   (uint64_t)pb.id, pb.ttl < 0 ? "TTL" : "RemainingTTL",
                   pb.ttl < 0 ? pb.ttl : pb.remaining_ttl);
        return LEASE_ECORRUPT;
    }
    if (pb.ttl < l->opt.min_ttl)
        pb.ttl = l->opt.min_ttl;
    lease__lease *ls = new_lease(l, pb.id, pb.ttl, pb.remaining_ttl);
    if (ls == NULL)
        return -ENOMEM;
    if ((rc = lease__ltable_insert(&l->leases, ls)) != 0) {
        strata_free(ls);
        return rc;
    }
    return 0;
}

static void free_all(lease_lessor *l)
{
    for (size_t i = 0; i < l->leases.nb; i++) {
        lease__lease *ls = l->leases.b[i];
        while (ls != NULL) {
            lease__lease *next = ls->hnext;
            free_lease(ls);
            ls = next;
        }
    }
    lease__ltable_release(&l->leases);
    lease__itable_release(&l->items);
    lease__queue_release(&l->expq);
    lease__queue_release(&l->cpq);
    strata_free(l->dirty_ids);
}

int lease_lessor_open(backend *be, const lease_options *opt, lease_lessor **out)
{
    *out = NULL;
    if (be == NULL)
        return STRATA_EMISUSE;
    lease_lessor *l = strata_calloc(1, sizeof *l);
    if (l == NULL)
        return -ENOMEM;
    lease_options_init(&l->opt);
    if (opt != NULL) {
        size_t n = opt->size == 0 || opt->size > sizeof l->opt ? sizeof l->opt : opt->size;
        memcpy(&l->opt, opt, n);
        l->opt.size = sizeof l->opt;
    }
    if (l->opt.min_ttl < 0)
        l->opt.min_ttl = 0;
    if (l->opt.tick_ns == 0)
        l->opt.tick_ns = 500 * UINT64_C(1000000);
    if (l->opt.expired_retry_ns == 0)
        l->opt.expired_retry_ns = 3 * LEASE__NS_PER_S;
    if (l->opt.expire_batch == 0)
        l->opt.expire_batch = 1000;
    if (l->opt.revoke_batch == 0)
        l->opt.revoke_batch = LEASE__REVOKE_BATCH;
    if (l->opt.thread_nice == 0)
        l->opt.thread_nice = LEASE_DEFAULT_THREAD_NICE;
    l->defer_min = 1024; /* rule 5 */
    if (l->opt.checkpoint_interval_ns == 0)
        l->opt.checkpoint_interval_ns = 300 * LEASE__NS_PER_S;
    l->be = be;
    l->clock = l->opt.clock != NULL ? l->opt.clock : strata_clock_monotonic();
    l->checkpoints = !l->opt.checkpoint_off && !l->opt.no_clock;
    pthread_mutex_t *const mus[] = { &l->mu, &l->loop_mu };
    int rc = strata__mutexes_init(mus, 2); /* all or none, -errno */
    if (rc == 0) {
        rc = strata__cond_init(&l->revoke_cv, false);
        if (rc == 0) {
            rc = strata__cond_init(&l->loop_cv, true);
            if (rc != 0)
                pthread_cond_destroy(&l->revoke_cv);
        }
        if (rc != 0) {
            pthread_mutex_destroy(&l->loop_mu);
            pthread_mutex_destroy(&l->mu);
        }
    }
    if (rc != 0) {
        strata_free(l);
        return rc;
    }
    lease__queue_init(&l->expq, LEASE__Q_EXPIRY);
    lease__queue_init(&l->cpq, LEASE__Q_CHECKPOINT);

    /* etcd's initAndRecover: create the bucket, load every record. */
    backend_batch_tx *tx = backend_batch(be);
    backend_batch_tx_lock(tx);
    rc = backend_batch_tx_create_bucket(tx, lease_bucket);
    if (rc == 0) {
        load_ctx c = { l, 0 };
        rc = backend_batch_tx_for_each(tx, lease_bucket, load_record, &c);
    }
    int urc = backend_batch_tx_unlock(tx);
    if (rc == 0)
        rc = urc;
    if (rc == 0)
        rc = backend_force_commit(be);
    if (rc == 0)
        rc = backend_commit_hook_add(be, commit_hook, l, &l->hook);
    if (rc == 0 && !l->opt.no_thread)
        rc = lease__loop_start(l);
    if (rc != 0) {
        if (l->hook != NULL)
            backend_commit_hook_remove(be, l->hook);
        free_all(l);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->revoke_cv);
        pthread_mutex_destroy(&l->loop_mu);
        pthread_cond_destroy(&l->loop_cv);
        strata_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int lease_lessor_close(lease_lessor *l)
{
    if (l == NULL)
        return 0;
    lease__loop_stop(l);
    /* Wake renews waiting on expired leases and wait for them to leave. */
    pthread_mutex_lock(&l->mu);
    l->closing = true;
    pthread_cond_broadcast(&l->revoke_cv);
    while (l->renew_waiters > 0)
        pthread_cond_wait(&l->revoke_cv, &l->mu);
    pthread_mutex_unlock(&l->mu);

    /* The checkpoints not yet committed go into the batch (rule 3). */
    backend_batch_tx *tx = backend_batch(l->be);
    backend_batch_tx_lock(tx);
    int rc = lease__flush_dirty(l, tx);
    int urc = backend_batch_tx_unlock(tx);
    if (rc == 0)
        rc = urc;
    int hrc = backend_commit_hook_remove(l->be, l->hook);
    if (rc == 0)
        rc = hrc;
    free_all(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->revoke_cv);
    pthread_mutex_destroy(&l->loop_mu);
    pthread_cond_destroy(&l->loop_cv);
    strata_free(l);
    return rc;
}

void lease_lessor_set_range_deleter(lease_lessor *l, const lease_range_deleter *rd)
{
    pthread_mutex_lock(&l->mu);
    /* A revoke still using the old deleter (the store about to close) finishes first. */
    while (l->rd_users > 0)
        pthread_cond_wait(&l->revoke_cv, &l->mu);
    if (rd != NULL) {
        l->rd = *rd;
        l->have_rd = true;
    } else {
        memset(&l->rd, 0, sizeof l->rd);
        l->have_rd = false;
    }
    pthread_mutex_unlock(&l->mu);
}

/* ---- checkpoints ---------------------------------------------------------- */

/* etcd's scheduleCheckpointIfNeeded; mu held. A lease already scheduled keeps its time. */
static void schedule_checkpoint(lease_lessor *l, lease__lease *ls, uint64_t now)
{
    if (!l->checkpoints || ls->qidx[LEASE__Q_CHECKPOINT] != LEASE__NOQ)
        return;
    uint64_t interval_s = l->opt.checkpoint_interval_ns / LEASE__NS_PER_S;
    if ((uint64_t)lease_remaining_ttl(ls) > interval_s)
        (void)lease__queue_set(&l->cpq, ls, sat_add(now, l->opt.checkpoint_interval_ns));
    /* Out of memory only skips this lease's checkpoints (it keeps its full TTL). */
}

/* etcd's Checkpoint; mu held. */
static void apply_checkpoint(lease_lessor *l, lease__lease *ls, int64_t remaining, uint64_t now)
{
    ls->remaining_ttl = remaining;
    if (l->checkpoints)
        (void)mark_dirty(l, ls); /* out of memory: persisted with a later checkpoint */
    stat_add(&l->stats.checkpoints, 1);
    if (l->primary)
        schedule_checkpoint(l, ls, now);
}

void lease__take_checkpoints(lease_lessor *l, uint64_t now)
{
    if (!l->checkpoints || !l->primary)
        return;
    const lease__qent *e;
    /* etcd's findDueScheduledCheckpoints, without its per-pass batch cap. */
    while ((e = lease__queue_peek(&l->cpq)) != NULL && e->time <= now) {
        lease__lease *ls = lease__queue_pop(&l->cpq);
        if (lease__is_expired(l, ls, now))
            continue;
        int64_t rem = (int64_t)((ls->expiry_ns - now + LEASE__NS_PER_S - 1) / LEASE__NS_PER_S);
        if (rem >= ls->ttl) {
            /* Renewed within the last second: nothing to record; look again later. */
            schedule_checkpoint(l, ls, now);
            continue;
        }
        apply_checkpoint(l, ls, rem, now);
    }
}

int lease_checkpoint(lease_lessor *l, int64_t id, int64_t remaining_ttl)
{
    pthread_mutex_lock(&l->mu);
    lease__lease *ls = lease__ltable_find(&l->leases, id);
    if (ls != NULL)
        apply_checkpoint(l, ls, remaining_ttl < 0 ? 0 : remaining_ttl, lease__now(l));
    pthread_mutex_unlock(&l->mu);
    return 0;
}

/* ---- grant, revoke, renew ------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Rule 5: a grant of an ID whose record delete is pending waits for it; mu held. */
static void wait_pending_delete(lease_lessor *l, int64_t id)
{
    if (l->pend_ids == NULL || bsearch(&id, l->pend_ids, l->pend_n, sizeof id, cmp_id) == NULL)
        return;
    l->pend_waiters++;
    while (l->pend_ids != NULL && bsearch(&id, l->pend_ids, l->pend_n, sizeof id, cmp_id) != NULL)
        pthread_cond_wait(&l->revoke_cv, &l->mu);
    l->pend_waiters--;
}

int lease_grant(lease_lessor *l, int64_t id, int64_t ttl, int64_t *granted_ttl)
{
    /* etcd's checks, in etcd's order. */
    if (id == LEASE_NONE)
        return LEASE_ENOTFOUND;
    if (ttl > LEASE_MAX_TTL)
        return LEASE_ETTLTOOLARGE;
    /*
     * Rule 5, before the batch lock (the commit waited for needs it): no
     * revoke can queue a new delete of id meanwhile, since id is not a lease.
     */
    pthread_mutex_lock(&l->mu);
    wait_pending_delete(l, id);
    pthread_mutex_unlock(&l->mu);
    backend_batch_tx *tx = backend_batch(l->be);
    backend_batch_tx_lock(tx); /* rule 1 */
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    if (lease__ltable_find(&l->leases, id) != NULL) {
        rc = LEASE_EEXISTS;
        goto out;
    }
    if (ttl < l->opt.min_ttl)
        ttl = l->opt.min_ttl;
    lease__lease *ls = new_lease(l, id, ttl, 0);
    if (ls == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    uint64_t now = lease__now(l);
    if (l->primary) {
        ls->expiry_ns = refreshed_expiry(now, 0, ls);
        if ((rc = lease__queue_set(&l->expq, ls, ls->expiry_ns)) != 0) {
            strata_free(ls);
            goto out;
        }
    }
    if ((rc = lease__ltable_insert(&l->leases, ls)) != 0) {
        lease__queue_remove(&l->expq, ls);
        strata_free(ls);
        goto out;
    }
    if ((rc = put_record(tx, ls)) != 0) {
        lease__ltable_remove(&l->leases, ls);
        lease__queue_remove(&l->expq, ls);
        strata_free(ls);
        goto out;
    }
    if (l->primary)
        schedule_checkpoint(l, ls, now);
    stat_add(&l->stats.granted, 1);
    if (granted_ttl != NULL)
        *granted_ttl = ttl;
out:
    pthread_mutex_unlock(&l->mu);
    int urc = backend_batch_tx_unlock(tx);
    return rc != 0 ? rc : urc;
}

static void detach_item(lease_lessor *l, lease__item *it)
{
    lease__lease *ls = it->lease;
    if (it->prev != NULL)
        it->prev->next = it->next;
    else
        ls->items = it->next;
    if (it->next != NULL)
        it->next->prev = it->prev;
    ls->nitems--;
    ls->key_bytes -= it->len;
    lease__itable_remove(&l->items, it);
    strata_free(it);
}

/* Drops ls from every structure and frees it; mu held. */
static void remove_lease(lease_lessor *l, lease__lease *ls)
{
    while (ls->items != NULL)
        detach_item(l, ls->items);
    lease__queue_remove(&l->expq, ls);
    lease__queue_remove(&l->cpq, ls);
    lease__ltable_remove(&l->leases, ls);
    ls->dirty = false; /* rule 3: its ID in dirty_ids now finds nothing */
    free_lease(ls);
    /* Only renews of expired leases wait for a removal (counted under mu). */
    if (l->renew_waiters > 0)
        pthread_cond_broadcast(&l->revoke_cv);
}

static int cmp_vals(const void *a, const void *b)
{
    const bolt_val *x = a, *y = b;
    size_t n = x->size < y->size ? x->size : y->size;
    int c = n > 0 ? memcmp(x->data, y->data, n) : 0;
    if (c != 0)
        return c;
    return x->size < y->size ? -1 : x->size > y->size;
}

/*
 * ls's keys, sorted, copied into one block (they must survive detach); mu
 * held. The keys are copied first, in list order, and the copies sorted:
 * the comparisons then read one compact block instead of items scattered
 * over the heap (a revoke of 100,000 keys spent most of its sort in cache
 * misses on the items).
 */
static int sorted_keys(const lease__lease *ls, lease_keys **out)
{
    size_t total = 0;
    for (const lease__item *it = ls->items; it != NULL; it = it->next)
        total += it->len;
    lease_keys *k = strata_malloc(sizeof *k + ls->nitems * sizeof(bolt_val) + total + 1);
    if (k == NULL)
        return -ENOMEM;
    k->n = ls->nitems;
    k->keys = (bolt_val *)(k + 1);
    uint8_t *p = (uint8_t *)(k->keys + k->n);
    size_t n = 0;
    for (const lease__item *it = ls->items; it != NULL; it = it->next) {
        if (it->len > 0)
            memcpy(p, it->key, it->len);
        k->keys[n++] = (bolt_val){ p, it->len };
        p += it->len;
    }
    qsort(k->keys, n, sizeof *k->keys, cmp_vals);
    *out = k;
    return 0;
}

void lease_keys_free(lease_keys *k)
{
    strata_free(k);
}

/* Revoke with no range deleter: the record in a batch transaction of its own. */
static int revoke_standalone(lease_lessor *l, int64_t id, bool only_expired)
{
    backend_batch_tx *tx = backend_batch(l->be);
    backend_batch_tx_lock(tx);
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    lease__lease *ls = lease__ltable_find(&l->leases, id);
    if (ls == NULL || (only_expired && !lease__is_expired(l, ls, lease__now(l)))) {
        rc = LEASE_ENOTFOUND;
    } else {
        uint8_t key[LEASE__KEY_LEN];
        lease__key_encode(id, key);
        rc = backend_batch_tx_delete(tx, lease_bucket, (bolt_val){ key, sizeof key });
        if (rc == 0)
            remove_lease(l, ls);
    }
    pthread_mutex_unlock(&l->mu);
    int urc = backend_batch_tx_unlock(tx);
    return rc != 0 ? rc : urc;
}

/*
 * ls's keys into kb, sorted (key_sort.c); mu held. 0 or -ENOMEM. One walk
 * of the list (its bytes are counted as keys attach): each step is a cache
 * miss on an item somewhere in the heap.
 */
static int keybuf_fill(lease__keybuf *kb, const lease__lease *ls)
{
    int rc = lease__keybuf_reserve(kb, ls->nitems, ls->key_bytes);
    if (rc != 0)
        return rc;
    for (const lease__item *it = ls->items; it != NULL; it = it->next)
        lease__keybuf_push(kb, it->key, it->len);
    return lease__keybuf_sort(kb);
}

/*
 * The lessor's side of the next revokes of a batch, fetched ahead: each
 * revoke follows a chain of dependent cache misses through tables of
 * millions (the table slot, the lease, its first item, the item's
 * neighbours in its hash chain, which removing it writes), so each step
 * is prefetched one revoke before it is needed: next[3]'s slot, next[2]'s
 * lease, next[1]'s first item, next[0]'s item's chain neighbours and its
 * expiry queue slot. The finds below hit lines fetched by the steps
 * before. mu held.
 */
static void prefetch_ahead(lease_lessor *l, const int64_t *next, size_t nnext)
{
    if (nnext > 3)
        lease__ltable_prefetch(&l->leases, next[3], false);
    if (nnext > 2)
        lease__ltable_prefetch(&l->leases, next[2], true);
    if (nnext > 1) {
        const lease__lease *ls = lease__ltable_find(&l->leases, next[1]);
        if (ls != NULL && ls->items != NULL)
            __builtin_prefetch(ls->items, 1);
    }
    if (nnext > 0) {
        const lease__lease *ls = lease__ltable_find(&l->leases, next[0]);
        if (ls == NULL)
            return;
        if (ls->qidx[LEASE__Q_EXPIRY] < l->expq.n)
            __builtin_prefetch(&l->expq.a[ls->qidx[LEASE__Q_EXPIRY]], 1);
        const lease__item *it = ls->items;
        if (it != NULL) {
            if (it->hpprev != NULL)
                __builtin_prefetch(it->hpprev, 1);
            if (it->hnext != NULL)
                __builtin_prefetch(&it->hnext->hpprev, 1);
        }
    }
}

/*
 * Rule 6: the next revokes of a pass, warmed. A window of WARM_WINDOW
 * leases, at most WARM_KEYS keys of at most WARM_KEY_MAX bytes copied out
 * (a key of a lease revoked meanwhile must not be read after mu is
 * released), the IDs up to `upto` warmed so far.
 */
#define WARM_WINDOW  32
#define WARM_KEYS    64
#define WARM_KEY_MAX 128

typedef struct warm_state {
    size_t upto;
    size_t nkeys;
    bolt_val keys[WARM_KEYS];
    uint8_t bytes[WARM_KEYS * 32];
} warm_state;

/*
 * Warms ids[from, to) (to - from <= WARM_WINDOW), in stages so that each
 * stage's misses overlap: the table slots, then the chains' first leases,
 * then each lease's first item, its queue slot and its items' chain
 * neighbours; the keys are copied out and handed to the store's prefetch
 * after mu is released.
 */
static void warm_ahead(lease_lessor *l, const lease_range_deleter *rd, const int64_t *ids,
                       size_t from, size_t to, warm_state *w)
{
    const lease__lease *ls[WARM_WINDOW];
    size_t m = to - from, used = 0;
    w->nkeys = 0;
    lease__lock_spin(l); /* rule 8 */
    for (size_t j = 0; j < m; j++)
        lease__ltable_prefetch(&l->leases, ids[from + j], false);
    for (size_t j = 0; j < m; j++)
        lease__ltable_prefetch(&l->leases, ids[from + j], true);
    for (size_t j = 0; j < m; j++) {
        ls[j] = lease__ltable_find(&l->leases, ids[from + j]);
        if (ls[j] != NULL && ls[j]->items != NULL)
            __builtin_prefetch(ls[j]->items, 1);
    }
    for (size_t j = 0; j < m; j++) {
        if (ls[j] == NULL)
            continue;
        if (ls[j]->qidx[LEASE__Q_EXPIRY] < l->expq.n)
            __builtin_prefetch(&l->expq.a[ls[j]->qidx[LEASE__Q_EXPIRY]], 1);
        for (const lease__item *it = ls[j]->items; it != NULL; it = it->next) {
            if (it->hpprev != NULL)
                __builtin_prefetch(it->hpprev, 1);
            if (it->hnext != NULL)
                __builtin_prefetch(&it->hnext->hpprev, 1);
            if (w->nkeys == WARM_KEYS || it->len > WARM_KEY_MAX || it->len > sizeof w->bytes - used)
                break; /* the rest of a big lease: its revoke's sorted walk prefetches */
            memcpy(w->bytes + used, it->key, it->len);
            w->keys[w->nkeys++] = (bolt_val){ w->bytes + used, it->len };
            used += it->len;
        }
    }
    pthread_mutex_unlock(&l->mu);
    w->upto = to;
    if (rd->prefetch != NULL && w->nkeys > 0)
        rd->prefetch(rd->arg, w->keys, w->nkeys);
}

/* Rule 6: tops the warmed window up when ids[at] is within half a window of its end. */
static void warm_next(lease_lessor *l, const lease_range_deleter *rd, const int64_t *ids, size_t n,
                      size_t at, warm_state *w)
{
    if (w->upto >= n || w->upto > at + WARM_WINDOW / 2)
        return;
    size_t from = w->upto > at ? w->upto : at;
    warm_ahead(l, rd, ids, from, n - from > WARM_WINDOW ? from + WARM_WINDOW : n, w);
}

/*
 * Revokes id inside the store's open write transaction txn (rule 2): its
 * keys in sorted order (so every member deletes in the same order: etcd's
 * same hashes), then its record through the same backend transaction.
 * only_expired: auto-revoke, a lease renewed meanwhile is left
 * (LEASE_ENOTFOUND). The store's write lock is held by txn, so nobody can
 * revoke id or attach a key to it meanwhile.
 */
static int revoke_in_txn(lease_lessor *l, const lease_range_deleter *rd, void *txn, int64_t id,
                         bool only_expired, lease__keybuf *kb, const int64_t *next, size_t nnext,
                         uint64_t *deferred)
{
    int rc;
    if ((rc = LEASE_FAILPOINT(l, "revoke_after_begin")) != 0)
        return rc;
    lease__lock_spin(l); /* rule 8 */
    lease__lease *ls = lease__ltable_find(&l->leases, id);
    prefetch_ahead(l, next, nnext);
    if (ls == NULL || (only_expired && !lease__is_expired(l, ls, lease__now(l))))
        rc = LEASE_ENOTFOUND;
    else
        rc = keybuf_fill(kb, ls);
    pthread_mutex_unlock(&l->mu);
    if (rc != 0)
        return rc;
    if (rd->delete_keys != NULL) {
        /* The keys stay attached until remove_lease drops them all below. */
        rc = rd->delete_keys(txn, kb->keys, kb->n);
    } else {
        for (size_t i = 0; i < kb->n && rc == 0; i++)
            rc = rd->delete_range(txn, kb->keys[i], (bolt_val){ NULL, 0 });
    }
    if (rc != 0)
        return rc;
    if ((rc = LEASE_FAILPOINT(l, "revoke_after_keys")) != 0)
        return rc;
    uint8_t key[LEASE__KEY_LEN];
    lease__key_encode(id, key);
    /*
     * ls is still there: only a revoke removes a lease, and every revoke
     * holds the batch lock, which txn holds (rule 1).
     */
    lease__lock_spin(l); /* rule 8 */
    bolt_val rk = { key, sizeof key };
    /* Rule 5: deferred, the record still goes with the commit that has the tombstones. */
    if (deferred != NULL)
        rc = backend_delete_deferred(l->be, lease_bucket, &rk, 1, deferred);
    else
        rc = backend_batch_tx_delete(rd->batch_tx(txn), lease_bucket, rk);
    if (rc == 0)
        remove_lease(l, ls);
    pthread_mutex_unlock(&l->mu);
    if (rc == 0)
        rc = LEASE_FAILPOINT(l, "revoke_after_record");
    return rc;
}

/* The revoke's one write transaction of the store (rule 2). */
static int revoke_through(lease_lessor *l, const lease_range_deleter *r, int64_t id,
                          bool only_expired)
{
    lease_range_deleter rd = *r;
    void *txn;
    int rc = rd.begin(rd.arg, &txn);
    if (rc != 0)
        return rc;
    lease__keybuf kb = { 0 };
    rc = revoke_in_txn(l, &rd, txn, id, only_expired, &kb, NULL, 0, NULL);
    lease__keybuf_release(&kb);
    int erc = rd.end(txn);
    if (rc == 0)
        rc = erc;
    return rc;
}

/* Takes a copy of the range deleter for a revoke (rd_users++); false when there is none. */
static bool rd_acquire(lease_lessor *l, lease_range_deleter *rd)
{
    lease__lock_spin(l); /* rule 8 */
    bool have = l->have_rd;
    if (have) {
        *rd = l->rd;
        l->rd_users++;
    }
    pthread_mutex_unlock(&l->mu);
    return have;
}

static void rd_release(lease_lessor *l)
{
    lease__lock_spin(l); /* rule 8 */
    if (--l->rd_users == 0)
        pthread_cond_broadcast(&l->revoke_cv);
    pthread_mutex_unlock(&l->mu);
}

/* etcd's Revoke (rule 2). only_expired: auto-revoke, skip a lease renewed meanwhile. */
static int revoke(lease_lessor *l, int64_t id, bool only_expired)
{
    lease__lock_spin(l); /* rule 8 */
    bool found = lease__ltable_find(&l->leases, id) != NULL;
    pthread_mutex_unlock(&l->mu);
    if (!found)
        return LEASE_ENOTFOUND;
    lease_range_deleter rd;
    if (!rd_acquire(l, &rd))
        return revoke_standalone(l, id, only_expired);
    int rc = revoke_through(l, &rd, id, only_expired);
    rd_release(l);
    return rc;
}

int lease_revoke(lease_lessor *l, int64_t id)
{
    int rc = revoke(l, id, false);
    if (rc == 0)
        stat_add(&l->stats.revoked, 1);
    return rc;
}

int lease__revoke_expired(lease_lessor *l, int64_t id)
{
    int rc = revoke(l, id, true);
    if (rc == 0) {
        stat_add(&l->stats.revoked, 1);
        stat_add(&l->stats.auto_revoked, 1);
    }
    return rc;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * LEASE__NS_PER_S + (uint64_t)ts.tv_nsec;
}

/*
 * After a batch ended because a writer waits: let it take the store's
 * write lock before the next batch begins (a mutex does not hand over by
 * itself: the revoker would usually take it back first). Bounded by a
 * millisecond of wall time, so a writer that never comes costs little.
 */
static void let_writers_in(const lease_range_deleter *rd)
{
    uint64_t t0 = mono_ns();
    while (rd->yield_wanted(rd->arg) && mono_ns() - t0 < 1000000)
        sched_yield();
}

/*
 * One batch: the expired leases of ids[*i, n) revoked inside one write
 * transaction of the store, each its own revision (next_rev), at most
 * revoke_batch of them, ending early when another writer waits (*yield).
 * Advances *i past the IDs it handled; *revoked counts the leases revoked.
 */
static int revoke_batch(lease_lessor *l, const lease_range_deleter *rd, const int64_t *ids,
                        size_t n, size_t *i, lease__keybuf *kb, size_t *revoked, bool *yield,
                        uint64_t *deferred, warm_state *w)
{
    /* Rule 6: the first window warmed before the store's write lock is taken. */
    warm_next(l, rd, ids, n, *i, w);
    void *txn;
    int rc = rd->begin(rd->arg, &txn);
    if (rc != 0)
        return rc;
    size_t done = 0;
    /* Loop invariant: the expired leases among ids before *i are revoked, one revision each. */
    while (*i < n && done < l->opt.revoke_batch) {
        size_t at = (*i)++;
        warm_next(l, rd, ids, n, at, w);
        int r = revoke_in_txn(l, rd, txn, ids[at], true, kb, ids + at + 1, n - at - 1, deferred);
        if (r == LEASE_ENOTFOUND)
            continue; /* gone or renewed: nothing to do */
        if (r == 0)
            r = rd->next_rev(txn);
        if (r != 0) {
            rc = r;
            break;
        }
        done++;
        if (rd->yield_wanted != NULL && rd->yield_wanted(rd->arg)) {
            *yield = true;
            break;
        }
    }
    int erc = rd->end(txn);
    if (rc == 0)
        rc = erc;
    *revoked += done; /* gone from the lessor, their deletes ended with txn */
    return rc;
}

/*
 * Rule 5: a large pass defers its record deletes; its IDs, sorted, are
 * published as pend_ids first. Returns whether the pass defers (no when
 * small, or no memory: the records are then deleted in the txn).
 */
static bool defer_begin(lease_lessor *l, const int64_t *ids, size_t n)
{
    if (n < l->defer_min)
        return false;
    int64_t *p = strata_malloc(n * sizeof *p);
    if (p == NULL)
        return false;
    memcpy(p, ids, n * sizeof *p);
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = p[i - 1] < p[i];
    if (!sorted)
        qsort(p, n, sizeof *p, cmp_id);
    lease__lock_spin(l); /* rule 8 */
    /* Passes run one at a time on the loop thread; two pokes without it may overlap. */
    bool mine = l->pend_ids == NULL;
    if (mine) {
        l->pend_ids = p;
        l->pend_n = n;
    }
    pthread_mutex_unlock(&l->mu);
    if (!mine)
        strata_free(p); /* the other pass defers; this one deletes in its txns */
    return mine;
}

/* The records deleted (committed) or lost with a failed commit, and with them the keys: done. */
static void defer_end(lease_lessor *l, uint64_t ticket)
{
    if (ticket != 0)
        (void)backend_deferred_wait(l->be, ticket);
    lease__lock_spin(l); /* rule 8 */
    strata_free(l->pend_ids);
    l->pend_ids = NULL;
    l->pend_n = 0;
    pthread_cond_broadcast(&l->revoke_cv);
    pthread_mutex_unlock(&l->mu);
}

int lease__revoke_expired_many(lease_lessor *l, const int64_t *ids, size_t n)
{
    lease__keybuf kb = { 0 };
    int rc = 0;
    size_t i = 0;
    warm_state warm;
    warm.upto = 0;
    bool defer = defer_begin(l, ids, n);
    uint64_t ticket = 0;
    while (i < n && rc == 0) {
        lease_range_deleter rd;
        if (!rd_acquire(l, &rd)) {
            (void)lease__revoke_expired(l, ids[i++]); /* standalone: records only */
            continue;
        }
        if (rd.delete_keys == NULL || rd.next_rev == NULL || l->opt.revoke_batch <= 1) {
            rd_release(l);
            (void)lease__revoke_expired(l, ids[i++]);
            continue;
        }
        size_t revoked = 0;
        bool yield = false;
        uint64_t t = 0;
        rc = revoke_batch(l, &rd, ids, n, &i, &kb, &revoked, &yield, defer ? &t : NULL, &warm);
        if (t > ticket)
            ticket = t;
        if (revoked > 0) {
            stat_add(&l->stats.revoked, revoked);
            stat_add(&l->stats.auto_revoked, revoked);
        }
        if (yield)
            let_writers_in(&rd);
        rd_release(l);
    }
    lease__keybuf_release(&kb);
    if (defer)
        defer_end(l, ticket);
    return rc;
}

int lease_renew(lease_lessor *l, int64_t id, int64_t *ttl)
{
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    for (;;) {
        if (!l->primary || l->closing) {
            rc = LEASE_ENOTPRIMARY;
            goto out;
        }
        lease__lease *ls = lease__ltable_find(&l->leases, id);
        if (ls == NULL) {
            rc = LEASE_ENOTFOUND;
            goto out;
        }
        uint64_t now = lease__now(l);
        if (lease__is_expired(l, ls, now)) {
            if (l->opt.renew_expired_fails) {
                rc = LEASE_EEXPIRED;
                goto out;
            }
            /*
             * etcd: an expired lease may be on its way to a revoke; wait for
             * it (LEASE_ENOTFOUND), or a demote or close (LEASE_ENOTPRIMARY).
             */
            uint64_t seq = ls->seq;
            l->renew_waiters++;
            for (;;) {
                pthread_cond_wait(&l->revoke_cv, &l->mu);
                ls = lease__ltable_find(&l->leases, id);
                if (ls == NULL || ls->seq != seq || !l->primary || l->closing)
                    break;
            }
            l->renew_waiters--;
            if (l->closing)
                pthread_cond_broadcast(&l->revoke_cv);
            rc = (!l->primary || l->closing) ? LEASE_ENOTPRIMARY : LEASE_ENOTFOUND;
            goto out;
        }
        /* A checkpointed remaining TTL is cleared (etcd proposes a checkpoint of 0). */
        if (l->checkpoints && ls->remaining_ttl > 0)
            apply_checkpoint(l, ls, 0, now);
        ls->expiry_ns = refreshed_expiry(now, 0, ls);
        if ((rc = lease__queue_set(&l->expq, ls, ls->expiry_ns)) != 0)
            goto out;
        if (ttl != NULL)
            *ttl = ls->ttl;
        stat_add(&l->stats.renewed, 1);
        break;
    }
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* ---- lookups -------------------------------------------------------------- */

static void fill_info(const lease__lease *ls, uint64_t now, lease_info *out)
{
    out->id = ls->id;
    out->ttl = ls->ttl;
    out->remaining_ttl = ls->remaining_ttl;
    out->remaining_ns = remaining_ns(ls, now);
    out->nkeys = ls->nitems;
}

int lease_lookup(lease_lessor *l, int64_t id, lease_info *out)
{
    lease__lock_spin(l);
    lease__lease *ls = lease__ltable_find(&l->leases, id);
    if (ls != NULL)
        fill_info(ls, lease__now(l), out);
    pthread_mutex_unlock(&l->mu);
    return ls != NULL ? 0 : LEASE_ENOTFOUND;
}

int lease_lookup_keys(lease_lessor *l, int64_t id, lease_keys **out)
{
    *out = NULL;
    pthread_mutex_lock(&l->mu);
    lease__lease *ls = lease__ltable_find(&l->leases, id);
    int rc = ls != NULL ? sorted_keys(ls, out) : LEASE_ENOTFOUND;
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static int cmp_info(const void *a, const void *b)
{
    const lease_info *x = a, *y = b;
    if (x->remaining_ns != y->remaining_ns)
        return x->remaining_ns < y->remaining_ns ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int lease_leases(lease_lessor *l, lease_info **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&l->mu);
    size_t count = l->leases.n;
    lease_info *v = NULL;
    if (count > 0) {
        v = strata_malloc(count * sizeof *v);
        if (v == NULL) {
            pthread_mutex_unlock(&l->mu);
            return -ENOMEM;
        }
        uint64_t now = lease__now(l);
        size_t k = 0;
        for (size_t i = 0; i < l->leases.nb; i++)
            for (lease__lease *ls = l->leases.b[i]; ls != NULL; ls = ls->hnext)
                fill_info(ls, now, &v[k++]);
    }
    pthread_mutex_unlock(&l->mu);
    if (count > 0)
        qsort(v, count, sizeof *v, cmp_info);
    *out = v;
    *n = count;
    return 0;
}

size_t lease_count(lease_lessor *l)
{
    pthread_mutex_lock(&l->mu);
    size_t n = l->leases.n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* ---- attach and detach ---------------------------------------------------- */

int lease_attach(lease_lessor *l, int64_t id, bolt_val key)
{
    uint64_t h = lease__key_hash(key.data, key.size);
    lease__lock_spin(l);
    int rc = 0;
    lease__lease *ls = lease__ltable_find(&l->leases, id);
    if (ls == NULL) {
        rc = LEASE_ENOTFOUND;
        goto out;
    }
    lease__item *it = lease__itable_find(&l->items, key.data, key.size, h);
    if (it != NULL) {
        if (it->lease == ls)
            goto out;
        detach_item(l, it); /* attached elsewhere: moves */
    }
    it = strata_malloc(sizeof *it + key.size);
    if (it == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    it->hash = h;
    it->len = key.size;
    if (key.size > 0)
        memcpy(it->key, key.data, key.size);
    if ((rc = lease__itable_insert(&l->items, it)) != 0) {
        strata_free(it);
        goto out;
    }
    it->lease = ls;
    it->prev = NULL;
    it->next = ls->items;
    if (ls->items != NULL)
        ls->items->prev = it;
    ls->items = it;
    ls->nitems++;
    ls->key_bytes += it->len;
out:
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int lease_detach(lease_lessor *l, int64_t id, bolt_val key)
{
    uint64_t h = lease__key_hash(key.data, key.size);
    lease__lock_spin(l);
    int rc = 0;
    if (lease__ltable_find(&l->leases, id) == NULL) {
        rc = LEASE_ENOTFOUND;
    } else {
        lease__item *it = lease__itable_find(&l->items, key.data, key.size, h);
        if (it != NULL)
            detach_item(l, it);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int64_t lease_get_lease(lease_lessor *l, bolt_val key)
{
    uint64_t h = lease__key_hash(key.data, key.size);
    lease__lock_spin(l);
    lease__item *it = lease__itable_find(&l->items, key.data, key.size, h);
    int64_t id = it != NULL ? it->lease->id : LEASE_NONE;
    pthread_mutex_unlock(&l->mu);
    return id;
}

/* ---- primary / secondary -------------------------------------------------- */

typedef struct by_expiry {
    uint64_t expiry;
    lease__lease *ls;
} by_expiry;

static int cmp_expiry(const void *a, const void *b)
{
    const by_expiry *x = a, *y = b;
    if (x->expiry != y->expiry)
        return x->expiry < y->expiry ? -1 : 1;
    return x->ls->id < y->ls->id ? -1 : x->ls->id > y->ls->id;
}

/* etcd's leaseRevokeRate: promote spreads expiries when this many leases or more. */
#define LEASE__REVOKE_RATE 1000

void lease_lessor_promote(lease_lessor *l, uint64_t extend_ns)
{
    pthread_mutex_lock(&l->mu);
    l->primary = true;
    uint64_t now = lease__now(l);
    size_t n = l->leases.n;
    (void)lease__queue_reserve(&l->expq, n);
    by_expiry *v = n >= LEASE__REVOKE_RATE ? strata_malloc(n * sizeof *v) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < l->leases.nb; i++)
        for (lease__lease *ls = l->leases.b[i]; ls != NULL; ls = ls->hnext) {
            ls->expiry_ns = refreshed_expiry(now, extend_ns, ls);
            (void)lease__queue_set(&l->expq, ls, ls->expiry_ns);
            schedule_checkpoint(l, ls, now);
            if (v != NULL)
                v[k++] = (by_expiry){ ls->expiry_ns, ls };
        }
    if (v != NULL) {
        /*
         * etcd's pile-up avoidance: walk the leases by expiry in windows of
         * one second; past 750 expiries in a window, push each further
         * lease out so that at most 750 expire per second. Remaining times
         * are taken at `now` (etcd reads the wall clock as it goes).
         */
        qsort(v, k, sizeof *v, cmp_expiry);
        const int64_t second = (int64_t)LEASE__NS_PER_S;
        const int64_t target = 3 * LEASE__REVOKE_RATE / 4;
        int64_t base = (int64_t)(v[0].expiry - now);
        int64_t next = base + second;
        int64_t expires = 0;
        for (size_t i = 0; i < k; i++) {
            int64_t remaining = (int64_t)(v[i].expiry - now);
            if (remaining > next) {
                base = remaining;
                next = base + second;
                expires = 1;
                continue;
            }
            expires++;
            if (expires <= target)
                continue;
            double rate_delay = (double)second * ((double)expires / (double)target);
            rate_delay -= (double)(remaining - base);
            int64_t delay = (int64_t)rate_delay;
            next = base + delay;
            lease__lease *ls = v[i].ls;
            ls->expiry_ns = refreshed_expiry(
                    now, sat_add((uint64_t)(delay > 0 ? delay : 0), extend_ns), ls);
            (void)lease__queue_set(&l->expq, ls, ls->expiry_ns);
        }
        strata_free(v);
    }
    pthread_mutex_unlock(&l->mu);
}

void lease_lessor_demote(lease_lessor *l)
{
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->leases.nb; i++)
        for (lease__lease *ls = l->leases.b[i]; ls != NULL; ls = ls->hnext)
            ls->expiry_ns = LEASE__FOREVER;
    lease__queue_clear(&l->expq);
    lease__queue_clear(&l->cpq);
    l->primary = false;
    pthread_cond_broadcast(&l->revoke_cv);
    pthread_mutex_unlock(&l->mu);
}

bool lease_lessor_is_primary(lease_lessor *l)
{
    pthread_mutex_lock(&l->mu);
    bool p = l->primary;
    pthread_mutex_unlock(&l->mu);
    return p;
}

void lease_lessor_stats(lease_lessor *l, lease_stats *out)
{
    out->granted = __atomic_load_n(&l->stats.granted, __ATOMIC_RELAXED);
    out->revoked = __atomic_load_n(&l->stats.revoked, __ATOMIC_RELAXED);
    out->renewed = __atomic_load_n(&l->stats.renewed, __ATOMIC_RELAXED);
    out->offered = __atomic_load_n(&l->stats.offered, __ATOMIC_RELAXED);
    out->auto_revoked = __atomic_load_n(&l->stats.auto_revoked, __ATOMIC_RELAXED);
    out->checkpoints = __atomic_load_n(&l->stats.checkpoints, __ATOMIC_RELAXED);
    out->records_written = __atomic_load_n(&l->stats.records_written, __ATOMIC_RELAXED);
    out->auto_revoke_cpu_ns = __atomic_load_n(&l->stats.auto_revoke_cpu_ns, __ATOMIC_RELAXED);
}

/* ---- the checker ---------------------------------------------------------- */

static int check_fail(char *why, size_t why_size, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static int check_fail(char *why, size_t why_size, const char *fmt, ...)
{
    if (why != NULL && why_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
    }
    return STRATA_EMISUSE;
}

int lease__lessor_check(lease_lessor *l, char *why, size_t why_size)
{
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    size_t nleases = 0, nitems = 0, ndirty = 0;
    for (size_t i = 0; i < l->leases.nb && rc == 0; i++)
        for (lease__lease *ls = l->leases.b[i]; ls != NULL && rc == 0; ls = ls->hnext) {
            nleases++;
            if (ls->id == 0)
                rc = check_fail(why, why_size, "a lease with ID 0");
            else if (lease__ltable_find(&l->leases, ls->id) != ls)
                rc = check_fail(why, why_size, "lease %" PRId64 ": twice in the table", ls->id);
            else if ((ls->qidx[LEASE__Q_EXPIRY] != LEASE__NOQ) != l->primary)
                rc = check_fail(why, why_size, "lease %" PRId64 ": %s the expiry queue", ls->id,
                                l->primary ? "primary, not in" : "not primary, in");
            ndirty += ls->dirty;
            size_t k = 0, bytes = 0;
            for (lease__item *it = ls->items; it != NULL && rc == 0; it = it->next, k++) {
                bytes += it->len;
                if (it->lease != ls || (it->next != NULL && it->next->prev != it))
                    rc = check_fail(why, why_size, "lease %" PRId64 ": broken key list", ls->id);
                else if (lease__itable_find(&l->items, it->key, it->len, it->hash) != it)
                    rc = check_fail(why, why_size, "lease %" PRId64 ": key not in the item table",
                                    ls->id);
                else if (!lease__itable_linked(&l->items, it))
                    rc = check_fail(why, why_size,
                                    "lease %" PRId64 ": a key's back pointer in the item table",
                                    ls->id);
            }
            if (rc == 0 && k != ls->nitems)
                rc = check_fail(why, why_size, "lease %" PRId64 ": %zu keys, counted %zu", ls->id,
                                k, ls->nitems);
            if (rc == 0 && bytes != ls->key_bytes)
                rc = check_fail(why, why_size, "lease %" PRId64 ": %zu key bytes, counted %zu",
                                ls->id, bytes, ls->key_bytes);
            nitems += k;
        }
    if (rc == 0 && nleases != l->leases.n)
        rc = check_fail(why, why_size, "lease table counts %zu, holds %zu", l->leases.n, nleases);
    if (rc == 0 && nitems != l->items.n)
        rc = check_fail(why, why_size, "item table counts %zu, the leases hold %zu", l->items.n,
                        nitems);
    if (rc == 0 && ndirty > l->ndirty)
        rc = check_fail(why, why_size, "%zu dirty leases, %zu dirty IDs", ndirty, l->ndirty);
    if (rc == 0)
        rc = lease__queue_check(&l->expq, why, why_size);
    if (rc == 0)
        rc = lease__queue_check(&l->cpq, why, why_size);
    pthread_mutex_unlock(&l->mu);
    return rc;
}
