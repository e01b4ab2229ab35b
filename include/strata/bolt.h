/*
 * strata/bolt.h: the bbolt-format, mmap'd, copy-on-write B+tree file.
 *
 * Thread rules: a bolt_db is thread-safe; a transaction and the buckets and
 * cursors it owns are used by one thread at a time.
 *
 * Status codes: 0, the shared outcomes of <strata/common.h> (BOLT_NOTFOUND
 * is STRATA_NOTFOUND), -errno, and the range -5100..-5199 below. The names
 * follow bbolt's errors one to one (ErrTxClosed -> BOLT_ETXCLOSED) so the two
 * lists can be compared; the last group is strata's own.
 */
#ifndef STRATA_BOLT_H
#define STRATA_BOLT_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_BOLT)
#error "this layer may not include <strata/bolt.h>"
#endif

#include <strata/common.h>

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, code, message); messages are bbolt's where bbolt has the error. */
#define BOLT_ERRORS(X)                                                                       \
    X(BOLT_EDATABASENOTOPEN, -5100, "database not open")                                     \
    X(BOLT_EDATABASEOPEN, -5101, "database already open")                                    \
    X(BOLT_EINVALID, -5102, "invalid database")                                              \
    X(BOLT_EVERSIONMISMATCH, -5103, "version mismatch")                                      \
    X(BOLT_ECHECKSUM, -5104, "checksum error")                                               \
    X(BOLT_ETIMEOUT, -5105, "timeout")                                                       \
    X(BOLT_ETXNOTWRITABLE, -5106, "tx not writable")                                         \
    X(BOLT_ETXCLOSED, -5107, "tx closed") /* never returned (handle contract) */             \
    X(BOLT_EDATABASEREADONLY, -5108, "database is in read-only mode")                        \
    X(BOLT_EBUCKETNOTFOUND, -5109, "bucket not found")                                       \
    X(BOLT_EBUCKETEXISTS, -5110, "bucket already exists")                                    \
    X(BOLT_EBUCKETNAMEREQUIRED, -5111, "bucket name required")                               \
    X(BOLT_EKEYREQUIRED, -5112, "key required")                                              \
    X(BOLT_EKEYTOOLARGE, -5113, "key too large")                                             \
    X(BOLT_EVALUETOOLARGE, -5114, "value too large")                                         \
    X(BOLT_EINCOMPATIBLEVALUE, -5115, "incompatible value")                                  \
    X(BOLT_EMMAPTOOLARGE, -5116, "mmap too large")                                           \
    X(BOLT_EFILETOOSMALL, -5117, "file size too small")                                      \
    X(BOLT_ECORRUPT, -5150, "database file is corrupt")                                      \
    X(BOLT_EPANIC, -5151, "internal invariant broken (a bug in strata)")                     \
    X(BOLT_EPAGESIZE, -5152, "page size not supported")                                      \
    X(BOLT_EPOISONED, -5153, "a write or sync failed earlier; reopen the database to write") \
    X(BOLT_ETXACTIVE, -5154, "the database still has open transactions")                     \
    X(BOLT_ELIVECHANGED, -5155, "the file changed during a live read; read again")           \
    X(BOLT_ENESTING, -5156, "buckets nested deeper than 2048 levels")                        \
    X(BOLT_ETXIDEXHAUSTED, -5157,                                                            \
      "transaction ids exhausted (the current txid is 2^64-1): compact the file to write again")

enum bolt_status {
    BOLT_NOTFOUND = STRATA_NOTFOUND,
#define BOLT__ENUM(name, code, msg) name = (code),
    BOLT_ERRORS(BOLT__ENUM)
#undef BOLT__ENUM
};

/* A page number, and a transaction id (docs/format.md §1, §3.1). */
typedef uint64_t bolt_pgid;
typedef uint64_t bolt_txid;

/*
 * Describe any code bolt or a layer below it can return. Static string,
 * never NULL.
 */
STRATA_API const char *bolt_strerror(int rc);

/* "BOLT_ECHECKSUM" for a code of bolt's table, else strata_status_name(rc). */
STRATA_API const char *bolt_status_name(int rc);

/* ---- values ------------------------------------------------------------ */

/*
 * A byte string. Out-values are borrowed: they point into the read-only map
 * or into memory owned by the transaction. In a read transaction they stay
 * valid until the transaction ends; in a write transaction until the next
 * mutating call on that transaction (put, delete, bucket create/delete,
 * sequence change, cursor delete) or its end, whichever comes first. Never
 * write through them (the map is PROT_READ); copy to keep bytes longer.
 * A cursor's value for a nested bucket has data == NULL and size 0; a plain
 * empty value has data != NULL.
 */
typedef struct bolt_val {
    const void *data;
    size_t size;
} bolt_val;

/* A bolt_val over a NUL-terminated string (without the NUL). */
STRATA_API bolt_val bolt_str(const char *s);

typedef struct bolt_db bolt_db;         /* thread-safe */
typedef struct bolt_tx bolt_tx;         /* one thread at a time */
typedef struct bolt_bucket bolt_bucket; /* owned by its tx */
typedef struct bolt_cursor bolt_cursor; /* owned by its tx */
struct bolt_os;                         /* the I/O table (bolt/os.h), for tests */

/* ---- database ---------------------------------------------------------- */

typedef enum bolt_freelist_type {
    BOLT_FREELIST_ARRAY = 0,   /* bbolt's default: the lowest run of n free pages */
    BOLT_FREELIST_HASHMAP = 1, /* runs indexed by size (any run; same page image) */
} bolt_freelist_type;

/*
 * Open options; bolt_options_init() fills bbolt's defaults, and a
 * zero-filled struct means the same (size 0 is taken as "current").
 * New fields are only ever added at the end.
 */
/* bolt_options.freelist_check. */
typedef enum bolt_freelist_check {
    BOLT_FREELIST_CHECK_AUTO = 0, /* for files up to BOLT_FREELIST_CHECK_AUTO_MAX bytes */
    BOLT_FREELIST_CHECK_ALWAYS,
    BOLT_FREELIST_CHECK_NEVER,
} bolt_freelist_check;
/*
 * The AUTO limit, 256 MiB. Measured (2-core VM, file in the page cache,
 * `strata gen` files, read-write open with and without the walk): 234 MiB,
 * 2 ms -> 38..54 ms; 891 MiB, 10..28 ms -> 232..324 ms. A file not in the
 * page cache costs a read of its tree on top.
 */
#define BOLT_FREELIST_CHECK_AUTO_MAX (UINT64_C(256) << 20)

typedef struct bolt_options {
    size_t size;           /* sizeof(bolt_options) as the caller knew it */
    uint64_t timeout_ms;   /* flock wait; 0 = wait forever (bbolt's Timeout) */
    bool read_only;        /* O_RDONLY + LOCK_SH; no write transactions */
    bool no_sync;          /* skip fdatasync at commit and the fsync after growing the
                              file (unsafe on crash; bbolt's NoSync + NoGrowSync) */
    bool no_grow_sync;     /* skip the fsync after growing the file */
    bool no_freelist_sync; /* store no freelist page (meta.freelist = ~0); a file
                              without one has its free pages found by a walk at open */
    uint32_t page_size;    /* new files, and the guess for a torn meta 0; 0 = OS page size */
    int file_mode;         /* creation mode; 0 = 0600 */
    bolt_freelist_type freelist_type;
    size_t initial_mmap_size; /* 0 = none (bbolt's InitialMmapSize) */
    /*
     * Address range reserved for the map; the file grows inside it without
     * remapping. 0 = max(1 GiB, 4 x file size). Tests use small values.
     */
    size_t mmap_reserve;
    const struct bolt_os *os; /* NULL = the real system calls (tests replace) */
    /*
     * Live read-only open (with read_only): take no lock, so the file can be
     * read while another process holds it open for writing, and never block
     * that writer. Every read transaction starts from the newest valid meta
     * at its begin; bolt_tx_live_verify then tells whether a commit landed
     * meanwhile (the reader must start again). Best effort on a busy writer.
     */
    bool live;
    /* Map with MAP_POPULATE: read the file into the page cache at open (bbolt's MmapFlags). */
    bool map_populate;
    /* bolt_batch: most calls one batch commits (0 = 1000, bbolt's MaxBatchSize). */
    unsigned batch_max_size;
    /* bolt_batch: longest wait for more calls, in ms (0 = 10, bbolt's MaxBatchDelay). */
    unsigned batch_max_delay_ms;
    /*
     * Read-write opens of a file that stores a freelist: walk the tree (the
     * walk a file without a freelist gets anyway) and refuse the open with
     * BOLT_ECORRUPT, the page named, when a page the freelist lists as free
     * is in use -- such a page would be handed out and overwritten by the
     * next commits, destroying what uses it. The cheap checks (ids in
     * [2, pgid), no duplicates, not the freelist's own pages, not the root)
     * are made at every read-write open whatever this says.
     */
    bolt_freelist_check freelist_check;
    /*
     * Shrink (strata's own: a bbolt file never shrinks). When a commit
     * leaves more than shrink_threshold bytes of free pages at the end of
     * the file (0 = the default: max(64 MiB, 25% of the file)), it lowers
     * the high-water mark below them; the file is truncated after the meta
     * is durable, at the first commit where neither meta slot names the old
     * mark (the next one) and no read transaction that began before the
     * shrink is open (their pages are never cut from under them). Pages
     * freed by a commit are free from the next one on, so a big delete is
     * cut two commits later. Page allocation prefers low ids, so free space
     * gathers at the tail; a page in use near the end blocks the cut until
     * a commit rewrites it lower. The file is a valid bbolt file at every
     * step. no_shrink turns it off (the file then only grows, as bbolt's).
     */
    uint64_t shrink_threshold;
    bool no_shrink;
    /*
     * no_sync dbs: write every commit's pages with pwritev, as durable
     * commits are written, instead of copying the pages a commit rewrites
     * into a second, writable shared map of the file (strata's own; B3-nosync
     * costs ~30% more CPU without it). That map is used only on a file
     * system that rewrites allocated blocks in place (ext4, tmpfs) with every
     * block of the file allocated, so a store into it cannot fail for space;
     * but the pages it maps count a second time in the process's RSS (the
     * same page-cache pages: no more memory is used), which this avoids.
     */
    bool no_write_map;
} bolt_options;

/* Fill o with the defaults (bbolt's DefaultOptions). */
STRATA_API void bolt_options_init(bolt_options *o);

/*
 * Open (creating if missing, unless read_only) the database file at path,
 * taking flock(LOCK_EX) (LOCK_SH when read_only) on it, retrying every
 * 50 ms until opt->timeout_ms. A new or empty file is initialised as bbolt
 * does (4 pages) and it and its directory are synced.
 * Returns 0; -errno (-ENOENT for a missing file in read-only mode);
 * BOLT_ETIMEOUT; BOLT_EINVALID (bad magic, or a file of 1..4095 bytes, or an
 * empty file in read-only mode); BOLT_EVERSIONMISMATCH; BOLT_ECHECKSUM (both
 * metas torn: meta 0's error); BOLT_EFILETOOSMALL; BOLT_EPAGESIZE;
 * BOLT_ECORRUPT (meta fields out of range, file shorter than the high-water
 * mark, unreadable freelist); BOLT_EMMAPTOOLARGE. *out is NULL on failure.
 */
STRATA_API int bolt_open(const char *path, const bolt_options *opt, bolt_db **out);

/*
 * Open a database image held in memory, read-only (for fuzzers and tools).
 * buf must stay valid and unchanged until bolt_close. Same errors as
 * bolt_open, minus the file ones.
 */
STRATA_API int bolt_open_memory(const void *buf, size_t len, const bolt_options *opt,
                                bolt_db **out);

/*
 * Close: unmap, unlock, close the file, free. Writes nothing. Every
 * transaction must have ended: otherwise returns BOLT_ETXACTIVE and leaves
 * the database open. NULL is a no-op returning 0.
 */
STRATA_API int bolt_close(bolt_db *db);

/* The page size of the open database. */
STRATA_API uint32_t bolt_db_page_size(const bolt_db *db);

/* The path given to bolt_open ("" for bolt_open_memory); owned by db. */
STRATA_API const char *bolt_db_path(const bolt_db *db);

/*
 * The last BOLT_ECORRUPT's detail, e.g. "page 12: element 3 key past end of
 * page", copied into buf (NUL-terminated, truncated to size). "" if none.
 */
STRATA_API void bolt_db_last_corruption(bolt_db *db, char *buf, size_t size);

/*
 * bolt_db_last_corruption for an open that failed: when this thread's last
 * bolt_open or bolt_open_memory returned BOLT_ECORRUPT, the page and why
 * (e.g. "page 5: freelist id 9 (entry 1 of 3) not in ascending order");
 * "" otherwise. Thread-local: valid until this thread's next open.
 */
STRATA_API void bolt_open_last_corruption(char *buf, size_t size);

/* ---- transactions ------------------------------------------------------ */

/*
 * The handle contract (LMDB's): a transaction's end -- bolt_tx_commit
 * (whatever it returns), bolt_tx_rollback, or the end of bolt_update,
 * bolt_view or bolt_batch's call -- frees the transaction together with
 * every bucket handle and cursor it owns. After that those handles are
 * dangling: no function may be called with them, bolt_cursor_close and
 * bolt_tx_rollback included (they would read freed memory). Borrowed
 * bolt_vals die with them. So "tx closed" is never a status strata
 * returns: BOLT_ETXCLOSED is kept only so the table maps bbolt's errors one
 * to one. A NULL transaction, bucket or cursor is STRATA_EMISUSE where a
 * status is returned.
 */

#define BOLT_TX_WRITE 0x1u /* bolt_tx_begin flag: a read-write transaction */

/*
 * Begin a transaction: read-only (flags 0) or read-write (BOLT_TX_WRITE).
 * One write transaction at a time: a second writer blocks until the first
 * ends. Readers never block and are never blocked by the writer, except
 * that a writer whose file outgrows the reserved map waits for nothing
 * either (a new map is made; the old one is released by its last reader).
 * Do not begin a write transaction on a thread that already holds one. A
 * transaction may move between threads (one at a time, with a
 * happens-before edge such as a mutex between them): a write transaction
 * begun on one thread may be committed on another.
 * Returns 0; BOLT_EDATABASENOTOPEN; BOLT_EDATABASEREADONLY (write on a
 * read-only db); BOLT_EPOISONED (a failed commit left the file state
 * unknown); -ENOMEM. *out is NULL on failure.
 */
STRATA_API int bolt_tx_begin(bolt_db *db, unsigned flags, bolt_tx **out);

/*
 * Commit a write transaction: rebalance, write every changed page to free
 * or new pages, sync, write the meta page, sync. Always consumes tx (a
 * failed commit rolls back). Returns 0; BOLT_ETXNOTWRITABLE (tx was
 * read-only: it is rolled back); -ENOSPC when the file cannot grow
 * (nothing was written; the db stays writable); -errno from a write or a
 * sync (-ENOSPC, -EIO): readers keep the last committed state (a reopen
 * finds it too, or -- only if the meta page had been written -- this
 * commit fully applied), and the db is poisoned: write transactions fail
 * with BOLT_EPOISONED until it is reopened, because after a failed fsync
 * the kernel may already have dropped the unwritten pages, so a retry
 * could report success for data that never reached the disk;
 * BOLT_ETXIDEXHAUSTED (the current meta's txid is 2^64-1, so this commit's
 * would wrap to 0 and lose to it: nothing is written; bolt_compact gives a
 * copy that starts again from txid 2); BOLT_ECORRUPT; -ENOMEM; or the
 * status of an earlier call of this transaction that failed half-way and
 * marked it failed (a bolt_bucket_delete_bucket that met a damaged page or
 * ran out of memory): nothing is written then.
 */
STRATA_API int bolt_tx_commit(bolt_tx *tx);

/*
 * For a read transaction of a live open (bolt_options.live): re-read both
 * meta pages and check that no commit newer than the transaction's own
 * landed since it began. Call it after reading and before trusting what was
 * read: a writer that commits twice may reuse pages the reader still walks
 * (it does not know about a reader that holds no lock), and a second commit
 * may already be writing once the first is visible, so any newer txid means
 * "read again". Returns 0 (what was read is the consistent state of the
 * transaction's txid); BOLT_ELIVECHANGED; STRATA_EMISUSE (not a live read
 * transaction).
 */
STRATA_API int bolt_tx_live_verify(bolt_tx *tx);

/*
 * Transaction statistics, as bbolt's TxStats: counts of what a write
 * transaction did (a read transaction counts its cursors only). Times are
 * in nanoseconds. strata copies inputs at put, so it never dereferences
 * nodes: node_deref is always 0 (kept for bbolt's field list).
 */
typedef struct bolt_tx_stats {
    uint64_t page_count;   /* page runs allocated */
    uint64_t page_alloc;   /* bytes of those runs */
    uint64_t cursor_count; /* cursors opened */
    uint64_t node_count;   /* nodes materialized */
    uint64_t node_deref;   /* always 0 (see above) */
    uint64_t rebalance;    /* nodes merged or removed at commit */
    uint64_t rebalance_ns;
    uint64_t split; /* extra nodes made by splits at commit */
    uint64_t spill; /* nodes written at commit */
    uint64_t spill_ns;
    uint64_t write; /* write system calls at commit (pages and meta) */
    uint64_t write_ns;
} bolt_tx_stats;

/* The statistics of tx so far (a committed transaction's are summed into its db's). */
STRATA_API void bolt_tx_stats_get(const bolt_tx *tx, bolt_tx_stats *out);

/*
 * Database statistics, as bbolt's DB.Stats: the freelist as the writer sees
 * it (zero for a read-only open, which never loads it), read transactions
 * begun and open, and the sum of every committed write transaction's
 * statistics since open. Thread-safe.
 */
typedef struct bolt_db_stats {
    uint64_t free_page_n;    /* free pages (allocatable) */
    uint64_t pending_page_n; /* freed, waiting for readers to end */
    uint64_t free_alloc;     /* bytes in free and pending pages */
    uint64_t freelist_inuse; /* bytes of the freelist page image */
    uint64_t tx_n;           /* read transactions begun since open */
    uint64_t open_tx_n;      /* read transactions open now */
    bolt_tx_stats tx;        /* committed write transactions, summed */
} bolt_db_stats;

STRATA_API void bolt_db_stats_get(bolt_db *db, bolt_db_stats *out);

/* End a transaction, discarding its changes. NULL is a no-op. */
STRATA_API void bolt_tx_rollback(bolt_tx *tx);

/* The transaction's id: the txid of the meta it sees (+1 for a writer). */
STRATA_API bolt_txid bolt_tx_id(const bolt_tx *tx);

/*
 * True when the db's open already walked the whole tree tx sees (the same
 * meta: the freelist rebuild of a file without a stored freelist, or the
 * freelist check of a read-write open) and found no page reached twice,
 * out of bounds or not a tree page: a bolt_visited walk of tx's buckets
 * would find nothing more. False otherwise (a read-only open, a commit
 * since, a check skipped by bolt_options.freelist_check): walk it yourself.
 */
STRATA_API bool bolt_tx_tree_walked(const bolt_tx *tx);
/*
 * True when tx is a read transaction a later reader could go on using as if
 * it had just begun it (what rule 8 of bolt/tx.c requires of a parked one):
 * not writable, not live, no cursor open, its arena small. A layer that
 * keeps ended views for reuse (backend/read_tx.c rule 4) asks this first.
 */
STRATA_API bool bolt_tx_reusable(const bolt_tx *tx);
STRATA_API bool bolt_tx_writable(const bolt_tx *tx);
/* Bytes of the database as this transaction sees it (pgid * page size). */
STRATA_API uint64_t bolt_tx_size(const bolt_tx *tx);

/*
 * Run fn in a managed transaction: bolt_update commits when fn returns 0 and
 * rolls back otherwise, returning fn's status (or the commit's);
 * bolt_view always rolls back. fn must not end the transaction itself.
 */
STRATA_API int bolt_update(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg);
STRATA_API int bolt_view(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg);

/*
 * bbolt's DB.Batch: like bolt_update, but calls made concurrently from
 * several threads share one write transaction and one commit (up to
 * batch_max_size calls, gathered for at most batch_max_delay_ms), so many
 * small writers pay for a few syncs instead of one each. Returns fn's
 * status, or the commit's, or -errno (-ENOMEM, -EAGAIN) when the batch cannot
 * set up its condition variable. fn may run more than once: when a call of the
 * batch fails, the transaction is rolled back, the failing call is run
 * again on its own (its result is its own), and the others run again
 * together. So fn must have no effects outside the transaction, and must
 * not end it. Thread-safe; blocks for at most the batch delay plus the
 * commit.
 */
STRATA_API int bolt_batch(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg);

/* ---- buckets ----------------------------------------------------------- */

/*
 * The root bucket (its keys are the top-level bucket names); owned by tx,
 * never NULL. Plain keys may be put into it (bbolt allows it, unusual).
 */
STRATA_API bolt_bucket *bolt_tx_root(bolt_tx *tx);

/*
 * Open the nested bucket `name` of parent (bolt_tx_root(tx) for top-level
 * buckets; bolt_tx_bucket is that shorthand). The handle is owned by the
 * transaction and valid until it ends (or the bucket is deleted). Returns
 * 0; BOLT_NOTFOUND (no such bucket, or name is a plain key);
 * BOLT_ECORRUPT; -ENOMEM. *out is NULL unless 0.
 */
STRATA_API int bolt_bucket_open(bolt_bucket *parent, bolt_val name, bolt_bucket **out);
STRATA_API int bolt_tx_bucket(bolt_tx *tx, bolt_val name, bolt_bucket **out);

/*
 * Create the nested bucket `name` (empty, inline). Returns 0;
 * BOLT_EBUCKETEXISTS; BOLT_EINCOMPATIBLEVALUE (name is a plain key);
 * BOLT_EBUCKETNAMEREQUIRED (empty name); BOLT_ENESTING (the new bucket would
 * be nested deeper than 2048 levels); BOLT_ETXNOTWRITABLE;
 * BOLT_ECORRUPT; -ENOMEM. The _if_not_exists form returns
 * the existing bucket instead of BOLT_EBUCKETEXISTS. out may be NULL.
 */
STRATA_API int bolt_bucket_create(bolt_bucket *parent, bolt_val name, bolt_bucket **out);
STRATA_API int bolt_bucket_create_if_not_exists(bolt_bucket *parent, bolt_val name,
                                                bolt_bucket **out);

/*
 * Delete the nested bucket `name` with everything below it; its pages are
 * freed at commit. Handles to it (and below) become unusable
 * (BOLT_EBUCKETNOTFOUND). Returns 0; BOLT_EBUCKETNOTFOUND;
 * BOLT_EINCOMPATIBLEVALUE (a plain key); BOLT_ETXNOTWRITABLE; BOLT_ECORRUPT
 * or -ENOMEM (the transaction is then failed: commit returns that status).
 */
STRATA_API int bolt_bucket_delete_bucket(bolt_bucket *parent, bolt_val name);

/*
 * Get the value of key. Returns 0 and *value (borrowed, see bolt_val);
 * BOLT_NOTFOUND (missing, or key names a bucket);
 * BOLT_EBUCKETNOTFOUND (deleted handle); BOLT_ECORRUPT.
 */
STRATA_API int bolt_bucket_get(bolt_bucket *b, bolt_val key, bolt_val *value);

/*
 * n point gets at once: values[i] = the value of keys[i] (borrowed, as
 * bolt_bucket_get's), or { NULL, 0 } when it is missing or names a nested
 * bucket. The same results as n calls of bolt_bucket_get, in any key
 * order; in a read transaction the descents are interleaved so that their
 * cache misses overlap (bolt/get_many.c), which pays when the keys lie on
 * pages far apart in a large file. Returns 0 (values all written);
 * STRATA_EMISUSE (keys or values NULL with n > 0); BOLT_EBUCKETNOTFOUND
 * (deleted handle); BOLT_ECORRUPT (values then partly written).
 */
STRATA_API int bolt_bucket_get_many(bolt_bucket *b, const bolt_val *keys, size_t n,
                                    bolt_val *values);

/*
 * Set key to value; both are copied. Returns 0; BOLT_EKEYREQUIRED (empty
 * key); BOLT_EKEYTOOLARGE (> 32768); BOLT_EVALUETOOLARGE (> 2^31 - 2, or
 * key + value too large for bbolt to read back); BOLT_EINCOMPATIBLEVALUE
 * (key names a bucket); BOLT_ETXNOTWRITABLE;
 * BOLT_EBUCKETNOTFOUND; BOLT_ECORRUPT; -ENOMEM.
 */
STRATA_API int bolt_bucket_put(bolt_bucket *b, bolt_val key, bolt_val value);

/*
 * Delete key; a missing key is not an error (0). BOLT_EINCOMPATIBLEVALUE if
 * key names a bucket; otherwise as bolt_bucket_put.
 */
STRATA_API int bolt_bucket_delete(bolt_bucket *b, bolt_val key);

/* The bucket's sequence (docs/format.md §6). */
STRATA_API uint64_t bolt_bucket_sequence(const bolt_bucket *b);
/*
 * Increment the sequence and return the new value in *out (write tx only);
 * set it to any value. 0; BOLT_ETXNOTWRITABLE; BOLT_ECORRUPT; -ENOMEM.
 */
STRATA_API int bolt_bucket_next_sequence(bolt_bucket *b, uint64_t *out);
STRATA_API int bolt_bucket_set_sequence(bolt_bucket *b, uint64_t seq);

/* Fill percent for splits of this handle's pages (clamped to [0.1, 1.0]). */
STRATA_API void bolt_bucket_set_fill_percent(bolt_bucket *b, double fill);

/* True when b is an inline bucket as this transaction sees it (root 0). */
STRATA_API bool bolt_bucket_is_inline(const bolt_bucket *b);

/*
 * Call fn(arg, key, value) for each element in key order (value.data NULL
 * for a nested bucket). Stops early and returns fn's value when it is
 * non-zero. fn must not modify the bucket.
 */
STRATA_API int bolt_bucket_for_each(bolt_bucket *b,
                                    int (*fn)(void *arg, bolt_val key, bolt_val value), void *arg);

/* ---- cursors ----------------------------------------------------------- */

/*
 * A cursor over b's elements in key order. Owned by the transaction (freed
 * when it ends; bolt_cursor_close frees it earlier). It stays usable across
 * changes made in the transaction: after a put or delete elsewhere, next
 * and prev continue from the key the cursor last returned (the keys and
 * values it returned earlier follow bolt_val's lifetime rule).
 * Every move returns 0 with *key and *value set (borrowed, see bolt_val;
 * either may be NULL if not wanted), BOLT_NOTFOUND past either end,
 * or BOLT_ECORRUPT.
 */
STRATA_API int bolt_cursor_open(bolt_bucket *b, bolt_cursor **out);
STRATA_API void bolt_cursor_close(bolt_cursor *c);
STRATA_API int bolt_cursor_first(bolt_cursor *c, bolt_val *key, bolt_val *value);
STRATA_API int bolt_cursor_last(bolt_cursor *c, bolt_val *key, bolt_val *value);
STRATA_API int bolt_cursor_next(bolt_cursor *c, bolt_val *key, bolt_val *value);
STRATA_API int bolt_cursor_prev(bolt_cursor *c, bolt_val *key, bolt_val *value);
/* Position at the first element >= seek. */
STRATA_API int bolt_cursor_seek(bolt_cursor *c, bolt_val seek, bolt_val *key, bolt_val *value);
/*
 * Delete the element under the cursor (write tx). The cursor then stands
 * where the next element will be returned by bolt_cursor_next.
 * BOLT_EINCOMPATIBLEVALUE on a bucket; BOLT_NOTFOUND when not positioned.
 */
STRATA_API int bolt_cursor_delete(bolt_cursor *c);

/* ---- statistics -------------------------------------------------------- */

/*
 * bbolt's BucketStats, over a bucket and everything nested in it. Every
 * element of a leaf counts as a key (bucket elements too); "inuse" bytes
 * are a page's header, element array and data; "alloc" bytes are whole
 * pages (overflow included). Inline buckets count only in buckets,
 * inline_buckets, keys and inline_inuse. depth adds the deepest nested
 * bucket's depth to the bucket's own tree depth.
 */
typedef struct bolt_stats {
    uint64_t branch_pages;    /* logical branch pages */
    uint64_t branch_overflow; /* physical branch overflow pages */
    uint64_t leaf_pages;      /* logical leaf pages */
    uint64_t leaf_overflow;   /* physical leaf overflow pages */
    uint64_t keys;            /* key/value pairs (and bucket elements) */
    uint32_t depth;           /* levels, nested buckets added */
    uint64_t branch_alloc;    /* bytes of branch pages */
    uint64_t branch_inuse;    /* bytes used in them */
    uint64_t leaf_alloc;      /* bytes of paged leaf pages */
    uint64_t leaf_inuse;      /* bytes used in them */
    uint64_t buckets;         /* buckets, this one included */
    uint64_t inline_buckets;  /* of which inline */
    uint64_t inline_inuse;    /* bytes used by inline bucket pages */
} bolt_stats;

/*
 * Statistics of b and every bucket below it, as the transaction's meta
 * sees the file (bolt_tx_root(tx) gives the whole file; a write
 * transaction's uncommitted changes are not counted). Returns 0 and *out;
 * BOLT_EBUCKETNOTFOUND (deleted handle); BOLT_ECORRUPT (a
 * damaged, cyclic or shared page: bolt_db_last_corruption names it);
 * -ENOMEM.
 */
STRATA_API int bolt_bucket_stats(bolt_bucket *b, bolt_stats *out);

/* ---- compaction -------------------------------------------------------- */

/* bolt_compact options; a zero-filled struct means the defaults. */
typedef struct bolt_compact_options {
    size_t size;          /* sizeof(bolt_compact_options) as the caller knew it */
    uint64_t tx_max_size; /* commit before a tx's key+value bytes pass this; 0 = no
                             transactions: the file is written bottom-up, page by page */
    bool no_sync;         /* skip the per-commit syncs (the result is synced at the end) */
    uint32_t page_size;   /* page size of the new file; 0 = the source's */
    /* Called with the keys copied so far (may be NULL): after each destination commit
       (the last one too), or, written bottom-up (tx_max_size 0), every 65,536 keys and
       once at the end. */
    void (*progress)(void *arg, uint64_t keys);
    void *progress_arg;
} bolt_compact_options;

typedef struct bolt_compact_result {
    uint64_t buckets;  /* buckets copied (nested ones included) */
    uint64_t keys;     /* key/value pairs copied */
    uint64_t txs;      /* destination transactions committed (0 when written bottom-up) */
    uint64_t src_size; /* the source's pgid * page size as copied */
    uint64_t dst_size; /* bytes of the new file */
} bolt_compact_result;

/*
 * Copy every bucket (nested, with sequences) and key of src, as one read
 * transaction sees it, into a new file at dst_path, with full pages (fill
 * percent 1.0) and no free pages (bbolt's Compact). dst_path must not
 * exist: it is created exclusively, synced with its directory on success
 * and removed on failure. opt may be NULL (defaults); out may be NULL.
 * src stays open and usable; other threads may write to it meanwhile.
 * Returns 0; -EEXIST (dst_path exists); -errno; BOLT_ECORRUPT (src is
 * damaged); STRATA_EMISUSE (NULL src or dst_path); -ENOMEM.
 */
STRATA_API int bolt_compact(bolt_db *src, const char *dst_path, const bolt_compact_options *opt,
                            bolt_compact_result *out);

/*
 * bolt_compact of what the open transaction src sees (its db is the
 * source; a read transaction gives a snapshot taken when it began, e.g.
 * a backend defrag's, which replays later writes itself). src stays open
 * and is not changed; it must not be used by another thread meanwhile.
 * Returns as bolt_compact (STRATA_EMISUSE for a NULL src or dst_path).
 */
STRATA_API int bolt_tx_compact(bolt_tx *src, const char *dst_path, const bolt_compact_options *opt,
                               bolt_compact_result *out);

/* ---- inspection (for tools) ------------------------------------------- */

/* One meta page as stored in the file (docs/format.md §3). */
typedef struct bolt_meta_info {
    int status; /* 0 valid; BOLT_EINVALID, BOLT_EVERSIONMISMATCH or BOLT_ECHECKSUM */
    uint32_t magic, version, page_size, flags;
    bolt_pgid root;
    uint64_t root_sequence;
    bolt_pgid freelist; /* UINT64_MAX: no freelist stored */
    bolt_pgid pgid;     /* high-water mark */
    bolt_txid txid;
    uint64_t checksum, computed; /* stored and computed FNV-1a */
} bolt_meta_info;

typedef struct bolt_db_info {
    uint32_t page_size;
    uint64_t file_size;
    int current; /* 0 or 1: the meta page in use */
    bolt_meta_info meta[2];
    uint64_t listed_free; /* ids in the current freelist page; UINT64_MAX if none stored */
} bolt_db_info;

/*
 * Both meta pages as they are in the map now, and which one is current.
 * 0; BOLT_ECORRUPT (the current freelist page is unreadable). Thread-safe.
 */
STRATA_API int bolt_db_info_get(bolt_db *db, bolt_db_info *out);

typedef struct bolt_page_info {
    bolt_pgid id; /* from the header (it should equal the page number) */
    uint16_t flags;
    uint16_t count;
    uint32_t overflow;
    const char *type; /* "meta", "freelist", "branch", "leaf" or "unknown"; static */
    int status;       /* branch/leaf: 0 or BOLT_ECORRUPT from the page check */
    const char *why;  /* static reason when status != 0, else "" */
} bolt_page_info;

/*
 * The header of page id (any page below the transaction's high-water mark)
 * and, for branch and leaf pages, the result of the full page check.
 * 0; BOLT_NOTFOUND (id at or past the high-water mark or the file end).
 */
STRATA_API int bolt_tx_page_info(bolt_tx *tx, bolt_pgid id, bolt_page_info *out);

/*
 * The bytes of page id and its overflow run (clipped to the high-water mark
 * and the file), borrowed from the map: valid until tx ends.
 * 0; BOLT_NOTFOUND.
 */
STRATA_API int bolt_tx_page_bytes(bolt_tx *tx, bolt_pgid id, bolt_val *out);

/* ---- checking and dumping ---------------------------------------------- */

/*
 * Verify the whole file as tx sees it (bbolt's Tx.Check list, docs/format.md §11,
 * plus key order, element bounds, separator = child's first key, inline
 * bucket rules), calling report(arg, message) once per problem, e.g.
 * "page 7: unreachable unfreed". It checks the pages as committed when tx
 * began (a write transaction's own changes are not on pages yet). Returns
 * 0 if clean, BOLT_ECORRUPT if anything was reported, or -ENOMEM.
 */
STRATA_API int bolt_tx_check(bolt_tx *tx, void (*report)(void *arg, const char *problem),
                             void *arg);

/*
 * Progress of a long walk: done of total (pages, unless said otherwise),
 * called from the walking thread every so often and at the end.
 */
typedef void (*bolt_progress_fn)(void *arg, uint64_t done, uint64_t total);

/*
 * bolt_tx_check, calling progress(progress_arg, pages entered, pages to
 * enter) every 1024 pages entered and once at the end. Pages to enter: the
 * transaction's page count less the metas, the freelist's run and the free
 * pages it lists (a clean file ends at done == total); the page count when
 * no freelist is stored. progress may be NULL.
 */
STRATA_API int bolt_tx_check_progress(bolt_tx *tx, void (*report)(void *arg, const char *problem),
                                      void *arg, bolt_progress_fn progress, void *progress_arg);

/*
 * The pages one walk over a tree has entered: what every walk that copies
 * or lists buckets through cursors (dump, compact, hash, defrag, a restore)
 * uses so that a damaged file cannot make it walk the same subtree again
 * and again (a bucket whose root is another bucket's page, or its parent's
 * leaf, two branch elements naming one child, a cycle). Add each bucket
 * before reading its keys: its own tree's pages (not its nested buckets')
 * are entered and validated; a page this set has entered before ends the
 * walk. The work is bounded by the file's size; memory is one bit per page
 * below the high-water mark. The set belongs to tx: free it before tx
 * ends. It sees the pages as committed when tx began (a write
 * transaction's own changes are not on pages yet).
 *
 * bolt_visited_new: 0 and *out; BOLT_ETXCLOSED; -ENOMEM.
 * bolt_visited_add: 0 (an inline bucket owns no page: always 0);
 *   BOLT_ECORRUPT, with bolt_db_last_corruption naming the page ("reached
 *   twice in one walk ..." or why it is not a valid page); STRATA_EMISUSE
 *   (b is not of the set's transaction); BOLT_ETXCLOSED.
 */
typedef struct bolt_visited bolt_visited;
STRATA_API int bolt_visited_new(bolt_tx *tx, bolt_visited **out);
STRATA_API int bolt_visited_add(bolt_visited *v, bolt_bucket *b);
STRATA_API void bolt_visited_free(bolt_visited *v);
/*
 * Call fn(arg, pages entered by the set so far, the transaction's page
 * count) every 1024 pages the set's adds enter (fn NULL: stop).
 */
STRATA_API void bolt_visited_set_progress(bolt_visited *v, bolt_progress_fn fn, void *arg);
/*
 * What the set's adds have entered: pages, and the plain key/value pairs on
 * those pages' leaves with their key+value bytes (nested buckets' contents
 * count once their bucket is added). A walk that adds every bucket before
 * reading any knows the total of what it will read (its progress).
 */
typedef struct bolt_visited_counts {
    uint64_t pages, pairs, bytes;
} bolt_visited_counts;
STRATA_API void bolt_visited_counts_get(const bolt_visited *v, bolt_visited_counts *out);

/*
 * Every bucket and key tx sees, depth-first in key order (the walk behind
 * bolt_tx_dump): key(arg, depth, key, value) for each plain key (depth 0:
 * the root bucket's); bucket(arg, depth, name, sequence) when a nested
 * bucket is entered, its contents follow at depth + 1, then
 * bucket_end(arg, depth). Any callback may be NULL; a non-zero return stops
 * the walk with that status. The bolt_vals are valid until tx ends. Each
 * page is entered once (bolt_visited) and keys must come strictly in order:
 * a damaged file stops the walk with BOLT_ECORRUPT, bolt_db_last_corruption
 * naming the page. Returns 0; BOLT_ECORRUPT; -ENOMEM; STRATA_EMISUSE (fns
 * NULL); a callback's status.
 */
typedef struct bolt_walk_fns {
    int (*key)(void *arg, int depth, bolt_val key, bolt_val value);
    int (*bucket)(void *arg, int depth, bolt_val name, uint64_t sequence);
    int (*bucket_end)(void *arg, int depth);
} bolt_walk_fns;
STRATA_API int bolt_tx_walk(bolt_tx *tx, const bolt_walk_fns *fns, void *arg);

/*
 * Write the canonical dump (`bolt-dump v1`) of everything tx sees to out.
 * Strings longer than max_hex bytes are written sha256:LEN:HEX (0 = never).
 * Returns 0; BOLT_ECORRUPT; -EIO when writing to out fails.
 */
STRATA_API int bolt_tx_dump(bolt_tx *tx, FILE *out, uint64_t max_hex);
#define BOLT_DUMP_MAX_HEX 32768

/* ---- backups (bolt/backup.c) ------------------------------------------- */

/*
 * Stream a consistent image of the database as the read transaction tx sees
 * it (bbolt's Tx.WriteTo): meta page 0 regenerated from tx's meta, meta
 * page 1 the same with txid - 1, then pages 2 .. pgid - 1 read from the
 * file with pread; bolt_tx_size(tx) bytes in all. Writers may go on
 * meanwhile. progress (may be NULL) is called after each chunk with the
 * bytes written so far and the total; a non-zero return stops the copy and
 * is returned. bolt_tx_write_to writes to fd with write(2) (a file, pipe or
 * socket, at its current offset); bolt_tx_write_fn hands each chunk to
 * write_fn(write_arg, buf, n), which returns 0 or a status that stops the
 * copy. tx stays open (the caller ends it).
 * Returns 0; STRATA_EMISUSE (a write transaction, bad fd, NULL write_fn);
 * -errno from pread/write; BOLT_ECORRUPT (the file is
 * shorter than the meta says); -ENOMEM; or the callbacks' status.
 */
STRATA_API int bolt_tx_write_to(bolt_tx *tx, int fd,
                                int (*progress)(void *arg, uint64_t done, uint64_t total),
                                void *arg);
STRATA_API int bolt_tx_write_fn(bolt_tx *tx, int (*write_fn)(void *arg, const void *buf, size_t n),
                                void *write_arg,
                                int (*progress)(void *arg, uint64_t done, uint64_t total),
                                void *progress_arg);

/*
 * The number of free pages (allocatable now; pages still pending for open
 * readers are not counted) as the write transaction tx sees it: bbolt's
 * Stats().FreePageN, used for etcd's SizeInUse. 0 and *out;
 * BOLT_ETXNOTWRITABLE (a read transaction).
 */
STRATA_API int bolt_tx_free_pages(bolt_tx *tx, uint64_t *out);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_BOLT_H */
