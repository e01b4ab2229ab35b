/*
 * mvcc_int.h (private to mvcc/): the store's struct, the mvcc__* functions
 * shared between its files, and the seams other engineers plug into
 * (/work/coord/INTERFACES.md §1 and §2):
 *
 *   - the watch hook (mvcc__store_set_watch_hooks): called at the end of
 *     every write transaction that made a revision, with the store's write
 *     lock held, after the revision is visible to readers; and when a
 *     compaction is accepted;
 *   - the lessor glue (mvcc/lease_glue.c, written by the lease engineer):
 *     the mvcc__lease_* functions below, which the store calls at open,
 *     put, delete, restore and close when it has a lessor.
 *
 * Locks, always taken in this order (never the other way round):
 *   write_mu   the store's write lock: one write transaction at a time,
 *              compaction acceptance, hook registration. Held across a
 *              write transaction (begin to end) and during the watch hook.
 *   (backend)  the backend's batch lock: held by a write transaction from
 *              begin to end (after write_mu), and by each physical
 *              compaction batch (without write_mu). Commit hooks run under
 *              it.
 *   rev_mu     short: current_rev / compact_rev changes, and a read
 *              transaction taking its revision and backend view together.
 *   hash_mu    short, a leaf: the incremental HashKV state.
 *   cmp_mu     short, a leaf: the compaction queue.
 * The watch engineer's own locks come after write_mu (the hook runs with
 * it held) and must never be held while waiting for write_mu.
 */
#ifndef STRATA_MVCC_INT_H
#define STRATA_MVCC_INT_H

#include <strata/mvcc.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvpb.h"
#include "revkey.h"

/* Bucket names (docs/schema.md §2) and meta keys (§4). */
#define MVCC__BUCKET_KEY            "key"
#define MVCC__BUCKET_META           "meta"
#define MVCC__META_CONSISTENT_INDEX "consistent_index"
#define MVCC__META_SCHEDULED        "scheduledCompactRev"
#define MVCC__META_FINISHED         "finishedCompactRev"

#define MVCC__DEFAULT_COMPACT_BATCH  1000u
#define MVCC__DEFAULT_COMPACT_MAX_NS (500ull * 1000)

/* ---- the watch seam (INTERFACES.md §1) ----------------------------------- */

/*
 * One change of a write transaction, as the watch hook receives it: kv as
 * written for a PUT; for a DELETE (deleted true) only kv.key and
 * kv.mod_revision (the deleting revision) are set. sub is its
 * sub-revision.
 */
typedef struct mvcc__change {
    mvcc__kv kv;
    bool deleted;
    int64_t sub;
} mvcc__change;

/*
 * Called by the kvstore at the end of every write transaction that made a
 * revision: rev is the new revision, changes[0, n) its changes in
 * sub-revision order. Runs on the writing thread with the store's write
 * lock held and no backend lock, after the revision is current and visible
 * to readers (a backend read transaction begun now sees it), before
 * mvcc_txn_end returns. changes and every byte they point to are valid
 * only during the call (copy what is kept). Must not begin a write
 * transaction or compact (it holds the write lock); may begin read
 * transactions and read the backend.
 */
typedef void (*mvcc__write_hook_fn)(void *arg, int64_t rev, const mvcc__change *changes, size_t n);

/*
 * Called when a compaction of revision rev is accepted (the compacted
 * revision is rev from now on), with the store's write lock held, before
 * mvcc_store_compact returns; the physical deletion follows in the
 * background.
 */
typedef void (*mvcc__compact_hook_fn)(void *arg, int64_t rev);

/*
 * Called once by mvcc_store_close, before anything is freed and while the
 * backend is still open (the compaction thread is already stopped, no
 * transaction is open): join threads, drop references to the store.
 */
typedef void (*mvcc__close_hook_fn)(void *arg);

/*
 * Register the watchable store's hooks (any may be NULL); one set per
 * store: STRATA_EMISUSE if a set is registered and a non-NULL one is
 * given (pass all NULL to unregister first). Takes the write lock: never
 * call it while holding it (that is, from inside a hook). 0 or
 * STRATA_EMISUSE.
 */
int mvcc__store_set_watch_hooks(mvcc_store *s, mvcc__write_hook_fn on_write,
                                mvcc__compact_hook_fn on_compact, mvcc__close_hook_fn on_close,
                                void *arg);

/* The watch engineer's state hangs here (set and read by watch's files only). */
void **mvcc__store_watch_slot(mvcc_store *s);

/*
 * The store's write lock, for the watchable store: hold it to register a
 * watcher at a current revision that no write can move meanwhile (etcd's
 * watchable store does the same under s.mu). Not recursive; never held
 * while calling a write transaction or compact.
 */
void mvcc__store_write_lock(mvcc_store *s);
void mvcc__store_write_unlock(mvcc_store *s);

/* ---- the lessor seam (INTERFACES.md §2; mvcc/lease_glue.c) ---------------- */

/*
 * Implemented in mvcc/lease_glue.c (owner: lease). Built only when that
 * file exists (mvcc/meson.build looks for it and defines
 * MVCC_HAVE_LEASE_GLUE); without it, opening a store with a lessor returns
 * MVCC_ENOLESSOR. Every function is called only on a store with
 * s->lessor != NULL.
 *
 *   bind     at open, before restore: register the store as the lessor's
 *            range deleter (lease.h). 0 or an error (the open fails).
 *   unbind   at close: unregister.
 *   lookup   at put with lease != 0, before anything is written:
 *            0 if the lease exists, LEASE_ENOTFOUND otherwise.
 *   get      the lease the key is attached to (0 = none): etcd's
 *            le.GetLease(key), at put of a key that exists.
 *   attach / detach  etcd's le.Attach / le.Detach of one key (the key
 *            bytes are borrowed for the call). Called inside the write
 *            transaction (write lock and batch lock held), and by restore
 *            (attach only, batch lock not held). A missing lease on
 *            detach or at restore is not an error for the store: the
 *            glue returns 0 (etcd logs it); other errors fail the put.
 */
int mvcc__lease_bind(mvcc_store *s);
void mvcc__lease_unbind(mvcc_store *s);
int mvcc__lease_lookup(mvcc_store *s, int64_t lease);
int64_t mvcc__lease_get(mvcc_store *s, const void *key, size_t key_len);
int mvcc__lease_attach(mvcc_store *s, int64_t lease, const void *key, size_t key_len);
int mvcc__lease_detach(mvcc_store *s, int64_t lease, const void *key, size_t key_len);

/*
 * For the range deleter: the backend batch transaction a write
 * transaction holds (locked by the calling thread; valid until
 * mvcc_txn_end), so the lessor can delete its lease record in the same
 * bolt transaction as the tombstones. NULL for a read transaction.
 */
backend_batch_tx *mvcc__txn_batch(mvcc_txn *t);

/*
 * For the lessor's revokes (the range deleter's fast path, lease_glue.c):
 *
 *   delete_keys  tombstones each of keys[0, n) that is alive, in the given
 *            order (the lessor passes them sorted), each a sub-revision of
 *            the transaction's current revision: what n delete_ranges of
 *            one key do, minus the per-key detach from the lessor (the
 *            caller drops the revoked lease's keys itself). *deleted (may
 *            be NULL) counts them. One index lookup per key, no allocation
 *            per key.
 *   next_rev  closes the transaction's current revision if it has changes:
 *            the changes that follow get the next revision (sub-revisions
 *            from 0), so one write transaction makes several consecutive
 *            revisions (a batch of revokes, each its own revision as in
 *            etcd). They are published together at mvcc_txn_end: readers
 *            see the revision before the transaction or its last, the hash
 *            state takes all of them, the watch hook runs once per
 *            revision in order. mvcc_txn_rev then returns the revision the
 *            next change builds on.
 *   write_waiters  threads waiting in mvcc_txn_write_begin (atomic, a
 *            hint): a long batch of revokes yields its write lock when
 *            another writer waits.
 *   write_cpu1  1 + the CPU the write transaction's holder began on (0 =
 *            unknown: no holder, or one that took write_mu directly): a
 *            waiter on that same CPU does not spin (the holder cannot run
 *            while it spins there) but sleeps at once.
 */
int mvcc__txn_delete_keys(mvcc_txn *t, const bolt_val *keys, size_t n, int64_t *deleted);
int mvcc__txn_next_rev(mvcc_txn *t);
/* Frees the store's spare write transaction (kvstore_txn.c); at close. */
void mvcc__txn_spare_free(mvcc_store *s);
size_t mvcc__write_waiters(mvcc_store *s);

/* ---- the incremental HashKV state (hash.c) -------------------------------- */

/*
 * HashKV at the current revision is crc32c("key" || P || T), where (after
 * a finished compaction at base) P is the entries <= base still newest of
 * their key (all of them when no key is alive) and T every entry > base, in
 * revision order. T is extended as transactions end; P is a segment tree
 * over the entries the last compaction kept, from which entries leave when
 * their key changes. See hash.c for the rules.
 */
typedef struct mvcc__hash_kept {
    idx_rev rev;
    uint32_t crc; /* crc32c of the entry's bucket key then value */
    uint32_t len; /* their total length */
} mvcc__hash_kept;

typedef struct mvcc__hash_state {
    bool tail_ok;        /* T is exact */
    bool kept_ok;        /* the kept list and its removed flags are exact */
    bool track_ok;       /* changed_during has every revision superseded since it began */
    int pending;         /* compactions accepted and not finished: HashKV scans */
    int64_t pending_rev; /* the newest of them */
    int64_t base;        /* the compaction the kept list comes from (-1: none) */
    uint32_t tail_crc;   /* T */
    uint64_t tail_len;
    mvcc__hash_kept *kept; /* sorted by rev */
    bool *removed;         /* kept[i] is no longer its key's newest revision */
    size_t nkept, nremoved;
    uint32_t all_crc; /* every kept entry, in order */
    uint64_t all_len;
    /* Segment tree of (crc, len) over kept (leaves seg_n..), built on demand. */
    uint32_t *seg_crc;
    uint64_t *seg_len;
    size_t seg_n;  /* 0 = not built */
    size_t *dirty; /* kept entries removed since the tree was last updated */
    size_t ndirty, dirty_cap;
    int64_t live_keys;           /* keys alive at the current revision */
    idx_rev_set *changed_during; /* revisions superseded while a compaction is pending */
} mvcc__hash_state;

/* A compaction's pass over the entries <= its revision (rule 3 of hash.c). */
typedef struct mvcc__hash_rebase {
    int64_t old_base, new_base;
    uint32_t a_crc; /* the entries in (old_base, new_base] */
    uint64_t a_len;
    mvcc__hash_kept *kept; /* the entries the compaction keeps */
    bool *removed;         /* kept[i] is already superseded */
    size_t nkept, cap;
    /* The kept list's CRC, length and removed count, gathered by the pass (no lock held). */
    uint32_t k_crc;
    uint64_t k_len;
    size_t k_removed;
    bool ok;
} mvcc__hash_rebase;

/* The crc32c of a then b, given crc(a), crc(b) and len(b) (zlib's crc32_combine, for CRC-32C). */
uint32_t mvcc__crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

void mvcc__hash_init(mvcc__hash_state *h);
void mvcc__hash_release(mvcc__hash_state *h);

/* One write transaction's effect on the state, gathered during the txn. */
typedef struct mvcc__hash_delta {
    uint32_t crc; /* crc32c of this txn's entries (keys and values) in order */
    uint64_t len;
    int64_t live_change;
    idx_rev *superseded; /* revisions that stopped being their key's newest */
    size_t nsup, capsup;
} mvcc__hash_delta;

/* Record one entry written by the txn; prev = the key's previous newest revision (main 0: none). */
int mvcc__hash_delta_add(mvcc__hash_delta *d, const uint8_t *rk, size_t rk_len, const uint8_t *val,
                         size_t val_len, idx_rev prev);
void mvcc__hash_delta_release(mvcc__hash_delta *d);

/* ---- the store ------------------------------------------------------------ */

struct mvcc_store {
    backend *be;
    struct lease_lessor *lessor;
    mvcc_options opt;
    idx_tree *index;
    bool read_only;
    bool closing; /* atomic */

    pthread_mutex_t write_mu;
    size_t write_waiters; /* atomic: threads waiting for write_mu in mvcc_txn_write_begin */
    int write_cpu1;       /* atomic hint: 1 + the CPU write_mu's holder took it on; 0 = unknown */
    /* write_mu: a write txn kept, with its buffers, for the next begin (kvstore_txn.c) */
    struct mvcc_txn *spare_txn;
    pthread_mutex_t rev_mu;
    int64_t current_rev; /* written under write_mu + rev_mu; atomic reads */
    int64_t compact_rev; /* written under write_mu + rev_mu; atomic reads; -1 = never */

    /* write_mu: the watch seam */
    mvcc__write_hook_fn write_hook;
    mvcc__compact_hook_fn compact_hook;
    mvcc__close_hook_fn close_hook;
    void *hook_arg;
    void *watch; /* the watch engineer's state (mvcc__store_watch_slot) */

    /* The consistent index (kvstore.c): atomics; the hook runs under the batch lock. */
    uint64_t consistent_index;
    uint64_t ci_saved; /* the value last written to meta */
    bool ci_set;       /* the application set one: the hook writes it */
    backend_commit_hook *ci_hook;

    /* Compaction (compaction.c), guarded by cmp_mu. */
    pthread_mutex_t cmp_mu;
    pthread_cond_t cmp_cv;      /* wakes the compaction thread */
    pthread_cond_t cmp_done_cv; /* a compaction finished */
    pthread_t cmp_thread;
    bool cmp_thread_started; /* joined by stop */
    bool cmp_thread_running; /* cmp_mu: the loop is live */
    bool cmp_stop;
    int64_t *cmp_queue; /* accepted revisions waiting, oldest first */
    size_t cmp_n, cmp_cap;
    uint64_t cmp_accepted; /* compactions accepted so far */
    uint64_t cmp_finished; /* compactions finished (or abandoned) so far */
    int64_t cmp_pending;   /* newest accepted and not finished, 0 = none */
    int cmp_err;           /* first failure since the last wait */

    pthread_mutex_t hash_mu;
    mvcc__hash_state hash; /* hash_mu */
    int64_t hash_rev;      /* hash_mu: the revision the state describes */

    void *lease_glue; /* owned by lease_glue.c */
};

/* kvstore.c: atomically read revisions. */
int64_t mvcc__current_rev(const mvcc_store *s);
int64_t mvcc__compact_rev(const mvcc_store *s);
/* Write errbuf (printf-style) when the options ask for it. */
void mvcc__errf(mvcc_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Read meta key `name` as a revision (17 bytes); *found false if absent. MVCC_EMETA if malformed.
 */
int mvcc__meta_rev(mvcc_store *s, backend_read_tx *rtx, const char *name, int64_t *rev,
                   bool *found);

/* restore.c: rebuild the index and the revisions from the `key` bucket (docs/schema.md §7). */
int mvcc__restore(mvcc_store *s);

/* kvstore_txn.c: room for n kvs in r. 0 or -ENOMEM. */
int mvcc__result_reserve(mvcc_range_result *r, size_t n);
/* Empty r for the next range, keeping its storage unless it is large. */
void mvcc__result_reset(mvcc_range_result *r);
/*
 * Append the put entry of rev (a revision the index gave) to r, read
 * through btx when not NULL, else through rtx; copy: into r's storage
 * (else pointing into the view). r must have room (mvcc__result_reserve).
 * 0; MVCC_ECORRUPT (missing or damaged: etcd panics); the backend's codes;
 * -ENOMEM. Copied kvs hold offsets into r->mem_ until the caller fixes them.
 */
int mvcc__fetch(backend_read_tx *rtx, backend_batch_tx *btx, idx_rev rev, bool copy, bool keys_only,
                mvcc_range_result *r);
/*
 * The revisions revs[0..n) of a read transaction, appended to r in that
 * order, as n mvcc__fetch calls would, with their bolt descents interleaved
 * (bolt_bucket_get_many). Same codes as mvcc__fetch.
 */
int mvcc__fetch_many(backend_read_tx *rtx, const idx_rev *revs, size_t n, bool copy, bool keys_only,
                     mvcc_range_result *r);

/* compaction.c: the thread; stop leaves a running compaction for the next open. */
int mvcc__compaction_start(mvcc_store *s);
void mvcc__compaction_stop(mvcc_store *s);
/* restore found compaction rev scheduled and not finished (restore.c rule 3). */
int mvcc__compaction_restore_pending(mvcc_store *s, int64_t rev);

/* hash.c: apply a finished write transaction's delta (hash_mu taken inside). */
void mvcc__hash_apply(mvcc_store *s, mvcc__hash_delta *d, int64_t new_rev);
/* Install a kept list (taking kept and removed, strata_malloc'd) based on compaction base. */
int mvcc__hash_set_kept(mvcc__hash_state *h, mvcc__hash_kept *kept, bool *removed, size_t n,
                        int64_t base);
/* A compaction of rev was accepted (hash_mu taken inside). */
void mvcc__hash_compact_begin(mvcc_store *s, int64_t rev);
/* The base of the kept list now. */
int64_t mvcc__hash_base(mvcc_store *s);
void mvcc__hash_rebase_init(mvcc__hash_rebase *rb, int64_t old_base, int64_t new_base);
/*
 * Visit one entry <= new_base in bucket order; kept: the compaction keeps
 * it; superseded: its key has a newer revision now.
 */
void mvcc__hash_rebase_entry(mvcc__hash_rebase *rb, idx_rev rev, const uint8_t *k, size_t klen,
                             const uint8_t *v, size_t vlen, bool kept, bool superseded);
void mvcc__hash_rebase_release(mvcc__hash_rebase *rb);
/* The compaction ended: finished (its pass saw every entry) or abandoned. */
void mvcc__hash_compact_end(mvcc_store *s, mvcc__hash_rebase *rb, bool finished);
/*
 * HashKV at the revision the state describes, without a scan: 0, or
 * STRATA_NOTFOUND when the state cannot answer (a compaction is pending,
 * ...). For tests.
 */
int mvcc__hash_kv_incremental(mvcc_store *s, uint32_t *out);
/* HashKV by the scan alone (tests compare it with the incremental value). */
int mvcc__hash_kv_scan(mvcc_store *s, int64_t rev, uint32_t *out);

/* A key range as the public API gives it (end NULL: one key; end_len 0: unbounded). */
typedef struct mvcc__span {
    const void *key;
    size_t key_len;
    const void *end;
    size_t end_len;
} mvcc__span;

#endif
