/*
 * watchable_store.c: the watchable store (etcd 3.4 mvcc/watchable_store.go,
 * watcher_group.go; docs/schema.md §11): watchers in sync get each write's
 * events from the writer (notify), watchers behind catch up from history
 * on the sync thread in rounds of bounded revisions, and watchers whose
 * queue was full (victims) are retried when their consumer makes room.
 * States, locks and rules: watch_int.h.
 *
 * Where strata differs from etcd 3.4, without changing what a watcher
 * receives (events, their order, the compaction response):
 *   - a catch-up round reads a window of at most max_revs revisions from
 *     the lowest min_rev of the round, not everything up to the current
 *     revision, so one round's read (done under W->mu, as etcd does) is
 *     bounded; a response's revision is the window's end;
 *   - victims are retried when their consumer receives (rule 3 of
 *     watch_stream.c), not every 10 ms, and unsynced watchers of a stream
 *     whose queue is full are not read for, so a stalled consumer costs
 *     nothing;
 *   - a victim batch that would take the stream over its memory budget is
 *     released and the watcher re-reads it from history later;
 *   - a compacted watcher is removed from the unsynced group when its
 *     compaction response is queued, so it gets exactly one (etcd 3.4 may
 *     repeat it when more than 512 watchers are unsynced);
 *   - a watcher at start revision -1 on a never-compacted store (etcd
 *     reads nothing for it and syncs it) is synced alone, without making
 *     the other watchers of its round skip their history.
 */
/*
 * Rule W (the waker). Handing a response to a consumer asleep on its
 * queue costs the sender a futex wake-up (and often a switch to the
 * woken thread on its own CPU): in M8 that was a fifth of the writer's
 * time, once per event. With a sync thread there is also a waker thread:
 * a send that must wake its consumer puts the stream on the waker's list
 * (once) and signals the waker only when it is asleep. While responses
 * flow, the waker runs a round every MVCC__WATCH_WAKE_WINDOW_NS (taking
 * the whole list, waking each stream); after MVCC__WATCH_WAKE_IDLE_ROUNDS
 * empty rounds it sleeps until the next send. So a writer makes no wake-up
 * system call while responses flow, and a response waits at most about one
 * window for its consumer to be woken (none after a quiet spell: the first
 * send wakes the waker at once). The window coalesces like an interrupt
 * moderation: a round that wakes MVCC__WATCH_WAKE_BUSY_STREAMS streams or
 * more doubles it, up to MVCC__WATCH_WAKE_WINDOW_MAX_NS, and any other
 * round, a window without a send, or a sleep sets it back to
 * MVCC__WATCH_WAKE_WINDOW_NS. Under a
 * steady flow to many streams each consumer then wakes once per longer
 * window for several responses instead of once per response (M8: a wake
 * per stream every 100 us cost the waker and the consumers about a third
 * of the CPU the writer used); a single busy stream, or a lone event,
 * keeps the short window. Nothing is reordered or lost: the
 * response is already queued; only the wake-up moves. A stream that closes
 * leaves the list under wk_mu and waits (wk_done_cv) for a round that
 * took it off the list to finish, so the waker never touches a freed
 * stream.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sync.h"
#include "watch_int.h"

/* ---- small helpers ----------------------------------------------------- */

static bool filtered(const mvcc__watcher *w, const mvcc_event *e)
{
    if ((w->filters & MVCC_WATCH_NOPUT) && e->type == MVCC_EVENT_PUT)
        return true;
    if ((w->filters & MVCC_WATCH_NODELETE) && e->type == MVCC_EVENT_DELETE)
        return true;
    return w->filter != NULL && w->filter(w->filter_arg, e);
}

/*
 * The response carrying w's scratch events that pass its filters (each
 * filter is asked once per event; the dropped ones leave the scratch), or
 * NULL: *all_filtered tells "nothing to send" from -ENOMEM.
 */
static mvcc__wresp *build_events(mvcc__watcher *w, int64_t rev, bool *all_filtered)
{
    size_t keep = 0;
    for (size_t i = 0; i < w->nscratch; i++) {
        if (filtered(w, &w->scratch[i]->pub))
            mvcc__event_unref(w->scratch[i]);
        else
            w->scratch[keep++] = w->scratch[i];
    }
    w->nscratch = keep;
    *all_filtered = keep == 0;
    if (keep == 0)
        return NULL;
    mvcc__wresp *r = mvcc__wresp_new(w->id, MVCC_WATCH_EVENTS, rev, keep);
    if (r == NULL)
        return NULL;
    for (size_t i = 0; i < keep; i++)
        mvcc__wresp_add(r, w->scratch[i]);
    return r;
}

static int scratch_push(mvcc__watcher *w, mvcc__event *e)
{
    if (w->nscratch == w->capscratch) {
        size_t ncap = w->capscratch ? w->capscratch * 2 : 8;
        mvcc__event **n = strata_realloc(w->scratch, ncap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        w->scratch = n;
        w->capscratch = ncap;
    }
    mvcc__event_ref(e);
    w->scratch[w->nscratch++] = e;
    return 0;
}

/* Drops the scratch events' references (each push took one). */
static void scratch_clear(mvcc__watcher *w)
{
    for (size_t i = 0; i < w->nscratch; i++)
        mvcc__event_unref(w->scratch[i]);
    w->nscratch = 0;
    w->lost = false;
}

/* Whether rev can still be charged to ws's budget; charges it if so. */
static bool budget_take(mvcc_watch_stream *ws, size_t bytes)
{
    pthread_mutex_lock(&ws->qmu);
    bool ok = ws->qbytes + ws->victim_bytes + bytes <= ws->max_bytes;
    if (ok) {
        ws->victim_bytes += bytes;
        if (ws->qbytes + ws->victim_bytes > ws->peak_bytes)
            ws->peak_bytes = ws->qbytes + ws->victim_bytes;
    } else {
        ws->dropped++;
    }
    pthread_mutex_unlock(&ws->qmu);
    return ok;
}

static bool behind_state(mvcc__wstate s)
{
    return s == MVCC__W_UNSYNCED || s == MVCC__W_VICTIM;
}

static void victims_link(mvcc__watchable *W, mvcc__watcher *w)
{
    w->gprev = NULL;
    w->gnext = W->victims;
    if (W->victims != NULL)
        W->victims->gprev = w;
    W->victims = w;
    W->nvictims++;
}

static void victims_unlink(mvcc__watchable *W, mvcc__watcher *w)
{
    if (w->gprev != NULL)
        w->gprev->gnext = w->gnext;
    else
        W->victims = w->gnext;
    if (w->gnext != NULL)
        w->gnext->gprev = w->gprev;
    w->gprev = w->gnext = NULL;
    W->nvictims--;
}

/* Takes w out of wherever it is (rule 1); the behind counter is the caller's. */
static void unplace(mvcc__watchable *W, mvcc__watcher *w)
{
    switch (w->state) {
    case MVCC__W_SYNCED:
    case MVCC__W_UNSYNCED:
        mvcc__wgroup_remove(w->group, w);
        break;
    case MVCC__W_VICTIM:
        victims_unlink(W, w);
        if (w->pending != NULL) {
            mvcc__wstream_account(w->ws, 0, -(long)w->pending->bytes);
            mvcc__wresp_free(w->pending);
            w->pending = NULL;
        }
        break;
    case MVCC__W_COMPACTED:
        break;
    }
}

/*
 * Puts w (placed nowhere, state `from`) into state `to` (SYNCED, UNSYNCED,
 * or VICTIM with w->pending set or NULL), keeping rule 4's counter. When a
 * group cannot take it (-ENOMEM), it waits on the victim list with no
 * batch and is placed again by the next victim pass.
 */
static void place(mvcc__watchable *W, mvcc__watcher *w, mvcc__wstate from, mvcc__wstate to)
{
    if (to == MVCC__W_SYNCED || to == MVCC__W_UNSYNCED) {
        mvcc__wgroup *g = to == MVCC__W_SYNCED ? &W->synced : &W->unsynced;
        if (mvcc__wgroup_add(g, w) != 0) {
            to = MVCC__W_VICTIM;
            w->pending = NULL;
            victims_link(W, w);
        }
    } else if (to == MVCC__W_VICTIM) {
        victims_link(W, w);
    }
    w->state = to;
    long d = (long)behind_state(to) - (long)behind_state(from);
    if (d != 0)
        mvcc__wstream_account(w->ws, d, 0);
}

/* w has just joined the synced group: answer a progress request made while it was behind. */
static void answer_progress(mvcc__watcher *w, int64_t cur)
{
    if (!w->progress_pending)
        return;
    w->progress_pending = false;
    mvcc__wresp *r = mvcc__wresp_new(w->id, MVCC_WATCH_PROGRESS, cur, 0);
    if (r != NULL && !mvcc__wstream_send(w->ws, r))
        mvcc__wresp_free(r); /* full: the watcher is receiving events (etcd drops it too) */
}

/*
 * w (taken out of its place, state `from`) could not be sent r: it becomes
 * a victim holding r, or, when r does not fit the stream's budget, waits
 * unsynced to re-read [from_rev, ...) from history.
 */
static void make_victim(mvcc__watchable *W, mvcc__watcher *w, mvcc__wstate from, mvcc__wresp *r,
                        int64_t from_rev, int64_t next_rev)
{
    if (budget_take(w->ws, r->bytes)) {
        w->pending = r;
        w->pending_from = from_rev;
        w->pending_next = next_rev;
        w->min_rev = next_rev;
        place(W, w, from, MVCC__W_VICTIM);
    } else {
        mvcc__wresp_free(r);
        w->min_rev = from_rev;
        place(W, w, from, MVCC__W_UNSYNCED);
    }
}

/* ---- notify: the end of a write txn ------------------------------------ */

typedef struct notify_ctx {
    const mvcc__change *ch;
    int64_t rev;
    uint64_t gen;
    mvcc__event *ev;                /* the change's event, built on first match */
    mvcc__watcher *touched, **tail; /* in order of first match */
} notify_ctx;

static void notify_one(void *arg, mvcc__watcher *w)
{
    notify_ctx *c = arg;
    if (c->rev < w->min_rev)
        return; /* started at a future revision */
    if (w->gen != c->gen) {
        w->gen = c->gen;
        scratch_clear(w);
        w->tnext = NULL;
        *c->tail = w;
        c->tail = &w->tnext;
    }
    if (c->ev == NULL)
        c->ev = mvcc__event_new(c->ch->deleted ? MVCC_EVENT_DELETE : MVCC_EVENT_PUT, c->ch->sub,
                                &c->ch->kv, c->rev);
    if (c->ev == NULL || scratch_push(w, c->ev) != 0)
        w->lost = true; /* out of memory: re-read from history */
}

int mvcc__watch_notify(mvcc__watchable *W, int64_t rev, const mvcc__change *ch, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&W->mu);
    if (W->closed || W->synced.count == 0 || n == 0) {
        pthread_mutex_unlock(&W->mu);
        return 0;
    }
    notify_ctx c = { .rev = rev, .gen = ++W->gen };
    c.tail = &c.touched;
    for (size_t i = 0; i < n; i++) {
        c.ch = &ch[i];
        c.ev = NULL;
        mvcc__wgroup_match(&W->synced, ch[i].kv.key, ch[i].kv.key_len, notify_one, &c);
        mvcc__event_unref(c.ev); /* the scratch lists hold their own references */
    }
    bool kick = false;
    for (mvcc__watcher *w = c.touched, *next; w != NULL; w = next) {
        next = w->tnext;
        mvcc__wresp *r = NULL;
        bool all_filtered = false;
        if (!w->lost) {
            r = build_events(w, rev, &all_filtered);
            if (r == NULL && all_filtered) {
                scratch_clear(w);
                continue;
            }
        }
        scratch_clear(w);
        if (r == NULL) {
            /* Out of memory: nothing lost, the watcher re-reads rev. */
            mvcc__wgroup_remove(&W->synced, w);
            w->min_rev = rev;
            place(W, w, MVCC__W_SYNCED, MVCC__W_UNSYNCED);
            kick = true;
            rc = -ENOMEM;
            continue;
        }
        if (mvcc__wstream_send(w->ws, r))
            continue;
        mvcc__wgroup_remove(&W->synced, w);
        make_victim(W, w, MVCC__W_SYNCED, r, rev, rev + 1);
    }
    pthread_mutex_unlock(&W->mu);
    if (kick)
        mvcc__watchable_kick(W);
    return rc;
}

/* ---- victims ----------------------------------------------------------- */

/* Retries every victim whose stream has room. Returns how many moved on. */
static size_t retry_victims(mvcc__watchable *W, int64_t cur)
{
    size_t moved = 0;
    for (mvcc__watcher *w = W->victims, *next; w != NULL; w = next) {
        next = w->gnext;
        if (w->pending != NULL) {
            size_t bytes = w->pending->bytes;
            if (!mvcc__wstream_send(w->ws, w->pending))
                continue;
            mvcc__wstream_account(w->ws, 0, -(long)bytes);
            w->pending = NULL;
            w->min_rev = w->pending_next;
        }
        victims_unlink(W, w);
        if (w->min_rev <= cur) {
            place(W, w, MVCC__W_VICTIM, MVCC__W_UNSYNCED);
        } else {
            place(W, w, MVCC__W_VICTIM, MVCC__W_SYNCED);
            if (w->state == MVCC__W_SYNCED)
                answer_progress(w, cur);
        }
        moved++;
    }
    return moved;
}

/* ---- catch-up from history --------------------------------------------- */

typedef struct sync_ctx {
    mvcc__watchable *W;
    uint64_t round;
    mvcc__event *ev; /* the entry's event, built on first match */
    mvcc_event_type type;
    mvcc__kv kv;
    idx_rev rev;
} sync_ctx;

static void sync_one(void *arg, mvcc__watcher *w)
{
    sync_ctx *c = arg;
    if (w->gen != c->round || w->lost || c->rev.main < w->min_rev)
        return; /* not chosen this round, or below what it still needs */
    if (c->ev == NULL)
        c->ev = mvcc__event_new(c->type, c->rev.sub, &c->kv, c->rev.main);
    if (c->ev == NULL || scratch_push(w, c->ev) != 0)
        w->lost = true; /* out of memory: this watcher reads again next round */
}

static int sync_entry(void *arg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    sync_ctx *c = arg;
    mvcc__revkey rk;
    int rc = mvcc__revkey_decode(k, klen, &rk);
    if (rc == 0)
        rc = mvcc__kv_decode(v, vlen, &c->kv);
    if (rc == 0 && c->kv.key_len == 0)
        rc = MVCC_ECORRUPT;
    if (rc != 0)
        return rc;
    c->type = rk.tombstone ? MVCC_EVENT_DELETE : MVCC_EVENT_PUT;
    c->rev = rk.rev;
    c->ev = NULL;
    mvcc__wgroup_match(&c->W->unsynced, c->kv.key, c->kv.key_len, sync_one, c);
    mvcc__event_unref(c->ev);
    return 0;
}

/*
 * One catch-up round (etcd's syncWatchers, W->mu held): up to max_per_sync
 * unsynced watchers of streams with room; compacted ones get their
 * response; the rest read one window of history [lo, hi] (lo = their
 * lowest min_rev, at most max_revs revisions) and get its events in one
 * response each; a watcher whose window reached the current revision
 * joins the synced group. Returns how many watchers moved on.
 */
static size_t sync_round(mvcc__watchable *W, int64_t cur, int64_t compact)
{
    if (W->unsynced.count == 0)
        return 0;
    uint64_t round = ++W->gen;
    size_t moved = 0, nchosen = 0;
    mvcc__watcher *chosen = NULL;
    int64_t lo = INT64_MAX;
    for (mvcc__watcher *w = W->unsynced.head, *next; w != NULL && nchosen < W->opt.max_per_sync;
         w = next) {
        next = w->gnext;
        if (mvcc__wstream_full(w->ws))
            continue; /* its consumer must read first (watch_stream.c rule 3) */
        if (w->min_rev < compact) {
            mvcc__wresp *r = mvcc__wresp_new(w->id, MVCC_WATCH_COMPACTED, 0, 0);
            if (r == NULL)
                continue;
            r->pub.compact_revision = compact;
            if (!mvcc__wstream_send(w->ws, r)) {
                mvcc__wresp_free(r);
                continue;
            }
            mvcc__wgroup_remove(&W->unsynced, w);
            place(W, w, MVCC__W_UNSYNCED, MVCC__W_COMPACTED);
            w->ws->ncompacted++;
            moved++;
            continue;
        }
        if (w->min_rev < 0 || w->min_rev > cur) {
            /* -1 on a store never compacted: etcd's read finds nothing. */
            if (w->min_rev < 0)
                w->min_rev = cur + 1;
            mvcc__wgroup_remove(&W->unsynced, w);
            place(W, w, MVCC__W_UNSYNCED, MVCC__W_SYNCED);
            if (w->state == MVCC__W_SYNCED)
                answer_progress(w, cur);
            moved++;
            continue;
        }
        w->gen = round;
        scratch_clear(w);
        w->tnext = chosen;
        chosen = w;
        nchosen++;
        if (w->min_rev < lo)
            lo = w->min_rev;
    }
    if (chosen == NULL)
        return moved;

    int64_t hi = cur;
    if (lo <= cur - W->opt.max_revs)
        hi = lo + W->opt.max_revs - 1;
    sync_ctx c = { .W = W, .round = round };
    int rc = W->src.read(W->src.arg, lo, hi, sync_entry, &c);
    int64_t cur2, compact2;
    W->src.revs(W->src.arg, &cur2, &compact2);
    if (rc != 0)
        W->last_error = rc;

    for (mvcc__watcher *w = chosen, *next; w != NULL; w = next) {
        next = w->tnext;
        w->gen = 0;
        if (rc != 0 || w->lost || w->min_rev < compact2 || w->min_rev > hi) {
            /* A failed read, out of memory, history compacted under the
             * read (the next round sends the compaction response), or
             * outside the window: try again next round. */
            scratch_clear(w);
            continue;
        }
        int64_t from = w->min_rev;
        bool caught_up = hi == cur;
        bool all_filtered = true;
        mvcc__wresp *r = w->nscratch ? build_events(w, hi, &all_filtered) : NULL;
        scratch_clear(w);
        if (r == NULL && !all_filtered)
            continue; /* -ENOMEM: try again next round */
        w->min_rev = hi + 1;
        moved++;
        if (r != NULL && !mvcc__wstream_send(w->ws, r)) {
            mvcc__wgroup_remove(&W->unsynced, w);
            make_victim(W, w, MVCC__W_UNSYNCED, r, from, hi + 1);
            continue;
        }
        if (caught_up) {
            mvcc__wgroup_remove(&W->unsynced, w);
            place(W, w, MVCC__W_UNSYNCED, MVCC__W_SYNCED);
            if (w->state == MVCC__W_SYNCED)
                answer_progress(w, cur);
        }
    }
    return moved;
}

size_t mvcc__watchable_sync(mvcc__watchable *W)
{
    pthread_mutex_lock(&W->mu);
    size_t moved = 0;
    if (!W->closed) {
        int64_t cur, compact;
        W->src.revs(W->src.arg, &cur, &compact);
        moved = retry_victims(W, cur);
        moved += sync_round(W, cur, compact);
    }
    pthread_mutex_unlock(&W->mu);
    return moved;
}

/* ---- the sync thread --------------------------------------------------- */

void mvcc__watchable_kick(mvcc__watchable *W)
{
    pthread_mutex_lock(&W->kick_mu);
    W->kicked = true;
    pthread_cond_signal(&W->kick_cv);
    pthread_mutex_unlock(&W->kick_mu);
}

/* ---- the waker (rule W) ------------------------------------------------- */

void mvcc__wstream_wake(mvcc_watch_stream *ws)
{
    mvcc__watchable *W = ws->W;
    if (!W->have_waker) {
        pthread_cond_broadcast(&ws->qcv);
        return;
    }
    pthread_mutex_lock(&W->wk_mu);
    if (!ws->wk_listed) {
        ws->wk_listed = true;
        ws->wk_next = W->wk_head;
        W->wk_head = ws;
    }
    bool signal = W->wk_asleep;
    W->wk_asleep = false;
    pthread_mutex_unlock(&W->wk_mu);
    if (signal)
        pthread_cond_signal(&W->wk_cv);
}

/* Take ws off the waker's list and out of a round in progress (detach). */
static void waker_forget(mvcc__watchable *W, mvcc_watch_stream *ws)
{
    if (!W->have_waker)
        return;
    pthread_mutex_lock(&W->wk_mu);
    if (ws->wk_listed) {
        mvcc_watch_stream **p = &W->wk_head;
        while (*p != ws)
            p = &(*p)->wk_next;
        *p = ws->wk_next;
        ws->wk_listed = false;
    }
    while (W->wk_busy)
        pthread_cond_wait(&W->wk_done_cv, &W->wk_mu);
    pthread_mutex_unlock(&W->wk_mu);
}

static void *waker_thread(void *arg)
{
    mvcc__watchable *W = arg;
    unsigned idle = 0;
    uint64_t window = MVCC__WATCH_WAKE_WINDOW_NS;
    pthread_mutex_lock(&W->wk_mu);
    while (!W->wk_stop) {
        if (W->wk_head == NULL) {
            if (idle >= MVCC__WATCH_WAKE_IDLE_ROUNDS) {
                W->wk_asleep = true;
                while (W->wk_asleep && !W->wk_stop)
                    pthread_cond_wait(&W->wk_cv, &W->wk_mu);
                W->wk_asleep = false;
                idle = 0;
                window = MVCC__WATCH_WAKE_WINDOW_NS;
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t ns = (uint64_t)ts.tv_nsec + window;
                ts.tv_sec += (time_t)(ns / 1000000000u);
                ts.tv_nsec = (long)(ns % 1000000000u);
                pthread_cond_timedwait(&W->wk_cv, &W->wk_mu, &ts);
                idle++;
                if (W->wk_head == NULL)
                    window = MVCC__WATCH_WAKE_WINDOW_NS; /* a quiet window: the flow stopped */
            }
            continue;
        }
        /* The round's own links (wk_round): a send may list a stream
         * again (rewriting wk_next) while this round still walks it. */
        mvcc_watch_stream *round = NULL;
        unsigned nround = 0;
        for (mvcc_watch_stream *ws = W->wk_head; ws != NULL; ws = ws->wk_next) {
            ws->wk_listed = false;
            ws->wk_round = round;
            round = ws;
            nround++;
        }
        if (nround >= MVCC__WATCH_WAKE_BUSY_STREAMS)
            window = 2 * window < MVCC__WATCH_WAKE_WINDOW_MAX_NS ? 2 * window
                                                                 : MVCC__WATCH_WAKE_WINDOW_MAX_NS;
        else
            window = MVCC__WATCH_WAKE_WINDOW_NS;
        W->wk_head = NULL;
        W->wk_busy = true;
        pthread_mutex_unlock(&W->wk_mu);
        for (mvcc_watch_stream *ws = round; ws != NULL; ws = ws->wk_round)
            pthread_cond_broadcast(&ws->qcv);
        pthread_mutex_lock(&W->wk_mu);
        W->wk_busy = false;
        pthread_cond_broadcast(&W->wk_done_cv);
        idle = 0;
    }
    pthread_mutex_unlock(&W->wk_mu);
    return NULL;
}

/*
 * Loop: wait for a kick or one period, then run passes until one moves
 * nobody. Every watcher behind is moved by a pass or waits for something
 * that kicks (a receive making room, a new watcher, a compaction), so the
 * period is only a safety net (etcd's 100 ms loop).
 */
static void *sync_thread(void *arg)
{
    mvcc__watchable *W = arg;
    for (;;) {
        pthread_mutex_lock(&W->kick_mu);
        if (!W->kicked && !W->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t ns = (uint64_t)ts.tv_nsec + W->opt.period_ns;
            ts.tv_sec += (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            pthread_cond_timedwait(&W->kick_cv, &W->kick_mu, &ts);
        }
        bool stop = W->stop;
        W->kicked = false;
        pthread_mutex_unlock(&W->kick_mu);
        if (stop)
            return NULL;
        while (mvcc__watchable_sync(W) != 0) {
            pthread_mutex_lock(&W->kick_mu);
            stop = W->stop;
            pthread_mutex_unlock(&W->kick_mu);
            if (stop)
                return NULL;
        }
    }
}

int mvcc__watchable_open(const mvcc__watch_source *src, const mvcc__watchable_options *o,
                         mvcc__watchable **out)
{
    *out = NULL;
    mvcc__watchable *W = strata_calloc(1, sizeof *W);
    if (W == NULL)
        return -ENOMEM;
    W->src = *src;
    if (o != NULL)
        W->opt = *o;
    if (W->opt.period_ns == 0)
        W->opt.period_ns = MVCC__WATCH_SYNC_PERIOD_NS;
    if (W->opt.max_revs <= 0)
        W->opt.max_revs = MVCC__WATCH_BATCH_MAX_REVS;
    if (W->opt.max_per_sync == 0)
        W->opt.max_per_sync = MVCC__WATCH_MAX_PER_SYNC;
    mvcc__wgroup_init(&W->synced);
    mvcc__wgroup_init(&W->unsynced);
    pthread_mutex_t *const mus[] = { &W->mu, &W->kick_mu, &W->wk_mu };
    pthread_cond_t *const cvs[] = { &W->kick_cv, &W->wk_cv, &W->wk_done_cv };
    int irc = strata__mutexes_init(mus, 3); /* all or none, -errno */
    if (irc != 0) {
        mvcc__wgroup_destroy(&W->synced);
        mvcc__wgroup_destroy(&W->unsynced);
        strata_free(W);
        return irc;
    }
    size_t ncv = 0;
    while (irc == 0 && ncv < 3)
        if ((irc = strata__cond_init(cvs[ncv], true)) == 0)
            ncv++;
    if (irc == 0 && !W->opt.no_thread) {
        irc = -pthread_create(&W->thread, NULL, sync_thread, W);
        if (irc == 0) {
            W->have_thread = true;
            /* Without a waker, senders wake consumers themselves (rule W). */
            W->have_waker = pthread_create(&W->waker, NULL, waker_thread, W) == 0;
        }
    }
    if (irc != 0) {
        while (ncv > 0)
            pthread_cond_destroy(cvs[--ncv]);
        for (size_t i = 0; i < 3; i++)
            pthread_mutex_destroy(mus[i]);
        mvcc__wgroup_destroy(&W->synced);
        mvcc__wgroup_destroy(&W->unsynced);
        strata_free(W);
        return irc;
    }
    W->refs = 1;
    *out = W;
    return 0;
}

static void watchable_free(mvcc__watchable *W)
{
    mvcc__wgroup_destroy(&W->synced);
    mvcc__wgroup_destroy(&W->unsynced);
    pthread_mutex_destroy(&W->mu);
    pthread_mutex_destroy(&W->kick_mu);
    pthread_mutex_destroy(&W->wk_mu);
    pthread_cond_destroy(&W->kick_cv);
    pthread_cond_destroy(&W->wk_cv);
    pthread_cond_destroy(&W->wk_done_cv);
    strata_free(W);
}

void mvcc__watchable_unref(mvcc__watchable *W)
{
    pthread_mutex_lock(&W->mu);
    bool last = --W->refs == 0;
    pthread_mutex_unlock(&W->mu);
    if (last)
        watchable_free(W);
}

void mvcc__watchable_close(mvcc__watchable *W)
{
    if (W == NULL)
        return;
    if (W->have_thread) {
        pthread_mutex_lock(&W->kick_mu);
        W->stop = true;
        pthread_cond_signal(&W->kick_cv);
        pthread_mutex_unlock(&W->kick_mu);
        pthread_join(W->thread, NULL);
        W->have_thread = false;
    }
    if (W->have_waker) {
        /* Streams still listed are woken by the broadcast below. */
        pthread_mutex_lock(&W->wk_mu);
        W->wk_stop = true;
        pthread_cond_signal(&W->wk_cv);
        pthread_mutex_unlock(&W->wk_mu);
        pthread_join(W->waker, NULL);
    }
    pthread_mutex_lock(&W->mu);
    W->have_waker = false; /* read under W->mu: from now on senders wake at once */
    __atomic_store_n(&W->closed, true, __ATOMIC_RELEASE);
    for (mvcc_watch_stream *ws = W->streams; ws != NULL; ws = ws->next) {
        pthread_mutex_lock(&ws->qmu);
        pthread_cond_broadcast(&ws->qcv);
        pthread_mutex_unlock(&ws->qmu);
    }
    pthread_mutex_unlock(&W->mu);
    mvcc__watchable_unref(W);
}

/* ---- watch, cancel, progress ------------------------------------------- */

static void watcher_free(mvcc__watcher *w)
{
    scratch_clear(w);
    strata_free(w->scratch);
    strata_free(w);
}

int mvcc__watch_add(mvcc_watch_stream *ws, const mvcc_watch_request *req, int64_t *id_out)
{
    bool is_range = req->end != NULL;
    if (is_range && req->end_len > 0 &&
        mvcc__bytes_cmp(req->key, req->key_len, req->end, req->end_len) >= 0)
        return MVCC_EEMPTYWATCHERRANGE;
    size_t elen = is_range ? req->end_len : 0;
    if (req->key_len > SIZE_MAX / 4 || elen > SIZE_MAX / 4)
        return STRATA_EOVERFLOW;
    mvcc__watcher *w = strata_calloc(1, sizeof *w + req->key_len + elen + 1);
    if (w == NULL)
        return -ENOMEM;
    w->key = (uint8_t *)(w + 1);
    w->key_len = req->key_len;
    if (req->key_len)
        memcpy(w->key, req->key, req->key_len);
    w->end = w->key + req->key_len;
    w->end_len = elen;
    if (elen)
        memcpy(w->end, req->end, elen);
    w->is_range = is_range;
    w->end_inf = is_range && elen == 0;
    w->filters = req->filters;
    w->filter = req->filter;
    w->filter_arg = req->filter_arg;
    w->ws = ws;

    mvcc__watchable *W = ws->W;
    pthread_mutex_lock(&W->mu);
    int rc = 0;
    if (W->closed) {
        rc = MVCC_ECLOSED;
        goto fail;
    }
    int64_t id = req->id;
    if (id == MVCC_WATCH_AUTO_ID) {
        while (mvcc__wmap_get(&ws->ids, &ws->next_id, sizeof ws->next_id) != NULL)
            ws->next_id++;
        id = ws->next_id++;
    } else if (mvcc__wmap_get(&ws->ids, &id, sizeof id) != NULL) {
        rc = MVCC_EDUPWATCHID;
        goto fail;
    }
    w->id = id;
    int64_t cur, compact;
    W->src.revs(W->src.arg, &cur, &compact);
    bool synced = req->start_rev == 0 || req->start_rev > cur;
    w->min_rev = synced ? (req->start_rev > cur + 1 ? req->start_rev : cur + 1) : req->start_rev;
    w->state = synced ? MVCC__W_SYNCED : MVCC__W_UNSYNCED;
    rc = mvcc__wgroup_add(synced ? &W->synced : &W->unsynced, w);
    if (rc != 0)
        goto fail;
    rc = mvcc__wmap_put(&ws->ids, &id, sizeof id, w);
    if (rc != 0) {
        mvcc__wgroup_remove(w->group, w);
        goto fail;
    }
    ws->nwatchers++;
    if (!synced)
        mvcc__wstream_account(ws, 1, 0);
    pthread_mutex_unlock(&W->mu);
    if (!synced && W->have_thread)
        mvcc__watchable_kick(W);
    *id_out = id;
    return 0;
fail:
    pthread_mutex_unlock(&W->mu);
    watcher_free(w);
    return rc;
}

/* Removes w from the store and its stream and frees it (W->mu held). */
static void watcher_drop(mvcc__watchable *W, mvcc__watcher *w)
{
    mvcc_watch_stream *ws = w->ws;
    unplace(W, w);
    if (w->state == MVCC__W_COMPACTED)
        ws->ncompacted--;
    if (behind_state(w->state))
        mvcc__wstream_account(ws, -1, 0);
    mvcc__wmap_remove(&ws->ids, &w->id, sizeof w->id);
    ws->nwatchers--;
    watcher_free(w);
}

int mvcc__watch_cancel(mvcc_watch_stream *ws, int64_t id)
{
    mvcc__watchable *W = ws->W;
    pthread_mutex_lock(&W->mu);
    mvcc__watcher *w = mvcc__wmap_get(&ws->ids, &id, sizeof id);
    int rc = w == NULL ? MVCC_EWATCHERNOTEXIST : 0;
    if (w != NULL)
        watcher_drop(W, w);
    pthread_mutex_unlock(&W->mu);
    return rc;
}

int mvcc__watch_progress(mvcc_watch_stream *ws, int64_t id)
{
    mvcc__watchable *W = ws->W;
    pthread_mutex_lock(&W->mu);
    mvcc__watcher *w = mvcc__wmap_get(&ws->ids, &id, sizeof id);
    int rc = 0;
    if (W->closed) {
        rc = MVCC_ECLOSED;
    } else if (w == NULL) {
        rc = MVCC_EWATCHERNOTEXIST;
    } else if (w->state == MVCC__W_SYNCED) {
        int64_t cur, compact;
        W->src.revs(W->src.arg, &cur, &compact);
        w->progress_pending = true;
        answer_progress(w, cur);
    } else if (w->state != MVCC__W_COMPACTED) {
        w->progress_pending = true; /* answered when it has caught up */
    }
    pthread_mutex_unlock(&W->mu);
    return rc;
}

void mvcc__watch_stream_detach(mvcc_watch_stream *ws)
{
    mvcc__watchable *W = ws->W;
    pthread_mutex_lock(&W->mu);
    pthread_mutex_lock(&ws->qmu);
    ws->closing = true;
    pthread_mutex_unlock(&ws->qmu);
    /*
     * Drop every watcher, walking the id map's slots. A removal only moves
     * later members of a probe run back into the hole, and every slot
     * before i is already empty, so re-reading slot i after a drop visits
     * every entry once.
     */
    for (size_t i = 0; i < ws->ids.cap;) {
        if (ws->ids.slots[i].key != NULL)
            watcher_drop(W, ws->ids.slots[i].val);
        else
            i++;
    }
    if (ws->prev != NULL)
        ws->prev->next = ws->next;
    else
        W->streams = ws->next;
    if (ws->next != NULL)
        ws->next->prev = ws->prev;
    waker_forget(W, ws); /* rule W: no round still holds ws */
    pthread_mutex_unlock(&W->mu);
}

/* ---- check ------------------------------------------------------------- */

typedef struct wcheck {
    mvcc__watchable *W;
    mvcc_watch_stream *ws;
    size_t behind, compacted, n;
    size_t victim_bytes;
    char *why;
    size_t why_size;
    int rc;
} wcheck;

static int check_one(void *arg, const uint8_t *key, size_t key_len, void *val)
{
    wcheck *c = arg;
    mvcc__watcher *w = val;
    c->n++;
    const char *bad = NULL;
    if (key_len != sizeof w->id || memcmp(key, &w->id, sizeof w->id) != 0)
        bad = "filed under another id";
    else if (w->ws != c->ws)
        bad = "belongs to another stream";
    else if ((w->state == MVCC__W_SYNCED && w->group != &c->W->synced) ||
             (w->state == MVCC__W_UNSYNCED && w->group != &c->W->unsynced) ||
             ((w->state == MVCC__W_VICTIM || w->state == MVCC__W_COMPACTED) && w->group != NULL))
        bad = "its place does not match its state";
    else if (w->state != MVCC__W_VICTIM && w->pending != NULL)
        bad = "holds a batch but is not a victim";
    if (bad != NULL) {
        if (c->why != NULL && c->why_size > 0)
            snprintf(c->why, c->why_size, "watcher %lld: %s", (long long)w->id, bad);
        c->rc = -1;
        return 1;
    }
    c->behind += behind_state(w->state);
    c->compacted += w->state == MVCC__W_COMPACTED;
    if (w->pending != NULL)
        c->victim_bytes += w->pending->bytes;
    return 0;
}

int mvcc__watchable_check(mvcc__watchable *W, char *why, size_t why_size)
{
    char gwhy[160];
    int rc = 0;
    pthread_mutex_lock(&W->mu);
    if (mvcc__wgroup_check(&W->synced, gwhy, sizeof gwhy) != 0 ||
        mvcc__wgroup_check(&W->unsynced, gwhy, sizeof gwhy) != 0) {
        if (why != NULL && why_size > 0)
            snprintf(why, why_size, "group: %s", gwhy);
        rc = -1;
    }
    size_t nv = 0;
    for (mvcc__watcher *w = W->victims; rc == 0 && w != NULL; w = w->gnext) {
        nv++;
        if (w->state != MVCC__W_VICTIM || (w->gnext != NULL && w->gnext->gprev != w)) {
            if (why != NULL && why_size > 0)
                snprintf(why, why_size, "victim list: watcher %lld misplaced", (long long)w->id);
            rc = -1;
        }
    }
    if (rc == 0 && nv != W->nvictims) {
        if (why != NULL && why_size > 0)
            snprintf(why, why_size, "victim list holds %zu, count says %zu", nv, W->nvictims);
        rc = -1;
    }
    for (mvcc_watch_stream *ws = W->streams; rc == 0 && ws != NULL; ws = ws->next) {
        wcheck c = { W, ws, 0, 0, 0, 0, why, why_size, 0 };
        mvcc__wmap_each(&ws->ids, check_one, &c);
        rc = c.rc;
        pthread_mutex_lock(&ws->qmu);
        const char *bad = NULL;
        if (rc != 0)
            ;
        else if (c.n != ws->nwatchers)
            bad = "watcher count";
        else if (c.compacted != ws->ncompacted)
            bad = "compacted count";
        else if (c.behind != ws->behind)
            bad = "behind count (rule 4)";
        else if (c.victim_bytes != ws->victim_bytes)
            bad = "victim bytes";
        else if (ws->n > ws->cap)
            bad = "queue over capacity";
        if (bad != NULL) {
            if (why != NULL && why_size > 0)
                snprintf(why, why_size, "stream: %s does not add up", bad);
            rc = -1;
        }
        pthread_mutex_unlock(&ws->qmu);
    }
    pthread_mutex_unlock(&W->mu);
    return rc;
}
