/*
 * strata/lease.h: leases (etcd 3.4's lessor, lease/lessor.go): grant,
 * revoke, renew, attach keys, expiry driven by an injectable clock, and
 * checkpoints of the remaining TTL persisted through a backend commit hook.
 *
 * A lessor keeps every lease in memory and its record in the backend's
 * `lease` bucket (docs/schema.md §5): key int64ToBytes(ID), value leasepb.Lease.
 * Which keys belong to a lease is never stored here: the store above
 * (mvcc) attaches each leased key at put and at restore, and detaches it
 * on an unleased overwrite or a delete. A revoke deletes the attached keys
 * through the range deleter the store registers (etcd's RangeDeleter /
 * TxnDelete), in sorted key order, in ONE write transaction of the store
 * (one revision), and deletes the lease record in that same backend batch
 * transaction, so a crash keeps both or neither.
 *
 * Time: expiries are read from opt->clock (common.h), so tests drive them
 * with a strata_manual_clock and never sleep. A lessor that is not primary
 * (the state after open; etcd's follower) holds every lease "forever";
 * lease_lessor_promote starts the clocks. Expired leases are offered to the
 * application (opt->on_expired) in batches from the lessor's thread (or
 * from lease_lessor_poke), at most opt->expire_rate per second (0: no
 * limit), and offered again after opt->expired_retry_ns while not revoked;
 * with opt->auto_revoke the lessor revokes them itself.
 *
 * Thread rules: a lessor is thread-safe. Lock order: the backend's batch
 * lock, then the lessor's own mutex (the lessor takes its mutex inside the
 * batch lock, never the reverse; its commit hook runs under the batch
 * lock). So a function that takes the batch lock (grant, revoke, close)
 * must not be called by a thread that holds the batch lock or is inside
 * one of the store's write transactions; attach, detach, get_lease and
 * lookup may be called from inside one (the store does). on_expired is
 * called with no lock held and may call any lessor function.
 *
 * Status codes: 0, the shared outcomes, -errno, backend's and bolt's codes,
 * and the range -5500..-5599 below (etcd's lease errors, same messages).
 */
#ifndef STRATA_LEASE_H
#define STRATA_LEASE_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_LEASE)
#error "this layer may not include <strata/lease.h>"
#endif

#include <strata/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEASE_ERRORS(X)                                                                  \
    X(LEASE_ENOTPRIMARY, -5500, "not a primary lessor")                                  \
    X(LEASE_ENOTFOUND, -5501, "lease not found")                                         \
    X(LEASE_EEXISTS, -5502, "lease already exists")                                      \
    X(LEASE_ETTLTOOLARGE, -5503, "too large lease TTL")                                  \
    X(LEASE_EEXPIRED, -5504, "lease: expired and not yet revoked (renew_expired_fails)") \
    X(LEASE_ECLOSED, -5505, "lease: lessor closed")                                      \
    X(LEASE_ECORRUPT, -5550, "lease: stored lease record is corrupt")

enum lease_status {
#define LEASE__ENUM(name, code, msg) name = (code),
    LEASE_ERRORS(LEASE__ENUM)
#undef LEASE__ENUM
};

/* Describe any code lease or a layer below it can return; never NULL. */
STRATA_API const char *lease_strerror(int rc);

/* "LEASE_ENOTFOUND" for a code of lease's table, else backend_status_name(rc). */
STRATA_API const char *lease_status_name(int rc);

/* etcd's MaxLeaseTTL (seconds): a grant above it is LEASE_ETTLTOOLARGE. */
#define LEASE_MAX_TTL INT64_C(9000000000)

/* etcd's NoLease: the ID 0 means "no lease" everywhere. */
#define LEASE_NONE 0

/* ---- the range deleter (implemented by the store above: mvcc) ---------- */

/*
 * etcd's RangeDeleter + TxnDelete. begin opens one write transaction of the
 * store (it takes the store's write lock and the backend batch lock, and
 * holds both until end); delete_range deletes [key, end) in it (end.size ==
 * 0: the single key) as the store's DeleteRange, detaching each deleted key
 * from its lease (lease_detach); batch_tx hands out the backend batch
 * transaction the write transaction holds, so the lessor can delete the
 * lease record in the same backend transaction; end finishes it (one
 * revision when anything was deleted, none otherwise) and releases the
 * locks. begin returns 0 and *txn, or a status (nothing held); end is
 * called exactly once after a successful begin, whatever happened between.
 *
 * Optional (NULL: the lessor does without), for revokes at scale:
 *   delete_keys  deletes each of keys[0, n) (sorted, distinct, all attached
 *            to the lease being revoked) that is alive, in that order, as n
 *            single-key delete_ranges would, but without detaching them:
 *            the lessor drops the revoked lease's keys itself. The keys are
 *            borrowed for the call.
 *   next_rev  closes the revision the changes so far make (nothing when
 *            there are none): the next changes make the next revision. The
 *            lessor calls it after each revoke of a batch, so each revoke
 *            of an expired lease stays its own revision (etcd's) while many
 *            share one write transaction and one backend transaction. The
 *            store publishes a transaction's revisions together at end.
 *   yield_wanted  true when another writer waits for the store's write
 *            lock (a hint, called between revokes with the transaction
 *            open): the lessor then ends its batch and lets it in.
 *   prefetch  a cache hint that changes nothing: the lessor is about to
 *            delete keys[0, n) (the next revokes of a batch), so the store
 *            may load what finding them reads (its index entries). Called
 *            with arg, with or without a transaction open, never with the
 *            lessor's own lock held; it must not wait for the store's
 *            write lock. The keys are borrowed for the call.
 * Both delete_keys and next_rev, or neither.
 */
typedef struct lease_range_deleter {
    void *arg;
    int (*begin)(void *arg, void **txn);
    int (*delete_range)(void *txn, bolt_val key, bolt_val end);
    backend_batch_tx *(*batch_tx)(void *txn);
    int (*end)(void *txn);
    int (*delete_keys)(void *txn, const bolt_val *keys, size_t n);
    int (*next_rev)(void *txn);
    bool (*yield_wanted)(void *arg);
    void (*prefetch)(void *arg, const bolt_val *keys, size_t n);
} lease_range_deleter;

/* ---- opening and closing ----------------------------------------------- */

typedef struct lease_lessor lease_lessor; /* thread-safe */

/*
 * Called with the IDs of expired leases (n >= 1, at most opt->expire_batch;
 * the array is valid only during the call), on the lessor's thread or in
 * lease_lessor_poke, with no lock held. It may revoke them (etcd's server
 * does, through raft) or anything else; a lease it leaves is offered again
 * after opt->expired_retry_ns.
 */
typedef void (*lease_expired_fn)(void *arg, const int64_t *ids, size_t n);

/*
 * Open options; lease_options_init() fills the defaults below (a zeroed
 * struct means the same). New fields are only ever added at the end.
 */
typedef struct lease_options {
    size_t size;         /* sizeof(lease_options) as the caller knew it */
    int64_t min_ttl;     /* seconds; shorter grants (and records) are raised to it; 0 */
    strata_clock *clock; /* NULL = strata_clock_monotonic() */
    /*
     * No clock at all (ORACLE.md rule L, `strata script`): leases never
     * expire, no checkpoint is ever taken, and renew never waits.
     */
    bool no_clock;
    /* Period of the expiry and checkpoint pass; 0 = 500 ms (etcd's runLoop). */
    uint64_t tick_ns;
    /* An offered lease not revoked is offered again after this; 0 = 3 s (etcd's). */
    uint64_t expired_retry_ns;
    /* Leases offered per second at most; 0 = no limit (etcd: 1000). */
    uint32_t expire_rate;
    /* IDs per on_expired call at most; 0 = 1000. */
    uint32_t expire_batch;
    lease_expired_fn on_expired; /* NULL = none */
    void *on_expired_arg;
    /* Revoke expired leases in the lessor's pass (after on_expired), if still expired. */
    bool auto_revoke;
    /*
     * Checkpoints (etcd 3.4 with --experimental-enable-lease-checkpoint and
     * -persist; 3.6's default): every interval, a primary lessor records
     * each lease's remaining TTL (leases whose remaining TTL exceeds the
     * interval) and persists it in the lease record (RemainingTTL) at the
     * backend's next commit, through a commit hook; a restart then gives a
     * lease its remaining TTL instead of its full TTL. A renew clears it
     * again (one more record write, only when it was set). 0 = 5 minutes.
     */
    uint64_t checkpoint_interval_ns;
    bool checkpoint_off; /* etcd 3.4's default: no checkpoints, nothing persisted */
    /* Start no thread: expiry and checkpoints run only in lease_lessor_poke. */
    bool no_thread;
    /*
     * Renewing an expired, not yet revoked lease: etcd waits until it is
     * revoked (LEASE_ENOTFOUND) or the lessor is demoted or closed
     * (LEASE_ENOTPRIMARY). With this set it fails at once with
     * LEASE_EEXPIRED instead.
     */
    bool renew_expired_fails;
    /*
     * On a failed open (LEASE_ECORRUPT), a sentence naming the bad record
     * is written here (NUL-terminated, truncated to errmsg_size). NULL = none.
     */
    char *errmsg;
    size_t errmsg_size;
    /*
     * Test hook: called at named points of a revoke ("revoke_after_begin",
     * "revoke_after_keys", "revoke_after_record"); a non-zero status makes
     * the revoke stop there (ending the store's transaction) and return it.
     * Only with failpoints compiled in; NULL = none.
     */
    int (*failpoint)(void *arg, const char *name);
    void *failpoint_arg;
    /*
     * auto_revoke with a range deleter that offers delete_keys and
     * next_rev: the expired leases of a pass are revoked up to this many
     * per write transaction of the store, each still its own revision
     * (etcd's one revision per revoke), the batch ending early when another
     * writer waits for the store (yield_wanted). 0 = 8; 1 = one
     * transaction per revoke. A writer that comes while a batch runs
     * waits for the revoke in progress and for the batch's end, whose
     * write-back into the read snapshot grows with the batch: 8 keeps
     * that end short (docs/lease.md, sessions 9 and 11).
     */
    uint32_t revoke_batch;
    /*
     * The lessor's thread (expiry offers, on_expired, auto-revoke,
     * checkpoints; not lease_lessor_poke, which runs on its caller) runs
     * this much nicer than the thread that opened the lessor (Linux: a
     * per-thread nice, which an unprivileged process may raise; capped at
     * 19; elsewhere, or if the system refuses, it runs unchanged). So a
     * mass expiry's revokes give way to the application's own threads:
     * the scheduler then lets a woken application thread run at once
     * instead of sharing its CPU with the revoker (docs/lease.md, the
     * putter's p99 during a mass expiry). 0 = LEASE_DEFAULT_THREAD_NICE;
     * negative = the thread keeps its creator's priority.
     */
    int32_t thread_nice;
} lease_options;

/* lease_options.thread_nice's default. */
#define LEASE_DEFAULT_THREAD_NICE 10

/* Fill o with the defaults. */
STRATA_API void lease_options_init(lease_options *o);

/*
 * Open a lessor over be (etcd's NewLessor: initAndRecover): create the
 * `lease` bucket if missing, load every record (expiry "forever" until
 * promoted; a TTL below min_ttl raised in memory only; RemainingTTL kept),
 * force a commit, register the checkpoint commit hook and start the
 * lessor's thread (unless no_thread). The lessor starts as not primary.
 * be must outlive the lessor. opt may be NULL (defaults); it is copied.
 * Returns 0; LEASE_ECORRUPT when a record is not a valid leasepb.Lease,
 * its key is not 8 bytes or not its ID, its ID is 0, or its TTL or
 * RemainingTTL is negative (opt->errmsg names the record); backend's codes
 * (BOLT_EDATABASEREADONLY: a read-only backend); -ENOMEM; -errno from
 * initialising its locks or creating its thread. *out is NULL on failure.
 */
STRATA_API int lease_lessor_open(backend *be, const lease_options *opt, lease_lessor **out);

/*
 * Stop and join the thread, write the checkpoints not yet persisted into
 * the batch transaction (the backend's next commit or its close commits
 * them), unregister the commit hook and free everything. A renew waiting on
 * an expired lease returns LEASE_ENOTPRIMARY. Must not run concurrently
 * with other calls on l except waiting renews. NULL is a no-op returning 0.
 * Returns 0 or the status of writing the checkpoints (l is freed anyway).
 */
STRATA_API int lease_lessor_close(lease_lessor *l);

/*
 * Register the store's range deleter (copied; NULL clears it). Without one,
 * a revoke removes the lease and deletes its record in a backend batch
 * transaction of its own, and its keys are only detached.
 */
STRATA_API void lease_lessor_set_range_deleter(lease_lessor *l, const lease_range_deleter *rd);

/* ---- leases ------------------------------------------------------------- */

/*
 * Grant a lease of ttl seconds (etcd's Grant; its checks in its order):
 * id 0 is LEASE_ENOTFOUND; ttl > LEASE_MAX_TTL is LEASE_ETTLTOOLARGE; an
 * existing id is LEASE_EEXISTS; then ttl < min_ttl is raised to min_ttl.
 * On a primary the lease expires at now + ttl, else never (until
 * promoted). The record {ID, TTL} is written into the batch transaction
 * (committed with the next batch, not forced). *granted_ttl (may be NULL)
 * receives the TTL after the floor. Takes the batch lock. Returns 0, the
 * codes above, backend_batch_tx_put's codes, -ENOMEM.
 */
STRATA_API int lease_grant(lease_lessor *l, int64_t id, int64_t ttl, int64_t *granted_ttl);

/*
 * Revoke a lease (etcd's Revoke): LEASE_ENOTFOUND when missing. Through
 * the range deleter: one write transaction of the store that deletes the
 * attached keys in sorted key order (one revision; none when the lease has
 * no keys) and the lease record. Returns 0; LEASE_ENOTFOUND; the
 * deleter's and backend's codes (on a failure the store's transaction is
 * ended; the lease stays unless its record delete was reached); -ENOMEM.
 */
STRATA_API int lease_revoke(lease_lessor *l, int64_t id);

/*
 * Renew a lease (etcd's Renew): only on a primary (LEASE_ENOTPRIMARY);
 * LEASE_ENOTFOUND when missing; an expired lease waits (see
 * renew_expired_fails). The expiry becomes now + the checkpointed remaining
 * TTL if set, else the TTL; a set remaining TTL is then cleared (its record
 * rewritten at the next commit). *ttl (may be NULL) receives the TTL.
 * Persists nothing itself.
 */
STRATA_API int lease_renew(lease_lessor *l, int64_t id, int64_t *ttl);

/* A lease's state at one moment. */
typedef struct lease_info {
    int64_t id;
    int64_t ttl;           /* granted TTL (seconds, after the floor) */
    int64_t remaining_ttl; /* checkpointed remaining TTL (seconds), 0 = unset */
    int64_t remaining_ns;  /* until expiry (<= 0: expired); INT64_MAX: never (not primary) */
    size_t nkeys;          /* attached keys */
} lease_info;

/* etcd's Lookup: 0 and *out, or LEASE_ENOTFOUND. */
STRATA_API int lease_lookup(lease_lessor *l, int64_t id, lease_info *out);

/* Keys attached to a lease, sorted (memcmp order): one owned block. */
typedef struct lease_keys {
    size_t n;
    bolt_val *keys; /* n entries pointing into the same block */
} lease_keys;

/*
 * The keys attached to id, sorted, in *out (free with lease_keys_free).
 * Returns 0, LEASE_ENOTFOUND, -ENOMEM.
 */
STRATA_API int lease_lookup_keys(lease_lessor *l, int64_t id, lease_keys **out);
STRATA_API void lease_keys_free(lease_keys *k); /* NULL is a no-op */

/*
 * Every lease (etcd's Leases), sorted by remaining time (ties by ID), in
 * *out (*n entries; free with strata_free; NULL when n is 0). 0 or -ENOMEM.
 */
STRATA_API int lease_leases(lease_lessor *l, lease_info **out, size_t *n);

/* Number of leases. */
STRATA_API size_t lease_count(lease_lessor *l);

/*
 * Attach key to lease id / detach it (etcd's Attach/Detach, in memory
 * only). Attaching a key attached to another lease moves it. Detach
 * forgets the key whichever lease holds it. Both: 0, LEASE_ENOTFOUND (no
 * such lease; nothing changes), -ENOMEM (attach). The key is copied.
 */
STRATA_API int lease_attach(lease_lessor *l, int64_t id, bolt_val key);
STRATA_API int lease_detach(lease_lessor *l, int64_t id, bolt_val key);

/* The lease key is attached to, or LEASE_NONE (etcd's GetLease). */
STRATA_API int64_t lease_get_lease(lease_lessor *l, bolt_val key);

/*
 * etcd's Checkpoint: set id's remaining TTL (seconds; 0 clears it); it is
 * persisted at the next commit unless checkpoint_off. A missing lease is
 * ignored (0), as in etcd. Returns 0.
 */
STRATA_API int lease_checkpoint(lease_lessor *l, int64_t id, int64_t remaining_ttl);

/* ---- primary / secondary ------------------------------------------------ */

/*
 * Become primary (etcd's Promote): every expiry = now + extend_ns + the
 * remaining TTL (checkpointed if set, else the TTL); with 1,000 leases or
 * more, expiries that pile up are spread so that at most 750 expire per
 * second, as etcd does.
 */
STRATA_API void lease_lessor_promote(lease_lessor *l, uint64_t extend_ns);

/* Stop being primary (etcd's Demote): every lease expires never; waiting renews fail. */
STRATA_API void lease_lessor_demote(lease_lessor *l);

STRATA_API bool lease_lessor_is_primary(lease_lessor *l);

/* ---- expiry and checkpoints --------------------------------------------- */

/*
 * Run one pass of the lessor's loop now, on this thread: offer the expired
 * leases (rate-limited), revoke them when auto_revoke, take the due
 * checkpoints. With the thread running, it wakes the thread and waits for
 * its pass instead. For tests on a manual clock and applications that drive
 * the lessor themselves (no_thread). Returns 0 or LEASE_ECLOSED.
 */
STRATA_API int lease_lessor_poke(lease_lessor *l);

/* Counters since open (read without locks; for tests and benchmarks). */
typedef struct lease_stats {
    uint64_t granted, revoked, renewed;
    uint64_t offered;            /* IDs handed to on_expired (re-offers included) */
    uint64_t auto_revoked;       /* revoked by auto_revoke */
    uint64_t checkpoints;        /* remaining TTLs recorded */
    uint64_t records_written;    /* lease records written by the commit hook */
    uint64_t auto_revoke_cpu_ns; /* CPU time the lessor's passes spent in auto-revokes */
} lease_stats;

STRATA_API void lease_lessor_stats(lease_lessor *l, lease_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_LEASE_H */
