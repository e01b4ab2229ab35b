/*
 * strata/backend.h: batching transactions over bolt (etcd's backend).
 *
 * A backend batches many small writes into one bolt commit (every batch
 * interval, or as soon as the batch limit of pending writes is reached),
 * lets readers see applied-but-uncommitted writes through a buffer, and
 * serves long reads without blocking writers (etcd's mvcc/backend, as
 * docs/design.md describes it for strata).
 *
 * Writes go through the one batch transaction: lock it, call the put /
 * delete / bucket functions, unlock it. Each write goes into bolt's
 * long-lived write transaction and into a write buffer; unlock writes the
 * buffer back into a new immutable read-buffer snapshot and publishes it,
 * so every read transaction begun after unlock sees the writes (and the
 * deletes: strata hides buffered deletes, etcd 3.4 shows deleted keys
 * until the commit; the two agree after every commit). A background thread
 * commits bolt's write transaction; a commit runs the commit hooks (in the
 * order they were added), commits, begins the next write transaction and
 * publishes an empty buffer.
 *
 * A read transaction takes, in O(1), a reference to the published buffer
 * snapshot and a bolt read transaction of its own, both under one short
 * lock so they agree; it sees one fixed state for its whole life, merges
 * buffer and bolt in key order, and never blocks writers or commits.
 *
 * Thread rules: a backend is thread-safe. Its batch transaction is used by
 * the thread holding its lock; the lock is not recursive. A read
 * transaction is used by one thread at a time; any number may be open on
 * any threads. backend_close must not run concurrently with any other call
 * on the backend.
 *
 * Lock order. The batch lock comes first: the backend's own locks (the
 * published-snapshot lock, the commit thread's wake-up lock) are taken
 * only while it is held or alone, never the other way round. Commit hooks
 * (backend_commit_hook_add) run on the committing thread WITH the batch
 * lock held, so a hook may take a lock L of its own only if no thread ever
 * waits for the batch lock (backend_batch_tx_lock, backend_force_commit,
 * backend_defrag, backend_close, backend_commit_hook_add/remove) while
 * holding L. In short: batch lock -> hook's locks, never hook's locks ->
 * batch lock. A layer above that takes its own lock before the batch lock
 * (mvcc's store lock, the lessor's lock) must not take that lock in a hook.
 *
 * Commits are pipelined: a commit takes the batch lock only for its two
 * short ends. Under the lock it runs the commit hooks, writes the buffer
 * back and takes bolt's write transaction out of the batch; then, WITHOUT
 * the lock, bolt commits it (page write-out and fdatasync); then, under
 * the lock again, the next write transaction begins. While the commit is
 * in flight, writers are not blocked: a put or delete is checked against
 * the committed state (bucket present, key not a nested bucket), kept in a
 * write log and in the buffer (so readers see it at unlock as always), and
 * replayed into the next write transaction, in order, after the commit;
 * until the log is replayed, writes keep going to it. A batch range in
 * such a section reads the committed state merged with the buffer. A
 * bucket create or delete, and a write near bolt's size limits, wait for
 * the commit in flight (holding the lock) and go to bolt.
 *
 * Durability: a write is durable once a commit that BEGAN after it
 * returned has returned (backend_force_commit, which waits for a commit in
 * flight and then commits everything written before it was called; the
 * commit thread; close). A commit already in flight when a write is made
 * does not cover it. Defrag and restore sync the new file and its
 * directory around the rename.
 *
 * Status codes: 0, the shared outcomes, -errno, bolt's codes, and the range
 * -5200..-5299 below.
 */
#ifndef STRATA_BACKEND_H
#define STRATA_BACKEND_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_BACKEND)
#error "this layer may not include <strata/backend.h>"
#endif

#include <strata/bolt.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BACKEND_ERRORS(X)                                                                       \
    X(BACKEND_ECLOSED, -5200, "backend: closed")                                                \
    X(BACKEND_EBUCKETNOTFOUND, -5201, "backend: bucket not found")                              \
    X(BACKEND_ESNAPSHOTCHECKSUM, -5202, "backend: snapshot sha256 trailer does not match")      \
    X(BACKEND_ESNAPSHOTFORMAT, -5203, "backend: not a bolt snapshot (plain, trailer or gzip)")  \
    X(BACKEND_EDEFRAGBUSY, -5204, "backend: a defragmentation is already running")              \
    X(BACKEND_ENOTLOCKED, -5205, "backend: the batch transaction is not locked by this thread") \
    X(BACKEND_ENESTED, -5206, "backend: nested buckets are not supported here")                 \
    X(BACKEND_EFAILED, -5207, "backend: an earlier commit failed; reopen the backend to write") \
    X(BACKEND_ENOTBUCKET, -5208, "backend: a top-level key that is not a bucket")

enum backend_status {
#define BACKEND__ENUM(name, code, msg) name = (code),
    BACKEND_ERRORS(BACKEND__ENUM)
#undef BACKEND__ENUM
};

/* Describe any code backend or a layer below it can return; never NULL. */
STRATA_API const char *backend_strerror(int rc);

/* "BACKEND_ECLOSED" for a code of backend's table, else bolt_status_name(rc). */
STRATA_API const char *backend_status_name(int rc);

/* ---- opening and closing (backend/backend.c) ---------------------------- */

typedef struct backend backend;                   /* thread-safe */
typedef struct backend_batch_tx backend_batch_tx; /* owned by its backend; lock to use */
typedef struct backend_read_tx backend_read_tx;   /* one thread at a time */

/*
 * Open options; backend_options_init() fills the defaults below. New fields
 * are only ever added at the end: `size` tells the library which fields the
 * caller knew. bolt's options are not embedded but pointed to, so that each
 * struct keeps its own size-based versioning: a bolt_options that grows
 * (bolt_options.size) never moves the backend fields after it.
 */
typedef struct backend_options {
    size_t size;                /* sizeof(backend_options) as the caller knew it */
    uint64_t batch_interval_ns; /* commit period; 0 = 100 ms (etcd's) */
    uint32_t batch_limit;       /* pending writes that trigger a commit; 0 = 10000 */
    size_t mmap_reserve;        /* bolt's map reservation; 0 = bolt's default */
    /*
     * bolt's options, or NULL (init's default) for etcd's:
     * backend_bolt_options_init's. To change one of them, fill a
     * bolt_options with backend_bolt_options_init, change it and point here.
     * Read (copied) only by backend_open: it need not outlive the call.
     * mmap_reserve above, when not 0, overrides bolt->mmap_reserve; read_only
     * below sets bolt's read_only too.
     */
    const bolt_options *bolt;
    /* Time for the batch interval; NULL = strata_clock_monotonic(). */
    strata_clock *clock;
    /*
     * Test hook: called at named points of defrag ("defrag_before_copy",
     * "defrag_before_final", "defrag_before_rename", "defrag_after_rename");
     * a non-zero return makes defrag fail there with that status. Also
     * "commit_write", just before each bolt commit (on the committing
     * thread, without the batch lock when the commit is pipelined): a
     * non-zero return fails that commit as a failed bolt commit would
     * (sticky), and a hook that blocks holds the commit in flight. And
     * "commit_thread", where the commit thread is about to commit (and
     * replay the log) for the interval or the limit: a non-zero return skips
     * that round, and a hook that blocks holds the thread there, holding no
     * lock. Only with failpoints compiled in (the meson option); NULL = none.
     */
    int (*failpoint)(void *arg, const char *name);
    void *failpoint_arg;
    /*
     * Open for reading only (a strata extra; etcd always opens for writing):
     * bolt's read_only open (O_RDONLY, a shared lock, so other readers may
     * hold the file too but a writer may not; a missing or empty file is
     * refused, never created). There is no write transaction and no commit
     * thread, nothing on disk is changed (a leftover defrag copy is left
     * alone too), and every batch transaction call but lock and unlock,
     * and defrag, return BOLT_EDATABASEREADONLY. Read transactions, hash and
     * snapshot work as usual; force_commit and poke have nothing to do.
     * For tools that hash or copy a file they must not change.
     */
    bool read_only;
    /*
     * Progress of the long operations (NULL = none): backend_hash and
     * backend_defrag call it from the calling thread with what is counted
     * and done of total -- first "pages checked" (every top-level bucket's
     * pages are entered and validated before any is read), then "keys
     * hashed" or "keys copied" (of the pairs those pages hold) -- every few
     * thousand and once at each phase's end.
     */
    void (*progress)(void *arg, const char *what, uint64_t done, uint64_t total);
    void *progress_arg;
    /*
     * How the commit thread is scheduled. false (init's default): on Linux
     * as SCHED_BATCH, at the opener's nice value: the same share of the CPU,
     * but its wake-ups (the batch interval, the batch limit reached) never
     * preempt a running thread; it runs when a CPU is free or at the next
     * scheduler tick. A commit thread woken by a writer's unlock otherwise
     * lands on that writer's CPU and preempts it, and the writer is often
     * one that still holds the mvcc store's write lock that others wait on
     * (a mass expiry's revoker: docs/lease.md). true: the opener's policy,
     * unchanged. Elsewhere, or if the system refuses, unchanged.
     */
    bool commit_thread_preempts;
} backend_options;

/* Fill o with the defaults. */
STRATA_API void backend_options_init(backend_options *o);

/*
 * Fill o with the bolt options a backend uses when backend_options.bolt is
 * NULL: bolt_options_init's, plus etcd's no_freelist_sync (no freelist
 * page) and strata's choice of the hashmap freelist.
 */
STRATA_API void backend_bolt_options_init(bolt_options *o);

/*
 * Open (creating if missing) the bolt file at path, begin the batch's write
 * transaction and start the commit thread. A temporary file left by a
 * crashed defrag (path + ".defrag.tmp") is removed. With
 * opt->read_only, only open it for reading (see backend_options). opt may
 * be NULL (defaults); it is copied. Returns 0; every code of bolt_open
 * (BOLT_ETIMEOUT when another process holds a conflicting lock past
 * opt->bolt->timeout_ms; -ENOENT and BOLT_EINVALID for a missing or empty
 * file when read-only); STRATA_EMISUSE (NULL path); -ENOMEM; -errno from
 * initialising its locks or creating the commit thread (-EAGAIN).
 * *out is NULL on failure.
 */
STRATA_API int backend_open(const char *path, const backend_options *opt, backend **out);

/*
 * Close: stop and join the commit thread, commit what is pending (running
 * the commit hooks), end the write transaction, close the file and free
 * everything. Returns the commit's status (the backend is closed anyway),
 * or BOLT_ETXACTIVE when read transactions are still open: the backend is
 * then stopped and committed, every call but backend_read_tx_end and
 * backend_close returns BACKEND_ECLOSED, and backend_close must be called
 * again once they have ended. NULL is a no-op returning 0.
 */
STRATA_API int backend_close(backend *be);

/*
 * Commit now, covering every write made before the call: take the batch
 * lock (do not hold it) once no other commit is in flight and the write
 * log is replayed, run the commit hooks, and if anything is pending,
 * commit it (the lock released while bolt writes and syncs), begin the
 * next write transaction and publish a buffer of what was written
 * meanwhile. Returns 0 (at once on a read-only backend: the
 * file holds everything); BACKEND_ECLOSED; BACKEND_EFAILED (an earlier
 * commit failed); the hook's status; bolt_tx_commit's codes (the backend
 * then refuses writes with BACKEND_EFAILED).
 */
STRATA_API int backend_force_commit(backend *be);

/*
 * Wake the commit thread and wait until it has looked at the clock and the
 * pending count once, committing if the interval has passed or the limit
 * was reached. For tests that drive time with a manual clock, so that an
 * interval commit is observed deterministically without sleeping; harmless
 * otherwise. Returns 0 (at once on a read-only backend, which has no
 * commit thread) or BACKEND_ECLOSED.
 */
STRATA_API int backend_poke(backend *be);

/*
 * Statistics; each is a consistent single value, read without locks. A
 * read-only backend does not read the file's freelist: its size in use is
 * reported as its size.
 */
STRATA_API uint64_t backend_size(backend *be); /* bytes of the committed db (pgid * page size) */
STRATA_API uint64_t backend_size_in_use(backend *be); /* size minus free pages (etcd's SizeInUse) */
STRATA_API uint64_t backend_commits(backend *be);     /* bolt commits since open */
STRATA_API size_t backend_read_tx_open(backend *be);  /* read transactions callers hold now */
STRATA_API uint64_t backend_pending(backend *be);     /* writes since the last commit */
STRATA_API const char *backend_path(const backend *be);

/* ---- commit hooks (backend/backend.c) ------------------------------------ */

/*
 * A commit hook: called on the committing thread with the batch lock held,
 * before every bolt commit (and before a commit that finds nothing
 * pending, such as backend_force_commit's, and before defrag switches to
 * its copy), so a layer above can persist state that must go with the
 * commit (mvcc stores its consistent index; the lessor its checkpoints).
 * It may use the batch transaction's write and read functions (tx is the
 * backend's batch transaction, already locked by this thread; the hook
 * must not lock or unlock it). A non-zero return cancels that commit: the
 * hooks after it do not run, and the commit returns the status. It must
 * not add or remove hooks (STRATA_EMISUSE), nor call force_commit, defrag
 * or close. See the lock order in the thread rules above.
 */
typedef int (*backend_commit_fn)(void *arg, backend_batch_tx *tx);

typedef struct backend_commit_hook backend_commit_hook; /* owned by its backend */

/*
 * Add fn(arg) to the end of the backend's commit hooks: hooks run in the
 * order they were added. May be called at any time after open, from any
 * thread, whether or not the calling thread holds the batch lock (it
 * takes the lock when it does not). *out receives the handle to remove it
 * with; it stays valid until backend_commit_hook_remove or backend_close.
 * Returns 0; STRATA_EMISUSE (NULL fn, or called from inside a hook);
 * BACKEND_ECLOSED (backend_close has run); -ENOMEM. *out is NULL on failure. On a read-only
 * backend hooks are accepted but never run (nothing is committed).
 */
STRATA_API int backend_commit_hook_add(backend *be, backend_commit_fn fn, void *arg,
                                       backend_commit_hook **out);

/*
 * Remove a hook added by backend_commit_hook_add and free its handle; the
 * hook is not called again after this returns. Same locking as add. NULL
 * is a no-op returning 0. Returns 0; STRATA_EMISUSE (called from inside a
 * hook, or a handle this backend does not hold: nothing is freed);
 * BACKEND_ECLOSED (after backend_close: the handles are already freed).
 */
STRATA_API int backend_commit_hook_remove(backend *be, backend_commit_hook *hook);

/* ---- the batch transaction (backend/batch_tx.c) ------------------------- */

/* The backend's one batch transaction (never NULL; owned by be). */
STRATA_API backend_batch_tx *backend_batch(backend *be);

/* Take the batch lock (blocks while another thread holds it). */
STRATA_API void backend_batch_tx_lock(backend_batch_tx *tx);

/*
 * Take the batch lock once no commit is being written out and the writes
 * made meanwhile have gone into bolt (see "Commits" above): waits, without
 * holding the lock, for the commit in flight, and replays the write log in
 * short slices with the lock released between them. For background writers
 * that write much (compaction, mass revokes): their writes then go
 * straight into bolt instead of piling up in the log that every later
 * section must help replay. A plain backend_batch_tx_lock is always
 * correct; this one only changes when the lock is taken. On a read-only or
 * failed backend it is backend_batch_tx_lock.
 */
STRATA_API void backend_batch_tx_lock_quiet(backend_batch_tx *tx);

/*
 * Write the changes made since lock back into a new read-buffer snapshot
 * and publish it, release the lock, and ask the commit thread for a commit
 * when the pending count has reached the batch limit. At twice the limit
 * the commit is begun here (the batch ends: its writes are what the commit
 * holds) and written out by the commit thread; after a bucket was created
 * or deleted, or when the write-back cannot allocate, the commit is done
 * here, before returning. Returns 0; BACKEND_ENOTLOCKED (not held by this
 * thread: nothing is done); a commit's status (the lock is released
 * anyway; a failure of a commit written out by the commit thread is
 * reported by the next write, BACKEND_EFAILED). On a read-only backend lock and
 * unlock work; everything between returns BOLT_EDATABASEREADONLY.
 */
STRATA_API int backend_batch_tx_unlock(backend_batch_tx *tx);
/*
 * backend_batch_tx_unlock for a caller that another writer waits for (it
 * holds a lock of its own, such as a store's write lock, that a writer
 * waits on): while a commit's log is being replayed, the unlock leaves its
 * share of the replay (twice what its section logged) to the commit
 * thread, so the waiting writer does not wait for it, until the log has
 * grown past four times the batch limit since it was last empty (the
 * log's memory stays bounded). Everything else, and the codes, as
 * backend_batch_tx_unlock.
 */
STRATA_API int backend_batch_tx_unlock_waited(backend_batch_tx *tx);

/*
 * Writes, with the lock held. Key and value are copied. put and seq_put set
 * key to value; seq_put is for keys that ascend (etcd's UnsafeSeqPut): it
 * sets the bucket's fill percent to 0.9 for this write transaction so
 * appended pages stay nearly full. delete removes key (missing: 0). Each
 * counts as one pending write. Returns 0; BACKEND_ENOTLOCKED;
 * BACKEND_ECLOSED; BACKEND_EFAILED; BOLT_EDATABASEREADONLY (a read-only
 * backend); BACKEND_EBUCKETNOTFOUND; and
 * bolt_bucket_put's / bolt_bucket_delete's codes (empty or too large key,
 * key naming a bucket, ...), in which case nothing changed.
 */
STRATA_API int backend_batch_tx_put(backend_batch_tx *tx, bolt_val bucket, bolt_val key,
                                    bolt_val value);
STRATA_API int backend_batch_tx_seq_put(backend_batch_tx *tx, bolt_val bucket, bolt_val key,
                                        bolt_val value);
STRATA_API int backend_batch_tx_delete(backend_batch_tx *tx, bolt_val bucket, bolt_val key);

/*
 * A hint, with the lock held: about n writes to bucket with `bytes` key and
 * value bytes in all follow in this section. The buffers they go to (the
 * write buffer, and the write log while a commit is in flight) are grown
 * once to take them, instead of doubling along the way (each doubling
 * copies, and touches fresh memory: page faults). Changes nothing else; a
 * failure leaves the writes to grow the buffers as usual. Returns 0;
 * BACKEND_ENOTLOCKED; BACKEND_ECLOSED; BACKEND_EFAILED;
 * BOLT_EDATABASEREADONLY; -ENOMEM.
 */
STRATA_API int backend_batch_tx_reserve(backend_batch_tx *tx, bolt_val bucket, size_t n,
                                        size_t bytes);

/*
 * Create a top-level bucket; an existing one is not an error (0), as in
 * etcd. delete_bucket removes it and everything in it
 * (BACKEND_EBUCKETNOTFOUND when missing). Both count as a pending write and
 * make unlock commit, so readers see the bucket change at once. Other
 * codes as put.
 */
STRATA_API int backend_batch_tx_create_bucket(backend_batch_tx *tx, bolt_val name);
STRATA_API int backend_batch_tx_delete_bucket(backend_batch_tx *tx, bolt_val name);

/*
 * A visitor of key/value pairs: return 0 to go on, anything else to stop
 * (the range or for-each call then returns it). key and value are borrowed
 * (see the range functions for how long they live).
 */
typedef int (*backend_kv_fn)(void *arg, bolt_val key, bolt_val value);

/*
 * Visit the pairs of bucket with key in [key, end) in key order, at most
 * limit of them (0 = no limit); end.size == 0 means the single pair whose
 * key is `key`. for_each visits every pair. Nested buckets are skipped.
 * The batch transaction reads bolt's write transaction: it sees every
 * write, deletes included. Pairs are valid until the next write on the
 * batch transaction or unlock. Returns 0; fn's non-zero status;
 * BACKEND_ENOTLOCKED; BACKEND_ECLOSED; BACKEND_EFAILED;
 * BOLT_EDATABASEREADONLY (a read-only backend has no write transaction:
 * use a read transaction); BACKEND_EBUCKETNOTFOUND; BOLT_ECORRUPT.
 */
STRATA_API int backend_batch_tx_range(backend_batch_tx *tx, bolt_val bucket, bolt_val key,
                                      bolt_val end, uint64_t limit, backend_kv_fn fn, void *arg);
STRATA_API int backend_batch_tx_for_each(backend_batch_tx *tx, bolt_val bucket, backend_kv_fn fn,
                                         void *arg);

/* ---- deferred deletes (backend/backend.c rule 12) ----------------------- */

/*
 * Queue the deletion of n keys of bucket that no reader needs any more and no writer will write
 * again (mvcc compaction's revisions below the compacted one, a revoked lease's record), with or
 * without the batch lock held; nothing is copied into the read buffer or the write log. The keys
 * are copied into a queue; the next commit takes the whole queue at its start (under the batch
 * lock) and deletes the keys in its bolt write transaction after the batch's own writes, on the
 * committing thread and outside the batch lock (a commit that must hold the lock throughout
 * deletes them under it), so writers never wait for them. Until that commit has finished, read
 * transactions may still see the keys. Deletes queued while the calling thread holds the batch
 * lock are applied by the same commit as that locked section's writes; while a defragmentation
 * records changes such a call deletes through the batch instead (visible at once, in the same
 * commit, and in the defragmented copy). A commit is asked
 * for once batch_limit deletes are queued. A missing bucket or key, or a key naming a nested
 * bucket, deletes nothing (no error then). Deletes queued are not durable, and are lost with a
 * failed commit, until the commit that took them has returned (see backend_deferred_wait).
 *
 * *ticket (may be NULL) receives a number for backend_deferred_wait: every deletion queued up to
 * this call, by any thread, is covered by it (n == 0 queues nothing and gets the last ticket).
 * Returns 0; STRATA_EMISUSE (keys NULL with n > 0); BOLT_EKEYREQUIRED (an empty key) or
 * BOLT_EKEYTOOLARGE (a key over 32,768 bytes), with nothing queued; BOLT_EDATABASEREADONLY;
 * BACKEND_ECLOSED; BACKEND_EFAILED (an earlier commit failed); -ENOMEM (nothing queued).
 */
STRATA_API int backend_delete_deferred(backend *be, bolt_val bucket, const bolt_val *keys, size_t n,
                                       uint64_t *ticket);

/*
 * Wait until the deletions covered by ticket (backend_delete_deferred) are
 * in bolt and every read transaction begun from now on sees them gone (the
 * commit that took them has finished; it has then also returned, so they
 * are durable when that commit synced). Asks the commit thread for a commit
 * at once rather than after the batch interval. ticket 0 returns at once.
 * Must not be called with the batch lock held (STRATA_EMISUSE) nor once
 * backend_close has begun. Returns 0; BACKEND_EFAILED (a commit failed:
 * the deletions may be lost); BACKEND_ECLOSED (closed with deletions not
 * applied); BOLT_EDATABASEREADONLY.
 */
STRATA_API int backend_deferred_wait(backend *be, uint64_t ticket);

/* Deferred deletes queued and not yet taken by a commit (for pacing and stats). */
STRATA_API size_t backend_deferred_queued(backend *be);

/* ---- read transactions (backend/read_tx.c) ------------------------------ */

/*
 * Begin a read transaction: O(1), a reference to the published buffer
 * snapshot and a bolt read transaction taken together, so the transaction
 * sees the state as of the last unlock or commit, for its whole life,
 * whatever writers and commits do meanwhile. Returns 0; BACKEND_ECLOSED;
 * bolt_tx_begin's codes; -ENOMEM. *out is NULL on failure. End it with
 * backend_read_tx_end (it pins pages and buffer memory until then).
 */
STRATA_API int backend_read_tx_begin(backend *be, backend_read_tx **out);

/*
 * End a read transaction. NULL is a no-op. A view of the current state
 * (nothing published and no commit begun since it began) may be kept for
 * backend_read_tx_reuse instead of torn down; a commit's start, a publish
 * and close end kept views, so they never hold pages, memory or a
 * replaced db past the next change.
 */
STRATA_API void backend_read_tx_end(backend_read_tx *tx);

/*
 * Take a kept view of the current state, without a lock or an allocation
 * (read_tx.c rule 4): true and *out (end it with backend_read_tx_end, as a
 * begun one) when one was kept, whose state is exactly what
 * backend_read_tx_begin would give now; *tag (may be NULL) gets the word
 * its first user set with backend_read_tx_set_tag (0: none). False and *out
 * NULL otherwise (none kept, a commit in flight, closed): begin one.
 */
STRATA_API bool backend_read_tx_reuse(backend *be, backend_read_tx **out, uint64_t *tag);

/*
 * A word kept with the view for a later user that reuses it (e.g. the mvcc
 * store's revision of the view's state). The backend never reads it; a
 * view's tag is 0 until set, and users that share a backend must agree on
 * its meaning (the mvcc store sets it; others leave it alone).
 */
STRATA_API void backend_read_tx_set_tag(backend_read_tx *tx, uint64_t tag);

/*
 * True while tx's state is still the current one: nothing published and no
 * commit begun since it began (a caller that holds its own writers out,
 * e.g. the mvcc store's rev_mu, can then tag a reused view).
 */
STRATA_API bool backend_read_tx_current(const backend_read_tx *tx);

/*
 * The bolt read transaction behind tx: its committed view, without the
 * buffered writes (for walks that need bolt's own API, e.g. bolt_visited
 * over a bucket before reading it). Borrowed: valid until
 * backend_read_tx_end(tx); never commit or roll it back. Never NULL.
 */
STRATA_API bolt_tx *backend_read_tx_bolt(backend_read_tx *tx);

/*
 * As the batch range / for_each, over the transaction's state: buffered
 * changes first, then bolt, merged in key order; a buffered put shadows
 * bolt's value and a buffered delete hides the key. Pairs are valid until
 * the transaction ends. Returns 0; fn's status; BACKEND_EBUCKETNOTFOUND (in
 * neither bolt nor the buffer); BOLT_ECORRUPT; -ENOMEM.
 */
STRATA_API int backend_read_tx_range(backend_read_tx *tx, bolt_val bucket, bolt_val key,
                                     bolt_val end, uint64_t limit, backend_kv_fn fn, void *arg);
/*
 * n point gets over the transaction's state at once: values[i] = the value
 * of keys[i] (a buffered put's, else bolt's), or { NULL, 0 } when it is
 * missing or a buffered delete hides it; the same results as n ranges with
 * an empty end. bolt's part goes through bolt_bucket_get_many (the descents
 * interleaved). Values are valid until the transaction ends. Returns 0;
 * BACKEND_EBUCKETNOTFOUND (in neither bolt nor the buffer); STRATA_EMISUSE
 * (keys or values NULL with n > 0); BOLT_ECORRUPT.
 */
STRATA_API int backend_read_tx_get_many(backend_read_tx *tx, bolt_val bucket, const bolt_val *keys,
                                        size_t n, bolt_val *values);
STRATA_API int backend_read_tx_for_each(backend_read_tx *tx, bolt_val bucket, backend_kv_fn fn,
                                        void *arg);

/* ---- hash (backend/hash.c) ---------------------------------------------- */

/* A (bucket, key) pair left out of the hash. */
typedef struct backend_hash_ignore {
    bolt_val bucket, key;
} backend_hash_ignore;

/*
 * etcd's backend Hash: CRC-32C (Castagnoli) over the committed file, each
 * top-level bucket in name order: its name, then each key and value in key
 * order, skipping the ignored pairs. ignores == NULL uses etcd's default
 * (meta, consistent_index); pass a non-NULL array with n = 0 to skip
 * nothing. Uncommitted writes are not included (call backend_force_commit
 * first, as etcd's store.Hash does). Returns 0 and *out; BACKEND_ECLOSED;
 * BACKEND_ENOTBUCKET (a top-level key that is not a bucket, etcd's
 * "cannot get hash of bucket"); BACKEND_ENESTED (a nested bucket);
 * BOLT_ECORRUPT; -ENOMEM.
 */
STRATA_API int backend_hash(backend *be, const backend_hash_ignore *ignores, size_t n,
                            uint32_t *out);

/*
 * The detail of the last BOLT_ECORRUPT the backend's current db reported
 * (bolt_db_last_corruption), e.g. "page 246: reached twice in one walk
 * ...", for the message after backend_hash, backend_defrag or a read
 * failed with BOLT_ECORRUPT; "" if none (or be is NULL or closed).
 */
STRATA_API void backend_last_corruption(backend *be, char *buf, size_t size);

/* ---- defragmentation (backend/defrag.c) ---------------------------------- */

typedef struct backend_defrag_stats {
    uint64_t size_before, size_after; /* bytes of the db file */
    uint64_t keys_copied;             /* pairs copied from the snapshot */
    uint64_t keys_replayed;           /* changes made meanwhile, replayed */
    uint64_t total_ns;                /* whole defrag, wall time */
    uint64_t stall_ns;                /* longest time writers were locked out */
} backend_defrag_stats;

/*
 * Rewrite the db compactly while writes go on. Copy every top-level bucket
 * from a bolt snapshot into path + ".defrag.tmp" (sequential puts, full
 * pages), recording the keys written or deleted meanwhile; replay them in
 * catch-up rounds outside the lock; then, under the batch lock, replay the
 * rest, sync the copy, rename it over the db, sync the directory and switch
 * to it. Readers open on the old file go on reading it (it is closed when
 * the last ends). A crash at any point leaves the old or the new file whole;
 * a failure before the rename removes the copy and keeps the old db.
 * st may be NULL. Returns 0; BACKEND_EDEFRAGBUSY; BACKEND_ECLOSED;
 * BACKEND_EFAILED; BOLT_EDATABASEREADONLY (a read-only backend);
 * BACKEND_ENESTED (nested buckets) or BACKEND_ENOTBUCKET (a plain key at
 * the top): the copy is removed and the db left as it was; -errno; bolt's codes; the
 * failpoint's status.
 */
STRATA_API int backend_defrag(backend *be, backend_defrag_stats *st);

/* ---- snapshots (backend/snapshot.c) ------------------------------------- */

#define BACKEND_SNAPSHOT_TRAILER 0x1u /* append etcd's 32-byte SHA-256 of the image */
#define BACKEND_SNAPSHOT_GZIP    0x2u /* gzip (zlib) the whole stream */

/*
 * Force a commit, then write a consistent image of the db to fd (bbolt's
 * WriteTo: regenerated metas, then the pages) while writes go on;
 * optionally followed by etcd's SHA-256 trailer (what `etcdctl snapshot
 * restore` expects) and optionally gzip-compressed. progress (may be NULL)
 * gets image bytes done and total; non-zero stops the snapshot. *written
 * (may be NULL) receives the bytes written to fd. Returns 0;
 * BACKEND_ECLOSED; the commit's codes; -errno; -ENOMEM; progress's status.
 */
STRATA_API int backend_snapshot(backend *be, int fd, unsigned flags,
                                int (*progress)(void *arg, uint64_t done, uint64_t total),
                                void *arg, uint64_t *written);

/*
 * Create the db file at path from a snapshot read from fd: plain, with the
 * SHA-256 trailer (verified, then dropped), or gzip-compressed (either
 * inside). The file is written under a name of its own (path +
 * ".restore-" and six random characters), synced, checked to open as a
 * bolt file, linked to path, and the directory synced; on failure the
 * temporary file is removed (a crash can leave it behind). Returns 0;
 * -EEXIST (path exists); BACKEND_ESNAPSHOTFORMAT (not a bolt image, a
 * damaged or truncated gzip stream, bytes after the gzip member, or a
 * size that is neither whole pages nor pages + 32);
 * BACKEND_ESNAPSHOTCHECKSUM (trailer mismatch); bolt_open's codes; -errno.
 */
STRATA_API int backend_snapshot_restore(int fd, const char *path);

/*
 * backend_snapshot_restore, calling progress(arg, bytes read from fd,
 * total) every 4 MiB and at the end of the input; total is what was left
 * of fd when it is a regular file (its size less its offset), else 0
 * (unknown: a pipe). progress may be NULL.
 */
STRATA_API int backend_snapshot_restore_progress(int fd, const char *path,
                                                 void (*progress)(void *arg, uint64_t done,
                                                                  uint64_t total),
                                                 void *arg);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_BACKEND_H */
