/*
 * strata/mvcc.h: the multi-version key-value store (etcd's mvcc package):
 * revisions, range/put/delete/txn, compaction, hash, watches.
 *
 * Status codes: 0, the shared outcomes, -errno, the codes of backend, bolt
 * and idx, and the range -5400..-5499 below: etcd's mvcc errors with the
 * same messages (-5400..-5449), then strata's own for damaged records
 * (-5450..: a revision key that is not SCHEMA.md §3.1's form; a KeyValue
 * that is not valid protobuf gives common's STRATA_EPB* codes).
 */
#ifndef STRATA_MVCC_H
#define STRATA_MVCC_H

#if defined(STRATA_BUILDING_LAYER) && !defined(STRATA_ALLOW_MVCC)
#error "this layer may not include <strata/mvcc.h>"
#endif

#include <strata/backend.h>
#include <strata/idx.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MVCC_ERRORS(X)                                                                    \
    X(MVCC_ECOMPACTED, -5400, "mvcc: required revision has been compacted")               \
    X(MVCC_EFUTUREREV, -5401, "mvcc: required revision is a future revision")             \
    X(MVCC_ECANCELED, -5402, "mvcc: watcher is canceled")                                 \
    X(MVCC_ECLOSED, -5403, "mvcc: closed")                                                \
    X(MVCC_EWATCHERNOTEXIST, -5404, "mvcc: watcher does not exist")                       \
    X(MVCC_EEMPTYWATCHERRANGE, -5405, "mvcc: watcher range is empty")                     \
    X(MVCC_EDUPWATCHID, -5406, "mvcc: duplicate watch ID provided on the WatchStream")    \
    X(MVCC_ECORRUPT, -5450, "mvcc: stored record is corrupt")                             \
    X(MVCC_EREVKEYLEN, -5451, "mvcc: revision key is not 17 or 18 bytes long")            \
    X(MVCC_EREVKEYSEP, -5452, "mvcc: revision key has no '_' at byte 8")                  \
    X(MVCC_EREVKEYMARK, -5453, "mvcc: 18-byte revision key lacks the tombstone mark 't'") \
    X(MVCC_EREVKEYNEG, -5454, "mvcc: revision key holds a negative revision")

enum mvcc_status {
#define MVCC__ENUM(name, code, msg) name = (code),
    MVCC_ERRORS(MVCC__ENUM)
#undef MVCC__ENUM
};

/* Describe any code mvcc or a layer below it can return; never NULL. */
STRATA_API const char *mvcc_strerror(int rc);

/* "MVCC_ECOMPACTED" for a code of mvcc's table, else the lower layers' name. */
STRATA_API const char *mvcc_status_name(int rc);

/* ---- watch ---- */

/*
 * Watches (etcd's WatchStream, mvcc/watcher.go and watchable_store.go;
 * SCHEMA.md §11). A watch stream carries the responses of any number of
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

typedef enum mvcc_event_type {
    MVCC_EVENT_PUT = 0,
    MVCC_EVENT_DELETE = 1,
} mvcc_event_type;

/*
 * One change of one key (mvccpb.Event). A DELETE carries only the key and
 * mod_revision (the deleting revision), as etcd sends it. Events are
 * immutable and shared by every response that carries them; they live as
 * long as the response they were received in.
 */
typedef struct mvcc_event {
    mvcc_event_type type;
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* PUT: the value (may be NULL when value_len is 0) */
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease;
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
 * then call mvcc_watch_stream_recv. Owned by the stream; do not read or
 * close it.
 */
STRATA_API int mvcc_watch_stream_fd(const mvcc_watch_stream *ws);

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
