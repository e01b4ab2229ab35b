/*
 * lease_int.h (private to lease/ and its tests): the lessor's structures.
 *
 * Memory layout:
 *   - every lease is one lease__lease, found by ID through the lease table
 *     (chained on lease->hnext);
 *   - every attached key is one lease__item holding the key's bytes, found
 *     by key through the item table (chained on item->hnext: etcd's
 *     itemMap) and linked into its lease's list (prev/next: etcd's
 *     lease.itemSet);
 *   - two min-heaps (lease_queue.c) hold leases by time: the expiry queue
 *     (etcd's LeaseExpiredNotifier) and the checkpoint queue (etcd's
 *     leaseCheckpointHeap); a lease is in each at most once, at
 *     lease->qidx[queue's slot].
 *
 * Invariants (lease__lessor_check verifies them):
 *   1. item->lease is the lease whose list holds item, and the item table
 *      holds exactly the items of all lists; lease->nitems counts its list
 *      and lease->key_bytes the bytes of its keys.
 *   2. the lease table holds exactly the leases; ids are unique and not 0.
 *   3. a lease is in the expiry queue iff the lessor is primary; its queue
 *      time is its expiry, or a retry time after it was offered.
 *   4. both queues are heaps ordered by time (lease__queue_check), and
 *      lease->qidx[slot] is the lease's position in queue slot.
 *   5. lease->dirty iff its ID is in dirty_ids (waiting for the commit hook).
 * All of it is guarded by lessor->mu.
 */
#ifndef STRATA_LEASE_INT_H
#define STRATA_LEASE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/lease.h>

#include "strata_config.h"
#include "sync.h"

#define LEASE__FOREVER      UINT64_MAX /* expiry of a lease on a non-primary lessor */
#define LEASE__NOQ          SIZE_MAX   /* qidx of a lease not in that queue */
#define LEASE__Q_EXPIRY     0
#define LEASE__Q_CHECKPOINT 1
#define LEASE__NS_PER_S     UINT64_C(1000000000)
#define LEASE__REVOKE_BATCH 8 /* lease_options.revoke_batch's default (lease.h) */

typedef struct lease__item lease__item;
typedef struct lease__lease lease__lease;

struct lease__item {
    lease__item *hnext;       /* item table chain */
    lease__item **hpprev;     /* what points at this item in its chain (slot or hnext) */
    lease__item *prev, *next; /* the lease's list */
    lease__lease *lease;
    uint64_t hash;
    size_t len;
    uint8_t key[];
};

struct lease__lease {
    lease__lease *hnext; /* lease table chain */
    int64_t id;
    int64_t ttl;           /* seconds, after the MinLeaseTTL floor */
    int64_t remaining_ttl; /* checkpointed seconds; 0 = unset */
    uint64_t expiry_ns;    /* LEASE__FOREVER when not primary */
    uint64_t seq;          /* unique per grant/load: tells a re-granted ID apart */
    size_t qidx[2];
    lease__item *items; /* head of the list */
    size_t nitems;
    size_t key_bytes; /* the items' key bytes, all together */
    bool dirty;
};

/* ---- the heaps (lease_queue.c) ------------------------------------------ */

typedef struct lease__qent {
    uint64_t time;
    lease__lease *lease;
} lease__qent;

typedef struct lease__queue {
    lease__qent *a;
    size_t n, cap;
    int slot; /* which lease->qidx this queue maintains */
} lease__queue;

void lease__queue_init(lease__queue *q, int slot);
void lease__queue_release(lease__queue *q); /* leaves every lease's qidx alone */
/* Empties the queue, marking every lease in it as not queued. */
void lease__queue_clear(lease__queue *q);
/* Makes room for n more entries: 0 or -ENOMEM. */
int lease__queue_reserve(lease__queue *q, size_t n);
/* Inserts l at time, or moves it there when queued (etcd's RegisterOrUpdate): 0 or -ENOMEM. */
int lease__queue_set(lease__queue *q, lease__lease *l, uint64_t time);
/*
 * Restores invariant 1 after the caller changed entries' times in place
 * (q->a[i].time), in O(n); keeps every qidx right.
 */
void lease__queue_heapify(lease__queue *q);
/*
 * How many entries of the subtree at i are due (time <= now), counting
 * stops at limit: O(min(due, limit)) (recursion depth: the heap's height).
 */
size_t lease__queue_count_due(const lease__queue *q, size_t i, uint64_t now, size_t limit);
/* Removes l if queued. */
void lease__queue_remove(lease__queue *q, lease__lease *l);
/* The earliest entry, or NULL when empty. */
const lease__qent *lease__queue_peek(const lease__queue *q);
/* Removes and returns the earliest lease (NULL when empty). */
lease__lease *lease__queue_pop(lease__queue *q);
/*
 * Heap order (every parent's time <= its children's) and the leases'
 * qidx: 0, or STRATA_EMISUSE with the broken rule in why (may be NULL).
 */
int lease__queue_check(const lease__queue *q, char *why, size_t why_size);

/* ---- the tables (lease_map.c) ------------------------------------------- */

typedef struct lease__ltable {
    lease__lease **b;
    size_t nb, n; /* buckets (a power of two), leases */
} lease__ltable;

typedef struct lease__itable {
    lease__item **b;
    size_t nb, n;
} lease__itable;

void lease__ltable_release(lease__ltable *t); /* frees the table only */
lease__lease *lease__ltable_find(const lease__ltable *t, int64_t id);
int lease__ltable_insert(lease__ltable *t, lease__lease *l); /* 0 or -ENOMEM */
/*
 * A hint for a find of id coming soon: its bucket slot (head false), or
 * the first lease of its chain (head true: the slot should be in cache by
 * now). A batch of revokes calls it for the IDs two and one ahead, so the
 * table's cache misses overlap with the work in between.
 */
void lease__ltable_prefetch(const lease__ltable *t, int64_t id, bool head);
void lease__ltable_remove(lease__ltable *t, lease__lease *l);

uint64_t lease__key_hash(const void *key, size_t len);
void lease__itable_release(lease__itable *t);
lease__item *lease__itable_find(const lease__itable *t, const void *key, size_t len, uint64_t hash);
int lease__itable_insert(lease__itable *t, lease__item *it);  /* 0 or -ENOMEM */
void lease__itable_remove(lease__itable *t, lease__item *it); /* O(1): it->hpprev */
/* it is in its chain and its hpprev points at what points at it (for the check). */
bool lease__itable_linked(const lease__itable *t, const lease__item *it);

/* ---- the lessor ---------------------------------------------------------- */

struct lease_lessor {
    backend *be;
    lease_options opt;
    strata_clock *clock;
    bool checkpoints; /* checkpoint_off and no_clock both unset */

    pthread_mutex_t mu;       /* guards everything below up to the loop fields */
    pthread_cond_t revoke_cv; /* a lease was revoked, or demote or close happened */
    lease__ltable leases;
    lease__itable items;
    lease__queue expq, cpq;
    bool primary;
    bool closing;
    size_t renew_waiters;
    uint64_t next_seq;
    int64_t *dirty_ids;
    size_t ndirty, dirty_cap;
    double tokens;      /* rate limiter: leases that may be offered now */
    uint64_t tokens_at; /* clock time of the last refill */
    lease_range_deleter rd;
    bool have_rd;
    size_t rd_users;           /* revokes using a copy of rd; set_range_deleter waits for 0 */
    backend_commit_hook *hook; /* the checkpoint commit hook */
    /*
     * A pass of at least defer_min auto-revokes deletes the lease records
     * through backend_delete_deferred (lessor.c rule 5): pend_ids (sorted)
     * are the IDs it may revoke, until the commit that deletes their
     * records has finished; a grant of one of them waits (revoke_cv).
     */
    int64_t *pend_ids;
    size_t pend_n;
    size_t pend_waiters; /* grants waiting for a pending delete of their ID */
    size_t defer_min;

    /* The loop thread (lessor_loop.c), guarded by loop_mu. */
    pthread_mutex_t loop_mu;
    pthread_cond_t loop_cv;
    pthread_t thread;
    bool thread_started, stop;
    uint64_t poke_req, pass_done;

    /* Counters (atomic). */
    lease_stats stats;
};

/*
 * mu taken spinning first, for at most LEASE__MU_SPIN_NS before sleeping
 * (lessor.c rules 7 and 8): its holds are a lookup or a revoke's short
 * steps, and a sleeper costs the holder's unlock a futex wake-up.
 */
#define LEASE__MU_SPIN_NS 20000

static inline void lease__lock_spin(lease_lessor *l)
{
    strata__mutex_lock_spin(&l->mu, LEASE__MU_SPIN_NS);
}

/*
 * A revoke's keys, sorted (key_sort.c); reused from one revoke to the
 * next. Fill: lease__keybuf_reserve(n keys, total bytes), then n calls of
 * lease__keybuf_push (each key copied into raw), then lease__keybuf_sort:
 * keys[0, n) are then the keys in the store's key order (memcmp, then
 * length), pointing into raw, valid until the next reserve or release.
 * The keys must be distinct (a lease's are); at most 4 GiB of them.
 */
struct lease__sortent;
typedef struct lease__keybuf {
    const bolt_val *keys; /* after the sort: written over ent */
    size_t n, cap;
    uint8_t *raw; /* the keys as gathered */
    size_t used, raw_cap;
    struct lease__sortent *ent; /* the sort's entries (cap), then the sorted keys */
    size_t ent_cap;
    unsigned sort_budget; /* the introsort's partitions before a heapsort; 0: its own (tests) */
} lease__keybuf;

/* 0 or -ENOMEM (also for more than 4 GiB of keys). Empties kb. */
int lease__keybuf_reserve(lease__keybuf *kb, size_t n, size_t total);
/* Appends a key (the reserve's room: at most n keys of total bytes in all). */
void lease__keybuf_push(lease__keybuf *kb, const void *key, size_t len);
int lease__keybuf_sort(lease__keybuf *kb); /* 0 or -ENOMEM (not reserved) */
void lease__keybuf_release(lease__keybuf *kb);

/* Current time of the lessor's clock. */
uint64_t lease__now(lease_lessor *l);

/* etcd's Lease.expired (Remaining() <= 0); never with no_clock. */
static inline bool lease__is_expired(const lease_lessor *l, const lease__lease *ls, uint64_t now)
{
    return !l->opt.no_clock && ls->expiry_ns != LEASE__FOREVER && ls->expiry_ns <= now;
}

/* One pass of the loop on the calling thread (lessor_loop.c). */
void lease__pass(lease_lessor *l);
int lease__loop_start(lease_lessor *l);
void lease__loop_stop(lease_lessor *l);

/* Revoke id only if it is still expired (auto_revoke). 0, LEASE_ENOTFOUND or a status. */
int lease__revoke_expired(lease_lessor *l, int64_t id);

/*
 * auto_revoke of the expired leases among ids[0, n) (a pass's): with a
 * range deleter offering delete_keys and next_rev, up to
 * opt.revoke_batch per store write transaction, each its own revision,
 * yielding to waiting writers between batches; else one revoke each.
 * Counts them in stats. Stops at the first failure (the rest stay
 * expired: offered again after the retry interval). 0 or that status.
 */
int lease__revoke_expired_many(lease_lessor *l, const int64_t *ids, size_t n);

/* Takes the due checkpoints; mu held. */
void lease__take_checkpoints(lease_lessor *l, uint64_t now);

/* Writes the dirty records into tx (the commit hook's body); batch lock held, mu not. */
int lease__flush_dirty(lease_lessor *l, backend_batch_tx *tx);

/*
 * Every invariant of lease_int.h: 0, or STRATA_EMISUSE with why filled.
 * Takes mu. For tests.
 */
int lease__lessor_check(lease_lessor *l, char *why, size_t why_size);

#if STRATA_FAILPOINTS
#define LEASE_FAILPOINT(l, name) \
    ((l)->opt.failpoint != NULL ? (l)->opt.failpoint((l)->opt.failpoint_arg, name) : 0)
#else
#define LEASE_FAILPOINT(l, name) 0
#endif

#endif
