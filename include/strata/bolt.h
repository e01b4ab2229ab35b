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
    X(BOLT_ETXCLOSED, -5107, "tx closed")                                                    \
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
    X(BOLT_ETXACTIVE, -5154, "the database still has open transactions")

enum bolt_status {
    BOLT_NOTFOUND = STRATA_NOTFOUND,
#define BOLT__ENUM(name, code, msg) name = (code),
    BOLT_ERRORS(BOLT__ENUM)
#undef BOLT__ENUM
};

/* A page number, and a transaction id (FORMAT.md §1, §3.1). */
typedef uint64_t bolt_pgid;
typedef uint64_t bolt_txid;

/*
 * Describe any code bolt or a layer below it can return. Static string,
 * never NULL.
 */
const char *bolt_strerror(int rc);

/* "BOLT_ECHECKSUM" for a code of bolt's table, else strata_status_name(rc). */
const char *bolt_status_name(int rc);

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
bolt_val bolt_str(const char *s);

typedef struct bolt_db bolt_db;         /* thread-safe */
typedef struct bolt_tx bolt_tx;         /* one thread at a time */
typedef struct bolt_bucket bolt_bucket; /* owned by its tx */
typedef struct bolt_cursor bolt_cursor; /* owned by its tx */
struct bolt_os;                         /* the I/O table (bolt/os.h), for tests */

/* ---- database ---------------------------------------------------------- */

typedef enum bolt_freelist_type {
    BOLT_FREELIST_ARRAY = 0,   /* bbolt's default: the lowest run of n free pages */
    BOLT_FREELIST_HASHMAP = 1, /* runs indexed by size */
} bolt_freelist_type;

/*
 * Open options; bolt_options_init() fills bbolt's defaults, and a
 * zero-filled struct means the same (size 0 is taken as "current").
 * New fields are only ever added at the end.
 */
typedef struct bolt_options {
    size_t size;           /* sizeof(bolt_options) as the caller knew it */
    uint64_t timeout_ms;   /* flock wait; 0 = wait forever (bbolt's Timeout) */
    bool read_only;        /* O_RDONLY + LOCK_SH; no write transactions */
    bool no_sync;          /* skip fdatasync at commit (unsafe on crash) */
    bool no_grow_sync;     /* skip the fsync after growing the file */
    bool no_freelist_sync; /* store no freelist page (meta.freelist = ~0) */
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
} bolt_options;

/* Fill o with the defaults (bbolt's DefaultOptions). */
void bolt_options_init(bolt_options *o);

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
int bolt_open(const char *path, const bolt_options *opt, bolt_db **out);

/*
 * Open a database image held in memory, read-only (for fuzzers and tools).
 * buf must stay valid and unchanged until bolt_close. Same errors as
 * bolt_open, minus the file ones.
 */
int bolt_open_memory(const void *buf, size_t len, const bolt_options *opt, bolt_db **out);

/*
 * Close: unmap, unlock, close the file, free. Writes nothing. Every
 * transaction must have ended: otherwise returns BOLT_ETXACTIVE and leaves
 * the database open. NULL is a no-op returning 0.
 */
int bolt_close(bolt_db *db);

/* The page size of the open database. */
uint32_t bolt_db_page_size(const bolt_db *db);

/* The path given to bolt_open ("" for bolt_open_memory); owned by db. */
const char *bolt_db_path(const bolt_db *db);

/*
 * The last BOLT_ECORRUPT's detail, e.g. "page 12: element 3 key past end of
 * page", copied into buf (NUL-terminated, truncated to size). "" if none.
 */
void bolt_db_last_corruption(bolt_db *db, char *buf, size_t size);

/* ---- transactions ------------------------------------------------------ */

#define BOLT_TX_WRITE 0x1u /* bolt_tx_begin flag: a read-write transaction */

/*
 * Begin a transaction: read-only (flags 0) or read-write (BOLT_TX_WRITE).
 * One write transaction at a time: a second writer blocks until the first
 * ends. Readers never block and are never blocked by the writer, except
 * that a writer whose file outgrows the reserved map waits for nothing
 * either (a new map is made; the old one is released by its last reader).
 * Do not begin a write transaction on a thread that already holds one.
 * Returns 0; BOLT_EDATABASENOTOPEN; BOLT_EDATABASEREADONLY (write on a
 * read-only db); BOLT_EPOISONED (a failed commit left the file state
 * unknown); -ENOMEM. *out is NULL on failure.
 */
int bolt_tx_begin(bolt_db *db, unsigned flags, bolt_tx **out);

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
 * BOLT_ECORRUPT; -ENOMEM.
 */
int bolt_tx_commit(bolt_tx *tx);

/* End a transaction, discarding its changes. NULL is a no-op. */
void bolt_tx_rollback(bolt_tx *tx);

/* The transaction's id: the txid of the meta it sees (+1 for a writer). */
bolt_txid bolt_tx_id(const bolt_tx *tx);
bool bolt_tx_writable(const bolt_tx *tx);
/* Bytes of the database as this transaction sees it (pgid * page size). */
uint64_t bolt_tx_size(const bolt_tx *tx);

/*
 * Run fn in a managed transaction: bolt_update commits when fn returns 0 and
 * rolls back otherwise, returning fn's status (or the commit's);
 * bolt_view always rolls back. fn must not end the transaction itself.
 */
int bolt_update(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg);
int bolt_view(bolt_db *db, int (*fn)(bolt_tx *tx, void *arg), void *arg);

/* ---- buckets ----------------------------------------------------------- */

/*
 * The root bucket (its keys are the top-level bucket names); owned by tx,
 * never NULL. Plain keys may be put into it (bbolt allows it, unusual).
 */
bolt_bucket *bolt_tx_root(bolt_tx *tx);

/*
 * Open the nested bucket `name` of parent (bolt_tx_root(tx) for top-level
 * buckets; bolt_tx_bucket is that shorthand). The handle is owned by the
 * transaction and valid until it ends (or the bucket is deleted). Returns
 * 0; BOLT_NOTFOUND (no such bucket, or name is a plain key); BOLT_ETXCLOSED;
 * BOLT_ECORRUPT; -ENOMEM. *out is NULL unless 0.
 */
int bolt_bucket_open(bolt_bucket *parent, bolt_val name, bolt_bucket **out);
int bolt_tx_bucket(bolt_tx *tx, bolt_val name, bolt_bucket **out);

/*
 * Create the nested bucket `name` (empty, inline). Returns 0;
 * BOLT_EBUCKETEXISTS; BOLT_EINCOMPATIBLEVALUE (name is a plain key);
 * BOLT_EBUCKETNAMEREQUIRED (empty name); BOLT_ETXNOTWRITABLE;
 * BOLT_ETXCLOSED; BOLT_ECORRUPT; -ENOMEM. The _if_not_exists form returns
 * the existing bucket instead of BOLT_EBUCKETEXISTS. out may be NULL.
 */
int bolt_bucket_create(bolt_bucket *parent, bolt_val name, bolt_bucket **out);
int bolt_bucket_create_if_not_exists(bolt_bucket *parent, bolt_val name, bolt_bucket **out);

/*
 * Delete the nested bucket `name` with everything below it; its pages are
 * freed at commit. Handles to it (and below) become unusable
 * (BOLT_EBUCKETNOTFOUND). Returns 0; BOLT_EBUCKETNOTFOUND;
 * BOLT_EINCOMPATIBLEVALUE (a plain key); BOLT_ETXNOTWRITABLE; BOLT_ETXCLOSED.
 */
int bolt_bucket_delete_bucket(bolt_bucket *parent, bolt_val name);

/*
 * Get the value of key. Returns 0 and *value (borrowed, see bolt_val);
 * BOLT_NOTFOUND (missing, or key names a bucket); BOLT_ETXCLOSED;
 * BOLT_EBUCKETNOTFOUND (deleted handle); BOLT_ECORRUPT.
 */
int bolt_bucket_get(bolt_bucket *b, bolt_val key, bolt_val *value);

/*
 * Set key to value; both are copied. Returns 0; BOLT_EKEYREQUIRED (empty
 * key); BOLT_EKEYTOOLARGE (> 32768); BOLT_EVALUETOOLARGE (> 2^31 - 2, or
 * key + value too large for bbolt to read back); BOLT_EINCOMPATIBLEVALUE
 * (key names a bucket); BOLT_ETXNOTWRITABLE; BOLT_ETXCLOSED;
 * BOLT_EBUCKETNOTFOUND; BOLT_ECORRUPT; -ENOMEM.
 */
int bolt_bucket_put(bolt_bucket *b, bolt_val key, bolt_val value);

/*
 * Delete key; a missing key is not an error (0). BOLT_EINCOMPATIBLEVALUE if
 * key names a bucket; otherwise as bolt_bucket_put.
 */
int bolt_bucket_delete(bolt_bucket *b, bolt_val key);

/* The bucket's sequence (FORMAT.md §6). */
uint64_t bolt_bucket_sequence(const bolt_bucket *b);
/*
 * Increment the sequence and return the new value in *out (write tx only);
 * set it to any value. 0; BOLT_ETXNOTWRITABLE; BOLT_ETXCLOSED; -ENOMEM.
 */
int bolt_bucket_next_sequence(bolt_bucket *b, uint64_t *out);
int bolt_bucket_set_sequence(bolt_bucket *b, uint64_t seq);

/* Fill percent for splits of this handle's pages (clamped to [0.1, 1.0]). */
void bolt_bucket_set_fill_percent(bolt_bucket *b, double fill);

/* True when b is an inline bucket as this transaction sees it (root 0). */
bool bolt_bucket_is_inline(const bolt_bucket *b);

/*
 * Call fn(arg, key, value) for each element in key order (value.data NULL
 * for a nested bucket). Stops early and returns fn's value when it is
 * non-zero. fn must not modify the bucket.
 */
int bolt_bucket_for_each(bolt_bucket *b, int (*fn)(void *arg, bolt_val key, bolt_val value),
                         void *arg);

/* ---- cursors ----------------------------------------------------------- */

/*
 * A cursor over b's elements in key order. Owned by the transaction (freed
 * when it ends; bolt_cursor_close frees it earlier). In a write transaction
 * a mutating call other than bolt_cursor_delete on this cursor invalidates
 * it: position it again with first/last/seek.
 * Every move returns 0 with *key and *value set (borrowed, see bolt_val;
 * either may be NULL if not wanted), BOLT_NOTFOUND past either end,
 * BOLT_ETXCLOSED, or BOLT_ECORRUPT.
 */
int bolt_cursor_open(bolt_bucket *b, bolt_cursor **out);
void bolt_cursor_close(bolt_cursor *c);
int bolt_cursor_first(bolt_cursor *c, bolt_val *key, bolt_val *value);
int bolt_cursor_last(bolt_cursor *c, bolt_val *key, bolt_val *value);
int bolt_cursor_next(bolt_cursor *c, bolt_val *key, bolt_val *value);
int bolt_cursor_prev(bolt_cursor *c, bolt_val *key, bolt_val *value);
/* Position at the first element >= seek. */
int bolt_cursor_seek(bolt_cursor *c, bolt_val seek, bolt_val *key, bolt_val *value);
/*
 * Delete the element under the cursor (write tx). The cursor then stands
 * where the next element will be returned by bolt_cursor_next.
 * BOLT_EINCOMPATIBLEVALUE on a bucket; BOLT_NOTFOUND when not positioned.
 */
int bolt_cursor_delete(bolt_cursor *c);

/* ---- checking and dumping ---------------------------------------------- */

/*
 * Verify the whole file as tx sees it (bbolt's Tx.Check list, FORMAT.md §11,
 * plus key order, element bounds, separator = child's first key, inline
 * bucket rules), calling report(arg, message) once per problem, e.g.
 * "page 7: unreachable unfreed". Returns 0 if clean, BOLT_ECORRUPT if
 * anything was reported, or -ENOMEM.
 */
int bolt_tx_check(bolt_tx *tx, void (*report)(void *arg, const char *problem), void *arg);

/*
 * Write the canonical dump (`bolt-dump v1`) of everything tx sees to out.
 * Strings longer than max_hex bytes are written sha256:LEN:HEX (0 = never).
 * Returns 0; BOLT_ECORRUPT; -EIO when writing to out fails.
 */
int bolt_tx_dump(bolt_tx *tx, FILE *out, uint64_t max_hex);
#define BOLT_DUMP_MAX_HEX 32768

#ifdef __cplusplus
}
#endif

#endif /* STRATA_BOLT_H */
