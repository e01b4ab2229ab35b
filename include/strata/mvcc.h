/*
 * strata/mvcc.h: the multi-version key-value store (etcd 3.4.23's mvcc
 * package): revisions, range/put/delete/txn, compaction, hashes, restore,
 * and (in the watch block at the end) watches.
 *
 * A store lives over a backend (<strata/backend.h>) holding etcd's schema:
 * buckets `key` (every revision of every key) and `meta` (compaction marks,
 * consistent index), docs/schema.md §2-§4. Every write transaction that changes
 * something makes one new store revision; each change in it gets a
 * sub-revision 0, 1, 2, ... Reads name a revision and see the store as it
 * was then, until a compaction removes the history below its revision.
 *
 * Ranges: a range is (key, end) with etcd's mvcc rules: end == NULL is the
 * single key `key`; end != NULL with end_len > 0 is [key, end) (empty when
 * end <= key); end != NULL with end_len == 0 is every key >= key. (etcd's
 * server maps a range end of "\x00" to ">= key"; the mvcc layer does not,
 * and neither does this API: pass an empty non-NULL end for that.)
 *
 * Thread rules: a store is thread-safe. Write transactions run one at a
 * time (mvcc_txn_write_begin waits for the previous one to end); a write
 * transaction holds the backend's batch lock, so it must be begun and
 * ended on the same thread and kept short. Read transactions run on any
 * threads, any number at once, concurrently with writes and compaction,
 * and never block them; a transaction (and an iterator) is used by one
 * thread at a time. Compaction deletes in the background, in small
 * batches, between which writes proceed. mvcc_store_close must not run
 * concurrently with any other call on the store, and every transaction and
 * iterator must have ended before it.
 *
 * Lock order (for code inside strata and for commit hooks): the store's
 * write lock, then the backend's batch lock, then the store's revision
 * lock; see mvcc/mvcc_int.h.
 *
 * Memory: inputs (keys, values) are copied, so callers may reuse their
 * buffers when a call returns. Outputs are described at each call.
 *
 * Status codes: 0, the shared outcomes, -errno, the codes of backend, bolt,
 * idx and lease, and the range -5400..-5499 below: etcd's mvcc errors with
 * the same messages (-5400..-5449), then strata's own for damaged records
 * (-5450..: a revision key that is not docs/schema.md §3.1's form; a KeyValue
 * that is not valid protobuf gives common's STRATA_EPB* codes).
 */
#ifndef STRATA_MVCC_H
#define STRATA_MVCC_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_MVCC)
#error "this layer may not include <strata/mvcc.h>"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/backend.h>
#include <strata/idx.h>
#include <strata/lease.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVCC_ERRORS(X)                                                                           \
    X(MVCC_ECOMPACTED, -5400, "mvcc: required revision has been compacted")                      \
    X(MVCC_EFUTUREREV, -5401, "mvcc: required revision is a future revision")                    \
    X(MVCC_ECANCELED, -5402, "mvcc: watcher is canceled")                                        \
    X(MVCC_ECLOSED, -5403, "mvcc: closed")                                                       \
    X(MVCC_EWATCHERNOTEXIST, -5404, "mvcc: watcher does not exist")                              \
    X(MVCC_EEMPTYWATCHERRANGE, -5405, "mvcc: watcher range is empty")                            \
    X(MVCC_EDUPWATCHID, -5406, "mvcc: duplicate watch ID provided on the WatchStream")           \
    X(MVCC_EREADONLY, -5420, "mvcc: the store or transaction is read-only")                      \
    X(MVCC_EEMPTYKEY, -5421, "mvcc: empty key")                                                  \
    X(MVCC_ENOLESSOR, -5422, "mvcc: a lease was named but the store has no lessor")              \
    X(MVCC_ETXNDONE, -5423, "mvcc: a write in this transaction failed; only end is allowed")     \
    X(MVCC_EITERDONE, -5424, "mvcc: the iterator has no more chunks")                            \
    X(MVCC_ECORRUPT, -5450, "mvcc: stored record is corrupt")                                    \
    X(MVCC_EREVKEYLEN, -5451, "mvcc: revision key is not 17 or 18 bytes long")                   \
    X(MVCC_EREVKEYSEP, -5452, "mvcc: revision key has no '_' at byte 8")                         \
    X(MVCC_EREVKEYMARK, -5453, "mvcc: 18-byte revision key lacks the tombstone mark 't'")        \
    X(MVCC_EREVKEYNEG, -5454, "mvcc: revision key holds a negative revision")                    \
    X(MVCC_EMETA, -5455, "mvcc: a meta record (compaction mark, consistent index) is malformed") \
    X(MVCC_EGENERATION, -5456, "mvcc: a key's records contradict its generations (create, version)")

enum mvcc_status {
#define MVCC__ENUM(name, code, msg) name = (code),
    MVCC_ERRORS(MVCC__ENUM)
#undef MVCC__ENUM
};

/* Describe any code mvcc or a layer below it can return; never NULL. */
STRATA_API const char *mvcc_strerror(int rc);

/* "MVCC_ECOMPACTED" for a code of mvcc's table, else the lower layers' name. */
STRATA_API const char *mvcc_status_name(int rc);

/* ---- values ----------------------------------------------------------------- */

/*
 * A key-value pair as etcd's mvccpb.KeyValue: key and value are borrowed
 * (each result type says how long they live); an empty value may have a
 * NULL pointer with value_len 0. lease 0 = none.
 */
typedef struct mvcc_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int64_t create_revision; /* main revision of the put that created this generation */
    int64_t mod_revision;    /* main revision of this change */
    int64_t version;         /* 1 for the creating put, +1 per put since */
    int64_t lease;
} mvcc_kv;

/* ---- opening and closing (mvcc/kvstore.c, mvcc/restore.c) -------------------- */

typedef struct mvcc_store mvcc_store; /* thread-safe */
typedef struct mvcc_txn mvcc_txn;     /* one thread at a time; a write txn: its own thread */

/*
 * Open options; mvcc_options_init fills the defaults (a zero-filled struct
 * means the same). New fields are only ever added at the end.
 */
typedef struct mvcc_options {
    size_t size; /* sizeof(mvcc_options) as the caller knew it; 0 = this version's */
    /*
     * The lessor the store attaches leased keys to (etcd's mvcc calls its
     * Lessor the same way); NULL = none: a put naming a lease then fails
     * with MVCC_ENOLESSOR and restore attaches nothing. Borrowed: it must
     * outlive the store (close the store first). (The type is lease.h's
     * lessor handle.)
     */
    struct lease_lessor *lessor;
    /* Entries examined per physical compaction batch; 0 = 1000 (etcd's default). */
    uint32_t compaction_batch_limit;
    /*
     * Longest time one physical compaction batch examines entries (in a
     * read view of its own: it holds no lock a writer takes); the batch
     * ends early when it is reached (it always examines at least one
     * entry). 0 = 0.5 ms. Its deletes are applied by the backend's commits
     * outside the batch lock (backend_delete_deferred).
     */
    uint64_t compaction_batch_max_ns;
    /*
     * Pause between two compaction batches (etcd 3.4 sleeps 10 ms); 0 =
     * as long as the batch before ran (at least 50 us), so on a busy
     * machine the compaction takes about half of a core.
     */
    uint64_t compaction_pause_ns;
    /* Threads that rebuild the index on open; 0 = one per online CPU. */
    unsigned restore_threads;
    /*
     * Open for inspection only (works over a read-only or a writable
     * backend): create no bucket, write and commit nothing, resume no
     * unfinished compaction (mvcc_store_pending_compaction reports it);
     * writes, compact and the consistent index setter return
     * MVCC_EREADONLY. A file without a `key` bucket reads as an empty store.
     */
    bool read_only;
    /*
     * Where a failed open describes the problem (NUL-terminated, at most
     * errbuf_size bytes), e.g. which record of the `key` bucket is damaged
     * and how. NULL = no description. Written only on failure.
     */
    char *errbuf;
    size_t errbuf_size;
} mvcc_options;

/* Fill o with the defaults. */
STRATA_API void mvcc_options_init(mvcc_options *o);

/*
 * Open a store over be (borrowed: it must stay open until the store is
 * closed; the store never closes it). Unless read-only: create buckets
 * `key` and `meta` if missing and force a commit (as etcd's NewStore).
 * Then restore (docs/schema.md §7): rebuild the key index from the `key`
 * bucket with opt->restore_threads threads, restore the current and the
 * compacted revisions (a crash inside a compaction never leaves the
 * current revision below the compaction's: etcd issue 17780 is fixed),
 * attach leased keys to the lessor, and resume an unfinished compaction
 * in the background (not read-only). opt may be NULL (defaults); it is
 * copied.
 *
 * Returns 0; STRATA_EMISUSE (NULL be); -ENOMEM; -errno (locks, threads); the
 * backend's codes (BOLT_EDATABASEREADONLY: a read-only backend without
 * opt->read_only); MVCC_ENOLESSOR (a lessor given to a build without
 * lease support); for a damaged `key` or `meta` bucket (described in
 * opt->errbuf, naming the record): MVCC_EREVKEY* (a bad revision key),
 * STRATA_EPB* (a bad protobuf), MVCC_ECORRUPT (a record breaking the
 * schema: a mod revision that is not its key's, a revision out of order),
 * MVCC_EGENERATION (a key's records contradict each other), MVCC_EMETA (a
 * bad compaction mark or consistent index); BOLT_ECORRUPT (a page of the
 * `key` bucket's tree reached twice, or invalid: the restore enters every
 * page once before reading it; opt->errbuf names the page). *out is NULL
 * on failure.
 */
STRATA_API int mvcc_store_open(backend *be, const mvcc_options *opt, mvcc_store **out);

/*
 * Close: stop a running compaction between two batches (the next open
 * resumes it), commit (mvcc_store_commit), unregister from the backend and
 * the lessor, free everything. The backend stays open. Every transaction
 * and iterator must have ended. Returns 0 or the commit's status (the
 * store is closed anyway). NULL is a no-op returning 0.
 */
STRATA_API int mvcc_store_close(mvcc_store *s);

/* The backend the store was opened over (borrowed). */
STRATA_API backend *mvcc_store_backend(mvcc_store *s);

/* The current revision: that of the last write transaction that changed something (1 = none yet).
 */
STRATA_API int64_t mvcc_store_rev(mvcc_store *s);

/*
 * The compacted revision: that of the last accepted compaction (its
 * history below is refused even while the physical deletion runs), -1 if
 * the store was never compacted (etcd's compactMainRev).
 */
STRATA_API int64_t mvcc_store_compact_rev(mvcc_store *s);

/*
 * A compaction accepted but not finished: the revision of the newest one
 * scheduled or running (or, on a read-only open, found unfinished in the
 * file), else 0.
 */
STRATA_API int64_t mvcc_store_pending_compaction(mvcc_store *s);

/* ---- transactions (mvcc/kvstore_txn.c) ------------------------------------- */

/*
 * Begin a read transaction at the current revision: O(1); it sees that
 * revision's state for its whole life, whatever writes and compactions do
 * meanwhile (a range below a compaction accepted meanwhile fails with
 * MVCC_ECOMPACTED). It blocks no writer. Returns 0; MVCC_ECLOSED; the
 * backend's codes; -ENOMEM. *out NULL on failure. End with mvcc_txn_end.
 */
STRATA_API int mvcc_txn_read_begin(mvcc_store *s, mvcc_txn **out);

/*
 * Begin a write transaction (etcd's store.Write): waits for the previous
 * write transaction to end, takes the backend's batch lock, and records the
 * begin revision (the current one); its changes get revision begin+1.
 * There is no rollback (as in etcd): every put and delete is applied at
 * once; end makes them visible to readers as one new revision, or, with no
 * change, creates no revision. Returns 0; MVCC_EREADONLY; MVCC_ECLOSED;
 * -ENOMEM. *out NULL on failure.
 */
STRATA_API int mvcc_txn_write_begin(mvcc_store *s, mvcc_txn **out);

/*
 * The transaction's revision: a read transaction's revision; a write
 * transaction's begin revision (etcd's TxnRead.Rev / TxnWrite.Rev).
 */
STRATA_API int64_t mvcc_txn_rev(const mvcc_txn *t);

/* A write transaction's number of changes so far (0 for a read transaction). */
STRATA_API size_t mvcc_txn_changes(const mvcc_txn *t);

/*
 * Range options; zero-filled (or NULL) means: at the transaction's
 * revision, no limit, with values.
 */
typedef struct mvcc_range_options {
    size_t size;     /* sizeof as the caller knew it; 0 = this version's */
    int64_t rev;     /* <= 0: the transaction's revision */
    int64_t limit;   /* at most this many kvs (count still counts all); <= 0: no limit */
    bool count_only; /* only count: no kvs */
    bool keys_only;  /* kvs without values (value NULL, value_len 0) */
} mvcc_range_options;

/*
 * A range result (etcd's RangeResult). Zero-initialize (or
 * mvcc_range_result_init), let mvcc_txn_range fill it, then release it.
 * kvs[0, n) in key order. Their key and value bytes live until the result
 * is released or filled again or its transaction ends, whichever comes
 * first. A result filled again reuses its storage (up to 256 KiB of it),
 * so a loop of point reads into one result allocates nothing after the
 * first.
 */
typedef struct mvcc_range_result {
    int64_t rev;   /* the transaction's revision (not the one asked for) */
    int64_t count; /* keys matching at the revision (all of them, past any limit) */
    size_t n;      /* kvs returned */
    mvcc_kv *kvs;
    void *mem_; /* private storage */
    size_t mem_len_, mem_cap_, kvs_cap_;
} mvcc_range_result;

STRATA_API void mvcc_range_result_init(mvcc_range_result *r);
/* Frees what r holds and re-initializes it; NULL is a no-op. */
STRATA_API void mvcc_range_result_release(mvcc_range_result *r);

/*
 * Range (etcd's storeTxnRead.rangeKeys, docs/schema.md §3.4) over the keys
 * (key, end) (see the range rules at the top) at o->rev: the newest
 * version of each key alive at that revision. A write transaction sees its
 * own changes (at begin+1 once it has any). out's earlier contents are
 * dropped first (its storage is reused), then it is filled. Returns 0;
 *   MVCC_EFUTUREREV  o->rev > the transaction's revision: out->rev = that
 *                    revision, out->count = -1, no kvs (etcd's result);
 *   MVCC_ECOMPACTED  o->rev < the compacted revision (reading AT it is
 *                    allowed): out->rev = 0, out->count = -1;
 *   STRATA_EMISUSE (NULL key with key_len > 0); MVCC_ETXNDONE;
 *   MVCC_ECORRUPT (an index entry whose record is missing or damaged);
 *   the backend's codes; -ENOMEM.
 */
STRATA_API int mvcc_txn_range(mvcc_txn *t, const void *key, size_t key_len, const void *end,
                              size_t end_len, const mvcc_range_options *o, mvcc_range_result *out);

/*
 * Put (etcd's storeTxnWrite.put, docs/schema.md §3.3): write key = value at
 * revision begin+1, sub-revision = the number of changes so far; the
 * version counts on from the key's live generation (a key deleted earlier
 * in this transaction starts a new one). lease != 0 attaches the key to
 * that lease (detaching it from its previous one); the lease must exist in
 * the store's lessor: LEASE_ENOTFOUND otherwise, and nothing is written
 * (etcd's server check). *rev (may be NULL) = begin+1. Returns 0;
 * MVCC_EREADONLY (a read transaction); MVCC_EEMPTYKEY; MVCC_ENOLESSOR
 * (lease != 0, no lessor); LEASE_ENOTFOUND; STRATA_EMISUSE (NULL pointer
 * with a length); bolt's size limits (BOLT_EKEYTOOLARGE,
 * BOLT_EVALUETOOLARGE: nothing written); MVCC_ETXNDONE. A failure after
 * the record was written (memory for the index, the backend failing) makes
 * the transaction fail every later call with MVCC_ETXNDONE: end it (what
 * was written stays, as etcd would).
 */
STRATA_API int mvcc_txn_put(mvcc_txn *t, const void *key, size_t key_len, const void *value,
                            size_t value_len, int64_t lease, int64_t *rev);

/*
 * Delete range (etcd's storeTxnWrite.deleteRange): a tombstone for every
 * key of (key, end) alive now (in key order, each its own sub-revision),
 * detaching each from its lease. *n (may be NULL) = keys deleted; *rev
 * (may be NULL) = begin+1 if n > 0 or the transaction already has changes,
 * else begin. Returns 0; MVCC_EREADONLY; MVCC_ETXNDONE; STRATA_EMISUSE;
 * -ENOMEM; the backend's codes (then MVCC_ETXNDONE for later calls).
 */
STRATA_API int mvcc_txn_delete_range(mvcc_txn *t, const void *key, size_t key_len, const void *end,
                                     size_t end_len, int64_t *n, int64_t *rev);

/*
 * End a transaction and free it. A write transaction with changes becomes
 * the new current revision: readers begun after this returns see it, and
 * watchers are told before it returns. *rev (may be NULL) = the store's
 * revision after the end. Returns 0, or a backend status from the unlock
 * (a commit reached at the batch limit failed: the revision is made
 * anyway, the backend refuses later writes). NULL is a no-op returning 0.
 */
STRATA_API int mvcc_txn_end(mvcc_txn *t, int64_t *rev);

/*
 * One-change conveniences: a write transaction with one put / one delete
 * range, or a read transaction with one range (its result then lives
 * until released: the bytes are copied out of the ended transaction).
 * Same codes as the calls they wrap.
 */
STRATA_API int mvcc_store_put(mvcc_store *s, const void *key, size_t key_len, const void *value,
                              size_t value_len, int64_t lease, int64_t *rev);
STRATA_API int mvcc_store_delete_range(mvcc_store *s, const void *key, size_t key_len,
                                       const void *end, size_t end_len, int64_t *n, int64_t *rev);
STRATA_API int mvcc_store_range(mvcc_store *s, const void *key, size_t key_len, const void *end,
                                size_t end_len, const mvcc_range_options *o,
                                mvcc_range_result *out);

/* ---- streaming ranges (mvcc/range_iter.c) ------------------------------------ */

typedef struct mvcc_range_iter mvcc_range_iter; /* one thread at a time */

/*
 * Stream the range (key, end) at revision rev (<= 0: the current one) in
 * chunks of at most chunk kvs (0 = 1000): memory for one chunk, never for
 * the whole result (etcd materializes it). The iterator holds a read view
 * of its own (as a read transaction: it blocks no writer). keys_only
 * leaves values out. Returns 0; MVCC_EFUTUREREV; MVCC_ECOMPACTED;
 * MVCC_ECLOSED; STRATA_EMISUSE; -ENOMEM; the backend's codes. *out NULL on
 * failure. Close it with mvcc_range_iter_close.
 */
STRATA_API int mvcc_range_iter_open(mvcc_store *s, const void *key, size_t key_len, const void *end,
                                    size_t end_len, int64_t rev, size_t chunk, bool keys_only,
                                    mvcc_range_iter **out);

/*
 * The next chunk: *kvs[0, *n) in key order, after every key of earlier
 * chunks. Valid until the next call on the iterator. Returns 0 with *n > 0;
 * MVCC_EITERDONE at the end (*n = 0); MVCC_ECOMPACTED (a compaction past
 * the iterator's revision was accepted meanwhile); MVCC_ECORRUPT; the
 * backend's codes; -ENOMEM.
 */
STRATA_API int mvcc_range_iter_next(mvcc_range_iter *it, const mvcc_kv **kvs, size_t *n);

/* The revision the iterator reads at. */
STRATA_API int64_t mvcc_range_iter_rev(const mvcc_range_iter *it);

/* NULL is a no-op. */
STRATA_API void mvcc_range_iter_close(mvcc_range_iter *it);

/* ---- compaction (mvcc/compaction.c) ------------------------------------------ */

/*
 * Compact(rev) (etcd's store.Compact, docs/schema.md §8.1): refuse reads below
 * rev from now on, persist meta/scheduledCompactRev and force a commit
 * (durable before this returns), then in the background compact the index
 * and delete the history below rev: small batches examined in read views
 * (at most opt.compaction_batch_max_ns each), their deletes applied by the
 * backend's commits outside the batch lock, then meta/finishedCompactRev
 * written once every delete is applied. Compactions run one at a
 * time, in the order accepted. Returns 0 (scheduled); MVCC_ECOMPACTED (rev
 * <= the compacted revision); MVCC_EFUTUREREV (rev > the current revision);
 * MVCC_EREADONLY; MVCC_ECLOSED; the commit's codes; -ENOMEM.
 */
STRATA_API int mvcc_store_compact(mvcc_store *s, int64_t rev);

/*
 * Wait until every compaction accepted before this call has finished its
 * physical deletion and written its finished mark (not yet committed:
 * call mvcc_store_commit for that, as etcd's server does). Returns 0, or
 * the first error a compaction met since the previous wait (its deletion
 * stopped; the next open resumes it); MVCC_ECLOSED.
 */
STRATA_API int mvcc_store_compact_wait(mvcc_store *s);

/* ---- hashes and the consistent index (mvcc/hash.c) ---------------------------- */

/* HashKV's results (etcd's HashByRev: hash, currentRev, compactRev). */
typedef struct mvcc_hash_kv {
    uint32_t hash;
    int64_t current_rev;
    int64_t compact_rev;
} mvcc_hash_kv;

/*
 * HashKV(rev) with etcd 3.4's exact value (docs/schema.md §8.2): CRC-32C over
 * "key" and the `key` bucket's entries up to rev, leaving out those a
 * compaction would have removed. rev 0 (or the current revision) is kept
 * up to date as revisions are appended and costs no scan of the bucket
 * (except while a compaction is still deleting); an older rev scans the
 * entries up to it. Returns 0 and *out; MVCC_ECOMPACTED (0 < rev <= the
 * compacted revision: out = {0, 0, compacted}); MVCC_EFUTUREREV (rev > the
 * current revision: out = {0, current, 0}); MVCC_ECLOSED; the backend's
 * codes; -ENOMEM.
 */
STRATA_API int mvcc_store_hash_kv(mvcc_store *s, int64_t rev, mvcc_hash_kv *out);

/*
 * Hash (etcd's store.Hash): force a commit, then the backend's hash of the
 * whole file ignoring meta/consistent_index. *hash and *rev (the current
 * revision; may be NULL). Codes of backend_force_commit and backend_hash.
 */
STRATA_API int mvcc_store_hash(mvcc_store *s, uint32_t *hash, int64_t *rev);

/*
 * The consistent index (etcd's raft applied index): set it in memory; a
 * commit hook writes it to meta/consistent_index (8 bytes big-endian) with
 * the next commit, so it is durable exactly when the writes it covers are.
 * A store whose index was never set writes nothing (a bare etcd mvcc store
 * does not either). set returns 0 or MVCC_EREADONLY; get returns the last
 * value set, or the one found in the file at open (0 if none).
 */
STRATA_API int mvcc_store_set_consistent_index(mvcc_store *s, uint64_t index);
STRATA_API uint64_t mvcc_store_consistent_index(mvcc_store *s);

/* ---- backend pass-throughs (mvcc/kvstore.c) ----------------------------------- */

/*
 * Commit now (etcd's store.Commit): the consistent index and every write
 * so far become durable. Codes of backend_force_commit; 0 when read-only.
 */
STRATA_API int mvcc_store_commit(mvcc_store *s);

/*
 * Defragment the backend's file while the store keeps serving (the store's
 * state is untouched: revisions, index, hashes). Codes of backend_defrag;
 * MVCC_EREADONLY.
 */
STRATA_API int mvcc_store_defrag(mvcc_store *s, backend_defrag_stats *st);

/* A consistent snapshot of the backend's file to fd; as backend_snapshot. */
STRATA_API int mvcc_store_snapshot(mvcc_store *s, int fd, unsigned flags,
                                   int (*progress)(void *arg, uint64_t done, uint64_t total),
                                   void *arg, uint64_t *written);

/* ---- watch ---- */

/*
 * Watches (etcd's WatchStream, mvcc/watcher.go and watchable_store.go;
 * docs/schema.md §11). A watch stream carries the responses of any number of
 * watchers, each on one key or a key range from a start revision, through
 * one bounded queue. Every change of a watched key is delivered once, in
 * (revision, sub-revision) order, however slow the consumer is, until the
 * watcher is cancelled or falls below the compacted revision (it then gets
 * one MVCC_WATCH_COMPACTED response and nothing more).
 *
 * Thread rules: a stream may be used from any thread, one call at a time
 * for mvcc_watch_stream_close; every other call is thread-safe. Events are
 * delivered by the writing thread (watchers in sync) and by the store's
 * watch sync thread (watchers catching up from history, and "victims":
 * watchers whose response did not fit into the queue).
 *
 * Memory: each stream holds at most queue_len responses and about
 * max_bytes of responses (queued, or waiting for room as a victim's batch;
 * a single response larger than the budget is still accepted into an
 * empty queue). A consumer that stops reading does not grow the process:
 * its watchers become victims, then wait without a batch and catch up
 * from history once it reads again (or get a compaction response if the
 * history they need was compacted meanwhile).
 */
typedef struct mvcc_watch_stream mvcc_watch_stream;

/* One change of a key, as watchers receive it (mvccpb.Event). */
typedef enum mvcc_event_type {
    MVCC_EVENT_PUT = 0,
    MVCC_EVENT_DELETE = 1,
} mvcc_event_type;

/*
 * An event: a PUT carries the KeyValue as written; a DELETE carries only
 * kv.key and kv.mod_revision (the deleting revision), every other field 0
 * (etcd's tombstone KeyValue{Key} with ModRevision set). sub is the
 * change's sub-revision inside its transaction.
 */
typedef struct mvcc_event {
    mvcc_event_type type;
    int64_t sub;
    mvcc_kv kv;
} mvcc_event;

typedef enum mvcc_watch_response_kind {
    MVCC_WATCH_EVENTS = 0,    /* n_events >= 1 events of revisions <= revision */
    MVCC_WATCH_PROGRESS = 1,  /* no events: the watcher has seen everything up to revision */
    MVCC_WATCH_COMPACTED = 2, /* the watcher fell below compact_revision: it is stopped */
} mvcc_watch_response_kind;

/*
 * A response for one watcher (etcd's WatchResponse). revision: for
 * EVENTS, the store revision the watcher has observed up to (>= every
 * event's mod_revision; = that revision for a response sent at write
 * time); for PROGRESS, the store's revision; 0 for COMPACTED. Owned by the
 * caller of mvcc_watch_stream_recv until mvcc_watch_response_free.
 */
typedef struct mvcc_watch_response {
    int64_t watch_id;
    mvcc_watch_response_kind kind;
    int64_t revision;
    int64_t compact_revision; /* COMPACTED: the compacted revision (may be 0 or -1) */
    size_t n_events;
    const mvcc_event *const *events;
} mvcc_watch_response;

/* Filters (etcd's FilterFunc NOPUT / NODELETE): a filtered event is not delivered. */
#define MVCC_WATCH_NOPUT    0x1u
#define MVCC_WATCH_NODELETE 0x2u

/*
 * An application filter: return true to drop ev for this watcher. Called
 * on the delivering thread with the store's watch lock held: it must be
 * quick and must not call back into strata.
 */
typedef bool (*mvcc_watch_filter_fn)(void *arg, const mvcc_event *ev);

/* etcd's AutoWatchID: mvcc_watch assigns the stream's next free id. */
#define MVCC_WATCH_AUTO_ID 0

typedef struct mvcc_watch_request {
    int64_t id; /* MVCC_WATCH_AUTO_ID, or a specific id (any other value) */
    const void *key;
    size_t key_len;
    /*
     * end == NULL: the single key `key`. end != NULL: the range
     * [key, end); end_len == 0 means every key >= key (etcd's empty,
     * non-nil range end).
     */
    const void *end;
    size_t end_len;
    /* 0: from the next revision; else the first revision to deliver (may
     * be in the past: history is replayed; below the compacted revision:
     * one COMPACTED response). */
    int64_t start_rev;
    unsigned filters;            /* MVCC_WATCH_NOPUT | MVCC_WATCH_NODELETE */
    mvcc_watch_filter_fn filter; /* optional */
    void *filter_arg;
} mvcc_watch_request;

typedef struct mvcc_watch_stream_options {
    size_t size;      /* sizeof(mvcc_watch_stream_options) */
    size_t queue_len; /* responses the queue holds; default 128 (etcd's chanBufLen) */
    size_t max_bytes; /* memory budget of the stream; default 64 MiB */
} mvcc_watch_stream_options;

/* Fills the defaults. */
STRATA_API void mvcc_watch_stream_options_init(mvcc_watch_stream_options *o);

/*
 * Opens a watch stream on s (o NULL: the defaults). The store's watch
 * state (its groups and its sync thread) is made with the first stream and
 * closed with the store; a stream may outlive the store (recv then drains
 * what was queued and returns MVCC_ECLOSED). Close it with
 * mvcc_watch_stream_close. Returns 0; MVCC_ECLOSED (the store is
 * closing); STRATA_EMISUSE (NULL arguments, bad options); -ENOMEM; a
 * thread creation failure as -errno. *out is NULL on failure.
 */
STRATA_API int mvcc_watch_stream_open(mvcc_store *s, const mvcc_watch_stream_options *o,
                                      mvcc_watch_stream **out);

/*
 * Starts a watcher (etcd's WatchStream.Watch). Returns 0 and its id in
 * *id_out (the assigned one for MVCC_WATCH_AUTO_ID); or, with nothing
 * created: MVCC_EEMPTYWATCHERRANGE (end_len > 0 and key >= end);
 * MVCC_EDUPWATCHID (the id is in use on this stream, including by a
 * watcher stopped by compaction and not cancelled); MVCC_ECLOSED (the
 * store is closed); STRATA_EMISUSE (NULL arguments); -ENOMEM.
 * Auto ids count up from 0 and skip ids in use; the counter never goes
 * back, so a cancelled id is not handed out again automatically.
 */
STRATA_API int mvcc_watch(mvcc_watch_stream *ws, const mvcc_watch_request *req, int64_t *id_out);

/*
 * Cancels watcher id: no response for it is queued after this returns
 * (responses queued earlier stay in the queue). Returns 0,
 * MVCC_EWATCHERNOTEXIST, or MVCC_ECLOSED.
 */
STRATA_API int mvcc_watch_cancel(mvcc_watch_stream *ws, int64_t id);

/*
 * Asks for a PROGRESS response for watcher id (etcd's RequestProgress). A
 * watcher in sync answers at once with the store's current revision
 * (dropped when the queue is full, as etcd does: the watcher is then
 * receiving events); a watcher still catching up answers when it has
 * caught up, after its events. It never reports a revision below an event
 * it was sent, and a slow watcher never holds back another's answer.
 * Returns 0, MVCC_EWATCHERNOTEXIST, MVCC_ECLOSED.
 */
STRATA_API int mvcc_watch_request_progress(mvcc_watch_stream *ws, int64_t id);

/*
 * A file descriptor (an eventfd) that is readable while the stream's queue
 * holds a response: wait on it with poll/epoll next to other descriptors,
 * then call mvcc_watch_stream_recv. Made on the first call (a stream whose
 * consumer only calls recv pays no system call per response); later calls
 * return the same one. Owned by the stream: do not read or close it.
 * Returns the descriptor, or -errno (eventfd failed), STRATA_EMISUSE.
 */
STRATA_API int mvcc_watch_stream_fd(mvcc_watch_stream *ws);

/*
 * Takes the oldest response. timeout_ms: 0 = do not wait, < 0 = wait
 * forever. Returns 0 and *out (free with mvcc_watch_response_free);
 * -ETIMEDOUT (also -EAGAIN for timeout 0) when none came; MVCC_ECLOSED
 * when the store was closed and the queue is empty. *out is NULL on
 * failure.
 */
STRATA_API int mvcc_watch_stream_recv(mvcc_watch_stream *ws, int timeout_ms,
                                      mvcc_watch_response **out);

/* Frees a response and drops its references on the shared events. NULL is a no-op. */
STRATA_API void mvcc_watch_response_free(mvcc_watch_response *r);

/*
 * Waits until the stream has caught up or has a response to take. On 0,
 * *caught_up tells which: true when every watcher of the stream is in sync
 * (has been handed every event up to the store's revision at that moment;
 * a compacted watcher counts as caught up), false when a response is
 * queued (take it with recv: a watcher behind may need the room). It also
 * makes the sync thread run at once, so a caller never waits for its
 * 100 ms period. Returns 0, -ETIMEDOUT, or MVCC_ECLOSED.
 */
STRATA_API int mvcc_watch_stream_wait(mvcc_watch_stream *ws, int timeout_ms, bool *caught_up);

typedef struct mvcc_watch_stream_stats {
    size_t watchers; /* live ids, compacted ones included */
    size_t synced, unsynced, victims, compacted;
    size_t queued;            /* responses in the queue */
    size_t queued_bytes;      /* their charged size */
    size_t victim_bytes;      /* batches held for victims */
    size_t peak_bytes;        /* highest queued_bytes + victim_bytes seen */
    size_t max_bytes;         /* the budget */
    uint64_t dropped_batches; /* victim batches released to be re-read from history */
} mvcc_watch_stream_stats;

/* Fills *st. */
STRATA_API void mvcc_watch_stream_stats_get(mvcc_watch_stream *ws, mvcc_watch_stream_stats *st);

/*
 * Closes the stream: cancels its watchers, frees the queued responses and
 * the stream. NULL is a no-op. The store may be open or already closed.
 */
STRATA_API void mvcc_watch_stream_close(mvcc_watch_stream *ws);

/* ---- end watch ---- */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_MVCC_H */
