/*
 * backend_int.h (private to backend/): the backend's structs and the
 * backend__* functions shared between its files.
 *
 * Locks, always taken in this order (never the other way round):
 *   batch_mu  the batch transaction: every write, the two short ends of a
 *             commit (backend.c rule 3), write-back and the defrag
 *             switch-over hold it; a commit's write-out and sync do not;
 *   snap_mu   short: the published snapshot pointer, the current db, the
 *             closed flag; held while a reader takes its references;
 *   cm_mu     short: whether the bolt commit in flight has returned;
 *   thr_mu    the commit thread's wake-up state;
 *   defer_mu  leaf: the deferred-delete queue and its tickets (backend.c
 *             rule 12); nothing else is ever taken while it is held.
 * Fields name the lock that guards them; "atomic" ones are read without.
 */
#ifndef STRATA_BACKEND_INT_H
#define STRATA_BACKEND_INT_H

#include <strata/backend.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "strata_config.h"
#include "tx_buffer.h"

#define BACKEND_DEFAULT_INTERVAL_NS (100ull * 1000 * 1000)
#define BACKEND_DEFAULT_LIMIT       10000u
#define BACKEND_SEQ_FILL_PERCENT    0.9
#define BACKEND_TMP_SUFFIX          ".defrag.tmp"
#define BACKEND__MAX_KEY            32768u /* bolt's longest key (bolt.h, bolt_bucket_put) */

/* A bolt db and the read transactions still on it (defrag replaces dbs). */
typedef struct backend__dbref {
    bolt_db *db;
    unsigned refs; /* snap_mu: the backend's own (while current) + one per reader */
} backend__dbref;

typedef struct backend__defrag_log backend__defrag_log;

/*
 * The write log (wlog.c): the writes made while the batch has no bolt write
 * transaction to take them (a commit in flight) or while earlier such
 * writes still wait to be replayed into the new one, in order.
 */
typedef struct backend__wlog backend__wlog;

enum backend__wlog_op { BACKEND__LOG_PUT, BACKEND__LOG_SEQ_PUT, BACKEND__LOG_DELETE };

/* What struct backend keeps of the checked bucket's last key in vtx (vlast_state). */
enum { BACKEND__VLAST_UNKNOWN, BACKEND__VLAST_EMPTY, BACKEND__VLAST_KEY, BACKEND__VLAST_NONE };

/* A commit hook: a singly linked list in the order of addition. */
struct backend_commit_hook {
    backend_commit_fn fn;
    void *arg;
    struct backend_commit_hook *next;
};

struct backend_batch_tx {
    backend *be;
    bolt_tx *wtx;        /* batch_mu: bolt's long-lived write tx; NULL when closed/failed */
    backend__wbuf *wbuf; /* batch_mu: changes since lock */
    uint64_t pending;    /* batch_mu (written), atomic (read by the commit thread) */
    _Atomic(const char *)
            holder; /* the holder's token (backend.c), NULL when unlocked; batch_tx.c rule 1 */
    bool commit_on_unlock; /* batch_mu: a bucket changed, or a write-back failed */
    /*
     * batch_mu: the holder's own view for ranges while the log is in use
     * (the published snapshot plus the section's writes; NULL when none).
     * Dropped at unlock.
     */
    backend__rbuf *view;
    size_t logged; /* batch_mu: writes this section appended to the log */
};

/*
 * read_tx.c rule 4: ended read views kept for reuse. gen counts what makes a
 * kept view stale: +2 at every publish and at close, +1 when a commit
 * begins and +1 when it finishes (odd: a commit is in flight, nothing is
 * kept). Each slot on its own cache line (readers on both cores).
 */
#define BACKEND__VIEW_SLOTS 4
struct backend__view_slot {
    backend_read_tx *tx; /* atomic */
    char pad[64 - sizeof(backend_read_tx *)];
};
struct backend__views {
    uint64_t gen; /* atomic */
    char pad[64 - sizeof(uint64_t)];
    struct backend__view_slot slot[BACKEND__VIEW_SLOTS];
};

struct backend {
    char *path;
    backend_options opt; /* the caller's, copied; opt.bolt is NULL (see bolt) */
    bolt_options bolt;   /* the bolt options every open of the db file uses */
    strata_clock *clock;
    uint64_t interval_ns;
    uint32_t limit;

    pthread_mutex_t batch_mu;
    backend_batch_tx batch;
    int err;                    /* batch_mu: sticky failure of a commit */
    backend__defrag_log *dlog;  /* batch_mu: non-NULL while a defrag records changes */
    bool defragging;            /* batch_mu */
    bool dir_unsynced;          /* batch_mu: a defrag renamed; sync the directory before a commit */
    pthread_t reaper;           /* batch_mu: drops the db a defrag replaced (defrag.c rule 6) */
    bool reaper_running;        /* batch_mu: reaper is to be joined */
    backend_commit_hook *hooks; /* batch_mu: run in list order before every commit */
    bool in_hooks;              /* batch_mu: the hooks are running (no add/remove then) */

    /* The pipelined commit (backend.c rules 3, 8-11). */
    bool inflight;          /* batch_mu: a commit's bolt write-out runs outside the lock */
    uint64_t inflight_seq;  /* batch_mu (atomic store; read_tx.c loads it): commits begun */
    bolt_tx *inflight_tx;   /* batch_mu: that commit's transaction (its committer's) */
    bool inflight_sync_dir; /* batch_mu: its WRITE syncs the directory first (defrag rule 4) */
    /*
     * Rule 12: the deferred deletes the commit in flight took at BEGIN; its
     * committing thread applies them in WRITE (batch_mu at BEGIN and
     * FINISH, the committing thread in between), and the ticket they cover
     * (0: it took none).
     */
    backend__wlog *defer_cur;
    uint64_t defer_cur_seq;
    /* WRITE's next write transaction and its begin status, for FINISH (rule 3; cm_mu orders). */
    bolt_tx *next_wtx;
    int next_rc;
    backend__rbuf *rbuf_new; /* batch_mu: while inflight, the changes since it began */
    backend__mpool *mpool;   /* rule 15: the snapshots' large blocks, kept faulted for reuse */
    backend__wlog *log;      /* batch_mu: writes not yet in batch.wtx (rule 9) */
    /* batch_mu: rule 16's log taken by a replay outside the lock (NULL: none), and the
     * empty log the next such replay swaps in (NULL while log_out holds it) */
    backend__wlog *log_out;
    backend__wlog *log_spare;
    bolt_tx *vtx; /* batch_mu: read tx on the committed state while logging */
    /* batch_mu: the last bucket log-mode writes were checked in, with a cursor (on vtx) */
    bolt_bucket *vb;
    bolt_cursor *vc;
    unsigned char vb_name[64];
    size_t vb_len;
    /* batch_mu: vb's last key in vtx (batch_tx.c rule 7's nested check): vlast_state is
     * BACKEND__VLAST_UNKNOWN, _EMPTY (no key), _KEY (vlast[0, vlast_len)) or _NONE (not kept) */
    int vlast_state;
    unsigned char vlast[64];
    size_t vlast_len;
    pthread_cond_t idle_cv; /* with batch_mu: a commit in flight finished */
    pthread_mutex_t cm_mu;
    pthread_cond_t cm_cv; /* with cm_mu: the bolt commit in flight returned */
    uint64_t cm_done_seq; /* cm_mu: the last commit whose bolt commit returned */
    int cm_rc;            /* cm_mu: its status */
    bool out_running;     /* cm_mu (cm_cv): rule 16's replay of log_out is running */
    int out_rc;           /* cm_mu: its status, once it stopped */

    /* Rule 12: the deferred-delete queue. */
    pthread_mutex_t defer_mu;
    pthread_cond_t defer_cv; /* with defer_mu: defer_done, defer_err or defer_closed changed */
    backend__wlog *defer_q;  /* defer_mu: queued deletes no commit has taken yet */
    uint64_t defer_seq;      /* defer_mu: the last ticket handed out */
    uint64_t defer_done;     /* defer_mu: every ticket <= this is applied and visible */
    int defer_err;           /* defer_mu: a commit failed (sticky, as err) */
    bool defer_closed;       /* defer_mu: closed; nothing more is applied */

    pthread_mutex_t snap_mu;
    backend__dbref *cur; /* snap_mu (written under batch_mu too) */
    backend__rbuf *rbuf; /* snap_mu (written under batch_mu too): the published snapshot */
    bool closed;         /* snap_mu */
    bool stopped;        /* close did its work; only readers may remain */

    pthread_mutex_t thr_mu;
    pthread_cond_t thr_cv;  /* wakes the commit thread */
    pthread_cond_t done_cv; /* a loop of the thread finished */
    pthread_t thread;
    bool thread_running;
    bool stop;          /* thr_mu */
    bool limit_hit;     /* thr_mu; read without it by wake_for_limit (atomic) */
    uint64_t req_seq;   /* thr_mu: pokes asked */
    uint64_t done_seq;  /* thr_mu: pokes served */
    uint64_t last_tick; /* thr_mu: clock time of the last interval check */
    bool thr_exiting;   /* thr_mu: the thread takes no more handed-off WRITEs (rule 14) */
    /* thr_mu: a BEGUN commit whose WRITE nobody has claimed yet (rule 14; seq 0: none) */
    struct backend__handoff {
        uint64_t seq;
        bolt_tx *ctx;
        bolt_db *db;
        bool sync_dir;
    } handoff;

    uint64_t commits;     /* atomic */
    uint64_t size;        /* atomic */
    uint64_t size_in_use; /* atomic */
    size_t nreaders;      /* atomic: views callers hold and views kept (rule 4 of read_tx.c) */
    struct backend__views views; /* read_tx.c rule 4 */
};

/* ---- backend.c ---------------------------------------------------------- */

/*
 * Commit with batch_mu held by the caller (holder set) and kept for the
 * whole commit: wait for a commit in flight and replay the log (rule 10's
 * settle), run the hooks, write back what is buffered, commit if anything
 * is pending, begin the next write transaction, publish an empty
 * snapshot. 0 or an error (a bolt failure is also stored in be->err).
 */
int backend__commit(backend *be);
/*
 * A pipelined commit by a thread that holds batch_mu and has written
 * nothing in its section (unlock's 2x-limit commit): rule 3's first end
 * under the lock, then the lock is RELEASED, the bolt commit runs, and the
 * lock is taken again only for the second end. Returns with batch_mu
 * released. held_ns (may be NULL) gets how long the lock was held for
 * BEGIN (for a commit that had to stay synchronous, for all of it). 0 or
 * an error.
 */
int backend__commit_pipelined_locked(backend *be, uint64_t *held_ns);

/*
 * As backend__commit_pipelined_locked, but the WRITE and FINISH are handed
 * to the commit thread when it can take them (backend.c rule 14): this
 * thread does only BEGIN. Releases the lock. 0 or BEGIN's error; a failure
 * of the handed-off WRITE is sticky (be->err), as any pipelined commit's.
 */
int backend__commit_handoff_locked(backend *be);
/*
 * Rule 10: make batch.wtx hold every write (wait for the commit in flight
 * holding the lock, finish it, replay the whole log). batch_mu held. 0 or
 * the sticky error.
 */
int backend__settle(backend *be);
/*
 * Take batch_mu with nothing in flight and the log empty: waits for a
 * commit in flight without holding the lock, replays the log in slices
 * with the lock released between them. Returns with batch_mu HELD: 0, or
 * the sticky error.
 */
int backend__lock_quiet(backend *be);
/* True while writes go to the log (a commit in flight or a log not yet replayed). */
bool backend__logging(const backend *be);
/* Rule 16: true while the commit thread replays a log outside batch_mu. batch_mu held. */
bool backend__replaying_out(const backend *be);
/*
 * Rule 9: replay the log's oldest entries into batch.wtx until it is empty,
 * max entries were replayed (0 = no count limit) or budget_ns passed; a
 * replay outside the lock (rule 16) is waited for and ended first.
 * batch_mu held, nothing in flight. 0 or the (sticky) error.
 */
int backend__drain(backend *be, size_t max, uint64_t budget_ns);
/* Publish r (takes over the caller's reference) as the current snapshot. batch_mu held. */
void backend__publish(backend *be, backend__rbuf *r);
/* Write the batch's write buffer back and publish it; batch_mu held. 0 or -ENOMEM. */
int backend__writeback(backend *be);
/* Refresh size and size-in-use from the current write transaction. batch_mu held. */
void backend__update_sizes(backend *be);
/* Drop a reference on a db; closes it on the last. Takes snap_mu. */
void backend__dbref_unref(backend *be, backend__dbref *ref);
/*
 * Run the commit hooks in order, batch_mu held: 0 or the first non-zero
 * status (the later hooks are then not run).
 */
int backend__run_hooks(backend *be);
/* Lock / unlock batch_mu and record the holder (for commits made by the backend). */
void backend__batch_lock(backend *be);
void backend__batch_unlock(backend *be);
/* True when the calling thread holds the batch lock (safe to call without it). */
bool backend__batch_held(const backend_batch_tx *tx);
/* Unlock found the batch limit reached: have the commit thread commit soon. */
void backend__wake_for_limit(backend *be);
/* The failpoint named name: 0 or the hook's status. */
int backend__failpoint(backend *be, const char *name);
/* Sync the directory holding path. 0 or -errno. */
/* path + suffix, malloc'd; NULL on -ENOMEM. */
char *backend__path_with(const char *path, const char *suffix);
/* The clock's time now. */
uint64_t backend__now(const backend *be);

/* ---- wlog.c -------------------------------------------------------------- */

int backend__wlog_new(backend__wlog **out);
void backend__wlog_free(backend__wlog *l); /* NULL is a no-op */
/*
 * Append one write (copied). 0, -ENOMEM, or STRATA_EOVERFLOW (a bucket
 * name or key over 65,535 bytes, a value of 1 GiB or more: wlog.c
 * invariant 4); the log unchanged on failure.
 */
int backend__wlog_append(backend__wlog *l, enum backend__wlog_op op, bolt_val bucket, bolt_val key,
                         bolt_val value);
/* Drop every entry (a failed batch's, lost with it), keeping the memory. */
void backend__wlog_clear(backend__wlog *l);
/* Keep only the oldest count entries not yet replayed (undo appends). */
void backend__wlog_truncate(backend__wlog *l, size_t count);
/* Entries not yet replayed. */
size_t backend__wlog_count(const backend__wlog *l);
/* Entries appended since the log was last empty (what its memory holds). */
size_t backend__wlog_appended(const backend__wlog *l);
/* Room for n more entries with `bytes` more bucket/key/value bytes, in one growth each. 0 or
 * -ENOMEM. */
int backend__wlog_reserve(backend__wlog *l, size_t n, size_t bytes);
/*
 * Rule 12 of backend.c: apply every entry (deletes) to wtx in order, where a
 * missing bucket or a key naming a nested bucket deletes nothing; the log
 * keeps its entries (FINISH clears it). 0, or bolt's first other failure.
 */
int backend__wlog_apply_deferred(const backend__wlog *l, bolt_tx *wtx);
/* Rule 13 of backend.c: note every entry's (bucket, key) in a defrag's change log. */
void backend__wlog_note_defrag(const backend__wlog *l, backend__defrag_log *dlog);
/*
 * Apply the oldest entries to wtx, in order, until the log is empty, max
 * entries were applied (0 = no count limit) or, checked every few entries,
 * budget_ns of real time passed (0 = none). Applied entries leave the log,
 * also the one that failed. 0, or the first failure (bolt's codes).
 */
int backend__wlog_replay(backend__wlog *l, bolt_tx *wtx, size_t max, uint64_t budget_ns);

/* ---- batch_tx.c --------------------------------------------------------- */

/* 0 when the batch may be used by this thread, else the status to return. */
int backend__batch_usable(const backend_batch_tx *tx);
/*
 * Visit bolt bucket b's plain pairs in [key, end) (end.size 0: the one key),
 * at most limit (0 = all), in key order. 0, fn's status, or bolt's codes.
 */
int backend__bolt_range(bolt_bucket *b, bolt_val key, bolt_val end, uint64_t limit,
                        backend_kv_fn fn, void *arg);

/* ---- read_tx.c ---------------------------------------------------------- */

/*
 * batch_tx.c rule 7: a batch range while logging, over be->vtx and the
 * holder's view (the published snapshot plus the section's writes, kept in
 * tx->view until unlock so the pairs stay valid). end NULL: no bound.
 */
int backend__view_range(backend_batch_tx *tx, bolt_val bucket, bolt_val key, const bolt_val *end,
                        uint64_t limit, backend_kv_fn fn, void *arg);
/*
 * Rule 4's generation steps (the kept views' invalidation). views_stale:
 * the published state changed (backend__publish, under snap_mu, after the
 * swap; close). views_commit(be, true): a commit began (BEGIN, before its
 * bolt commit): also ends every kept view, so none is a bolt reader while
 * the commit frees pages or the shrink looks at readers; (be, false): it
 * finished. views_drop: end every kept view (not under snap_mu).
 */
void backend__views_stale(backend *be);
void backend__views_commit(backend *be, bool begin);
void backend__views_drop(backend *be);
/* Views kept now (a statistic: exact when no reader runs). */
size_t backend__views_kept(backend *be);

/* ---- defrag.c ----------------------------------------------------------- */

/*
 * Record that (bucket, key) changed while a defrag copies; key NULL means
 * the whole bucket was created or deleted. batch_mu held. A failure to
 * record (-ENOMEM) marks the log so the defrag gives up cleanly.
 */
void backend__defrag_note(backend__defrag_log *log, bolt_val bucket, const bolt_val *key);

/*
 * Join the thread a defrag left dropping the db it replaced, if any
 * (defrag.c rule 6): backend_close calls it first. batch_mu not held.
 */
void backend__defrag_reap(backend *be);

#endif
