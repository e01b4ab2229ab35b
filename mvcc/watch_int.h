/*
 * watch_int.h: the watchable store's private types (etcd's watchableStore,
 * watcherGroup, watcher, watchStream; docs/schema.md §11), shared by
 * watch_event.c, watch_group.c, watch_stream.c and watchable_store.c.
 *
 * Locks, in the only order they are ever nested:
 *   store write lock (the writer calling mvcc__watch_notify)
 *     -> W->mu          every watcher field, both groups, the victim list,
 *                       every stream's ids/next_id/counters
 *       -> ws->qmu      a stream's queue, budget and caught-up counter
 *         -> W->kick_mu the sync thread's wake-up flag
 *       -> W->wk_mu     the waker's list (taken with no qmu held)
 *   W->mu -> the history source (a backend read transaction: snap_mu).
 * The sync thread never takes the store write lock. A consumer takes only
 * ws->qmu (then kick_mu) to receive.
 *
 * Watcher states (each edge names the function that drives it):
 *
 *   watch(start 0 or future) -> SYNCED      watch(past start) -> UNSYNCED
 *   SYNCED   -- notify: queue full --------------------> VICTIM (holds its batch)
 *                                  (over budget) ------> UNSYNCED at the batch's revision
 *   UNSYNCED -- sync_round: caught up to cur ----------> SYNCED
 *            -- sync_round: below compact, sent -------> COMPACTED (stays until cancel)
 *            -- sync_round: queue full ----------------> VICTIM / UNSYNCED (over budget)
 *   VICTIM   -- retry_victims: sent, min_rev <= cur ---> UNSYNCED
 *                              sent, min_rev >  cur ---> SYNCED
 *   any      -- cancel / stream close -----------------> freed
 *
 * Rules:
 *   1. A watcher is in exactly one place: the synced group, the unsynced
 *      group, the victim list, or none (COMPACTED).
 *   2. min_rev is the lowest revision the watcher has not been handed: every
 *      matching event below it is queued, or held in its victim batch.
 *   3. A SYNCED watcher has been handed every event up to the store's
 *      current revision as seen under W->mu (notify runs under W->mu for
 *      each revision, and only after that revision became readable).
 *   4. ws->behind counts the stream's UNSYNCED and VICTIM watchers.
 */
#ifndef STRATA_MVCC_WATCH_INT_H
#define STRATA_MVCC_WATCH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <strata/mvcc.h>

#include "interval_tree.h"
#include "kvpb.h"
#include "mvcc_int.h"
#include "revkey.h"
#include "watch_map.h"

/* etcd's constants (docs/schema.md §11). */
#define MVCC__WATCH_QUEUE_LEN          128  /* chanBufLen */
#define MVCC__WATCH_MAX_PER_SYNC       512  /* maxWatchersPerSync */
#define MVCC__WATCH_BATCH_MAX_REVS     1000 /* watchBatchMaxRevs */
#define MVCC__WATCH_SYNC_PERIOD_NS     (100 * 1000 * 1000ull)
#define MVCC__WATCH_DEFAULT_BYTES      ((size_t)64 << 20)
/* The waker's round period while responses flow (the shortest, and the
 * longest it stretches to while rounds keep finding several streams to
 * wake), the streams that make a round busy, and how many empty rounds it
 * waits before sleeping until the next response (watchable_store.c rule W). */
#define MVCC__WATCH_WAKE_WINDOW_NS     (100 * 1000ull)
#define MVCC__WATCH_WAKE_WINDOW_MAX_NS (400 * 1000ull)
#define MVCC__WATCH_WAKE_BUSY_STREAMS  2
#define MVCC__WATCH_WAKE_IDLE_ROUNDS   100

/* ---- shared events and responses (watch_event.c) ---------------------- */

/* An event, allocated once and shared by every response carrying it. */
typedef struct mvcc__event {
    uint32_t refs;  /* atomic */
    uint32_t bytes; /* the allocation's size, charged to each stream holding it */
    mvcc_event pub;
} mvcc__event;

/*
 * A new event with one reference: PUT of kv, or DELETE of kv's key, at
 * main revision mod_rev and sub-revision sub (a DELETE reads only kv's key).
 */
mvcc__event *mvcc__event_new(mvcc_event_type type, int64_t sub, const mvcc__kv *kv,
                             int64_t mod_rev);
void mvcc__event_ref(mvcc__event *e);
void mvcc__event_unref(mvcc__event *e);

static inline mvcc__event *mvcc__event_of(const mvcc_event *pub)
{
    return (mvcc__event *)((char *)pub - offsetof(mvcc__event, pub));
}

/* A response; the public part first so mvcc_watch_response_free can cast. */
typedef struct mvcc__wresp {
    mvcc_watch_response pub;
    size_t bytes; /* charged to the stream's budget */
    const mvcc_event *evs[];
} mvcc__wresp;

/* A response of n event slots (pub.events points at them, n_events = 0). */
mvcc__wresp *mvcc__wresp_new(int64_t id, mvcc_watch_response_kind kind, int64_t rev, size_t n);
/* Adds e with a new reference. Precondition: room for it. */
void mvcc__wresp_add(mvcc__wresp *r, mvcc__event *e);
void mvcc__wresp_free(mvcc__wresp *r);

/* ---- watchers and groups (watch_group.c) ------------------------------ */

typedef struct mvcc__watchable mvcc__watchable;
typedef struct mvcc__watcher mvcc__watcher;

typedef enum mvcc__wstate {
    MVCC__W_SYNCED,
    MVCC__W_UNSYNCED,
    MVCC__W_VICTIM,
    MVCC__W_COMPACTED,
} mvcc__wstate;

/* The watchers of one key, or of one interval (etcd's watcherSet). */
typedef struct mvcc__wset {
    mvcc__watcher *head;
} mvcc__wset;

typedef struct mvcc__wgroup {
    mvcc__wmap keys;     /* key -> mvcc__wset*, single-key watchers */
    mvcc__itree ranges;  /* [key, end) -> mvcc__wset*, range watchers */
    mvcc__watcher *head; /* every member, via gprev/gnext */
    size_t count;
} mvcc__wgroup;

struct mvcc__watcher {
    /* Fixed at creation. */
    mvcc_watch_stream *ws;
    int64_t id;
    uint8_t *key; /* owned, with end in the same allocation */
    size_t key_len;
    uint8_t *end;
    size_t end_len;
    bool is_range; /* end given (etcd: end != nil) */
    bool end_inf;  /* is_range and end_len == 0: every key >= key */
    unsigned filters;
    mvcc_watch_filter_fn filter;
    void *filter_arg;

    /* Guarded by W->mu. */
    int64_t min_rev;
    mvcc__wstate state;
    bool progress_pending;
    mvcc__wgroup *group;          /* SYNCED/UNSYNCED: its group */
    mvcc__watcher *gprev, *gnext; /* group list, or the victim list */
    mvcc__wset *set;              /* in a group: its key's / interval's set */
    mvcc__watcher *sprev, *snext; /* within set */
    mvcc__wresp *pending;         /* VICTIM: the response waiting for room */
    int64_t pending_from;         /* VICTIM: min_rev before the batch */
    int64_t pending_next;         /* VICTIM: min_rev once it is sent */

    /* Scratch of one notify or sync round (W->mu): the events it matched. */
    uint64_t gen;
    mvcc__watcher *tnext;
    mvcc__event **scratch; /* each holds a reference */
    size_t nscratch, capscratch;
    bool lost; /* an event could not be kept (out of memory): re-read */
};

void mvcc__wgroup_init(mvcc__wgroup *g);
/* Frees the group's index; the watchers are not touched. */
void mvcc__wgroup_destroy(mvcc__wgroup *g);
/* Adds w (not in a group). 0 or -ENOMEM (w is then not added). */
int mvcc__wgroup_add(mvcc__wgroup *g, mvcc__watcher *w);
/* Removes w, which must be in g. */
void mvcc__wgroup_remove(mvcc__wgroup *g, mvcc__watcher *w);
/*
 * Calls fn(arg, w) for every watcher of g whose key or range contains key:
 * the key's set by hash, then each containing interval's set from the tree.
 */
void mvcc__wgroup_match(mvcc__wgroup *g, const uint8_t *key, size_t key_len,
                        void (*fn)(void *arg, mvcc__watcher *w), void *arg);
/* Whether some watcher of g watches key (etcd's watcherGroup.contains). */
bool mvcc__wgroup_contains(const mvcc__wgroup *g, const uint8_t *key, size_t key_len);
/* Checks the group's index against its member list; 0 or -1 with why. */
int mvcc__wgroup_check(const mvcc__wgroup *g, char *why, size_t why_size);

/* ---- streams (watch_stream.c) ----------------------------------------- */

struct mvcc_watch_stream {
    mvcc__watchable *W;
    mvcc_watch_stream *prev, *next; /* W's stream list (W->mu) */

    /* Guarded by W->mu. */
    mvcc__wmap ids; /* 8-byte id -> watcher */
    int64_t next_id;
    size_t nwatchers, ncompacted;
    bool closing;

    /* Guarded by qmu (written also under W->mu where noted). */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    mvcc__wresp **ring;
    size_t cap, head, n;
    size_t qbytes;
    size_t victim_bytes; /* written under W->mu and qmu */
    size_t behind;       /* rule 4; written under W->mu and qmu */
    size_t max_bytes;
    size_t peak_bytes;
    uint64_t dropped;
    bool blocked;     /* a send found no room; the consumer kicks the sync thread */
    unsigned waiters; /* threads sleeping on qcv (watch_stream.c rule 4) */
    int efd;          /* eventfd, readable iff n > 0; -1 until asked for */

    /* Guarded by W->wk_mu: on the waker's list (watchable_store.c rule W). */
    mvcc_watch_stream *wk_next;
    bool wk_listed;
    mvcc_watch_stream *wk_round; /* the waker's round in progress (its own links) */
};

/* A stream on W (the store's watch state). */
int mvcc__watch_stream_open(mvcc__watchable *W, const mvcc_watch_stream_options *o,
                            mvcc_watch_stream **out);
/*
 * Queues r if there is room (count and budget; an empty queue takes any
 * one response). Returns true when queued (ownership passes to the queue)
 * or when the stream is closing (r is freed); false when there is no room
 * (r is still the caller's, and the stream is marked blocked).
 * Caller holds W->mu.
 */
bool mvcc__wstream_send(mvcc_watch_stream *ws, mvcc__wresp *r);
/* Whether a send would find no room for a small response. Caller holds W->mu. */
bool mvcc__wstream_full(mvcc_watch_stream *ws);
/*
 * ws's consumer sleeps and its queue became non-empty: wake it, on the
 * waker thread when W has one (watchable_store.c rule W), else at once.
 * Called with W->mu held and ws->qmu released.
 */
void mvcc__wstream_wake(mvcc_watch_stream *ws);
/* Adjust the counters of rule 4 and the victim budget (W->mu held). */
void mvcc__wstream_account(mvcc_watch_stream *ws, long behind_delta, long victim_bytes_delta);

/* ---- the watchable store (watchable_store.c) -------------------------- */

/* Where catch-up reads history, and the store's revisions. */
typedef struct mvcc__watch_source {
    void *arg;
    /* The current revision and the compacted main revision (-1: never). */
    void (*revs)(void *arg, int64_t *current, int64_t *compacted);
    /*
     * Visits every `key` bucket entry with main revision in [from, to] in
     * (main, sub) order, as a backend read transaction begun now sees it:
     * fn(cbarg, revision key bytes, value bytes). Returns 0, fn's non-zero
     * status, or a read error.
     */
    int (*read)(void *arg, int64_t from, int64_t to,
                int (*fn)(void *cbarg, const uint8_t *k, size_t klen, const uint8_t *v,
                          size_t vlen),
                void *cbarg);
} mvcc__watch_source;

typedef struct mvcc__watchable_options {
    bool no_thread;      /* tests: no sync thread; rounds run from mvcc__watchable_sync */
    uint64_t period_ns;  /* sync thread period; 0 = 100 ms */
    int64_t max_revs;    /* revisions per catch-up response; 0 = 1000 */
    size_t max_per_sync; /* watchers per round; 0 = 512 */
} mvcc__watchable_options;

struct mvcc__watchable {
    pthread_mutex_t mu;
    mvcc__watch_source src;
    mvcc__watchable_options opt;
    mvcc__wgroup synced, unsynced;
    mvcc__watcher *victims; /* list via gprev/gnext */
    size_t nvictims;
    mvcc_watch_stream *streams;
    uint64_t gen;
    int last_error; /* the last history read error (W->mu) */
    bool closed;    /* the store is gone: no more watch/cancel/notify (W->mu) */
    uint32_t refs;  /* the store + each open stream (W->mu) */

    pthread_mutex_t kick_mu;
    pthread_cond_t kick_cv;
    bool kicked, stop;
    bool have_thread;
    pthread_t thread;

    /* The waker (watchable_store.c rule W); a leaf lock after W->mu. */
    pthread_mutex_t wk_mu;
    pthread_cond_t wk_cv;       /* the waker waits here */
    pthread_cond_t wk_done_cv;  /* a detaching stream waits here for a round to end */
    mvcc_watch_stream *wk_head; /* streams to wake, via wk_next */
    bool wk_asleep;             /* waiting without a deadline: a new entry signals wk_cv */
    bool wk_busy;               /* a round is waking streams it took off the list */
    bool wk_stop;
    bool have_waker;
    pthread_t waker;
};

/* Creates the watch state over src; starts the sync thread unless no_thread. */
int mvcc__watchable_open(const mvcc__watch_source *src, const mvcc__watchable_options *o,
                         mvcc__watchable **out);
/* The store is closing: joins the thread; streams stay usable for recv/close. */
void mvcc__watchable_close(mvcc__watchable *W);
/* Drops one reference (W->mu not held); frees W at zero. */
void mvcc__watchable_unref(mvcc__watchable *W);
/*
 * The end of a write txn that made revision rev with changes ch[0, n)
 * (the store's write hook; a DELETE carries only the key):
 * hands their events to the synced watchers. Called with the store's
 * write lock held, after rev became readable. Returns 0 or -ENOMEM (some
 * watchers then fall back to catching up from history: nothing is lost).
 */
int mvcc__watch_notify(mvcc__watchable *W, int64_t rev, const mvcc__change *ch, size_t n);
/* Wakes the sync thread (a compaction, new unsynced watchers, room in a queue). */
void mvcc__watchable_kick(mvcc__watchable *W);
/*
 * One pass of the sync thread: retry victims, then one catch-up round.
 * Returns the number of watchers still behind that could make progress now
 * (0: nothing to do until a write, a receive or a new watcher).
 */
size_t mvcc__watchable_sync(mvcc__watchable *W);

/*
 * Checks rules 1 and 4 and every stream's counters against its watchers
 * (states, places, victim list, budget charges). 0, or -1 with why.
 * Takes W->mu: for tests and debugging.
 */
int mvcc__watchable_check(mvcc__watchable *W, char *why, size_t why_size);

/* Internal entry points of the stream API (watchable_store.c). */
int mvcc__watch_add(mvcc_watch_stream *ws, const mvcc_watch_request *req, int64_t *id_out);
int mvcc__watch_cancel(mvcc_watch_stream *ws, int64_t id);
int mvcc__watch_progress(mvcc_watch_stream *ws, int64_t id);
/* Cancels every watcher of ws and unlinks it from W (stream close). */
void mvcc__watch_stream_detach(mvcc_watch_stream *ws);

#endif
