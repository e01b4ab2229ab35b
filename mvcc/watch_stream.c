/*
 * watch_stream.c: a watch stream's bounded queue (etcd's WatchStream and
 * its 128-slot channel), its eventfd, receive and wait.
 *
 * Rules:
 *   1. The queue holds at most cap responses; its charged bytes plus the
 *      stream's victim batches stay within max_bytes, except that an empty
 *      queue takes any single response (so a response larger than the
 *      budget is delayed, never stuck).
 *   2. The eventfd exists once the application asked for it (so a
 *      consumer that only uses recv pays no system call per response);
 *      from then on its counter is non-zero iff n > 0: it is created
 *      holding 1 when the queue is non-empty, the send that makes the
 *      queue non-empty writes 1, the receive that empties it reads it
 *      back, all under qmu.
 *   4. A waiter (recv or wait) sleeps on qcv only while the queue is empty
 *      (or the stream is behind); it is counted in `waiters`, and a sender
 *      signals only the edges that can end a wait (queue empty -> not,
 *      behind -> 0) and only when someone waits: a busy stream costs no
 *      wake-up per response.
 *   3. A send that finds no room sets `blocked`; the receive that next
 *      makes room clears it and wakes the sync thread, which retries the
 *      stream's victims and catches up its unsynced watchers. So a stalled
 *      consumer costs the sync thread nothing until it reads again.
 *   5. The wake-up of rule 4 is sent after qmu is released: a waiter woken
 *      while the sender still held qmu went straight back to sleep on the
 *      mutex and needed a second wake-up at the unlock (in M8, futex
 *      traffic was a third of the put thread's time). With a sync thread
 *      it is handed to the waker (watchable_store.c rule W), so a writer
 *      never makes the system call itself while responses flow; without
 *      one it is sent at once, still under the watchable store's mu,
 *      which every sender holds and mvcc_watch_stream_close takes
 *      (detach) before it destroys qcv.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "sync.h"
#include "watch_int.h"

void mvcc_watch_stream_options_init(mvcc_watch_stream_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->queue_len = MVCC__WATCH_QUEUE_LEN;
    o->max_bytes = MVCC__WATCH_DEFAULT_BYTES;
}

int mvcc__watch_stream_open(mvcc__watchable *W, const mvcc_watch_stream_options *o,
                            mvcc_watch_stream **out)
{
    *out = NULL;
    mvcc_watch_stream_options opt;
    mvcc_watch_stream_options_init(&opt);
    if (o != NULL) {
        if (o->size != 0 &&
            o->size < offsetof(mvcc_watch_stream_options, max_bytes) + sizeof o->max_bytes)
            return STRATA_EMISUSE;
        if (o->queue_len != 0)
            opt.queue_len = o->queue_len;
        if (o->max_bytes != 0)
            opt.max_bytes = o->max_bytes;
    }
    if (opt.queue_len > (1u << 24))
        return STRATA_EMISUSE;
    mvcc_watch_stream *ws = strata_calloc(1, sizeof *ws);
    if (ws == NULL)
        return -ENOMEM;
    ws->ring = strata_calloc(opt.queue_len, sizeof *ws->ring);
    if (ws->ring == NULL) {
        strata_free(ws);
        return -ENOMEM;
    }
    ws->efd = -1; /* made on the first mvcc_watch_stream_fd (rule 2) */
    ws->cap = opt.queue_len;
    ws->max_bytes = opt.max_bytes;
    mvcc__wmap_init(&ws->ids);
    int rc = -pthread_mutex_init(&ws->qmu, NULL);
    if (rc == 0) {
        rc = strata__cond_init(&ws->qcv, true);
        if (rc != 0)
            pthread_mutex_destroy(&ws->qmu);
    }
    if (rc != 0) {
        strata_free(ws->ring);
        strata_free(ws);
        return rc;
    }
    ws->W = W;

    pthread_mutex_lock(&W->mu);
    if (W->closed) {
        pthread_mutex_unlock(&W->mu);
        pthread_mutex_destroy(&ws->qmu);
        pthread_cond_destroy(&ws->qcv);
        strata_free(ws->ring);
        strata_free(ws);
        return MVCC_ECLOSED;
    }
    W->refs++;
    ws->next = W->streams;
    if (W->streams != NULL)
        W->streams->prev = ws;
    W->streams = ws;
    pthread_mutex_unlock(&W->mu);
    *out = ws;
    return 0;
}

static void efd_set(mvcc_watch_stream *ws)
{
    if (ws->efd < 0)
        return;
    uint64_t one = 1;
    ssize_t rc = write(ws->efd, &one, sizeof one);
    (void)rc; /* cannot fail: the counter is 0 here (rule 2) */
}

static void efd_clear(mvcc_watch_stream *ws)
{
    if (ws->efd < 0)
        return;
    uint64_t v;
    ssize_t rc = read(ws->efd, &v, sizeof v);
    (void)rc;
}

static void note_peak(mvcc_watch_stream *ws)
{
    size_t used = ws->qbytes + ws->victim_bytes;
    if (used > ws->peak_bytes)
        ws->peak_bytes = used;
}

bool mvcc__wstream_send(mvcc_watch_stream *ws, mvcc__wresp *r)
{
    pthread_mutex_lock(&ws->qmu);
    if (ws->closing) {
        pthread_mutex_unlock(&ws->qmu);
        mvcc__wresp_free(r);
        return true;
    }
    if (ws->n == ws->cap ||
        (ws->n > 0 && ws->qbytes + ws->victim_bytes + r->bytes > ws->max_bytes)) {
        ws->blocked = true;
        pthread_mutex_unlock(&ws->qmu);
        return false;
    }
    ws->ring[(ws->head + ws->n) % ws->cap] = r;
    bool wake = false;
    if (ws->n++ == 0) {
        /* Rule 4: only the empty -> non-empty edge can end a wait. */
        efd_set(ws);
        wake = ws->waiters > 0;
    }
    ws->qbytes += r->bytes;
    note_peak(ws);
    pthread_mutex_unlock(&ws->qmu);
    if (wake)
        mvcc__wstream_wake(ws); /* rule 5 */
    return true;
}

bool mvcc__wstream_full(mvcc_watch_stream *ws)
{
    pthread_mutex_lock(&ws->qmu);
    bool full = ws->n == ws->cap ||
                (ws->n > 0 && ws->qbytes + ws->victim_bytes + sizeof(mvcc__wresp) > ws->max_bytes);
    if (full)
        ws->blocked = true;
    pthread_mutex_unlock(&ws->qmu);
    return full;
}

void mvcc__wstream_account(mvcc_watch_stream *ws, long behind_delta, long victim_bytes_delta)
{
    pthread_mutex_lock(&ws->qmu);
    ws->behind = (size_t)((long)ws->behind + behind_delta);
    ws->victim_bytes = (size_t)((long)ws->victim_bytes + victim_bytes_delta);
    note_peak(ws);
    bool wake = ws->behind == 0 && behind_delta != 0 && ws->waiters > 0;
    pthread_mutex_unlock(&ws->qmu);
    if (wake)
        pthread_cond_broadcast(&ws->qcv); /* rule 5 */
}

/* An absolute CLOCK_MONOTONIC deadline timeout_ms from now. */
static struct timespec deadline_after(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Whether the store behind ws is closed (its watchers will never move). */
static bool store_closed(mvcc_watch_stream *ws)
{
    return __atomic_load_n(&ws->W->closed, __ATOMIC_ACQUIRE);
}

int mvcc_watch_stream_recv(mvcc_watch_stream *ws, int timeout_ms, mvcc_watch_response **out)
{
    *out = NULL;
    if (ws == NULL)
        return STRATA_EMISUSE;
    struct timespec dl;
    bool have_dl = false;
    pthread_mutex_lock(&ws->qmu);
    while (ws->n == 0) {
        if (store_closed(ws)) {
            pthread_mutex_unlock(&ws->qmu);
            return MVCC_ECLOSED;
        }
        if (timeout_ms == 0) {
            pthread_mutex_unlock(&ws->qmu);
            return -EAGAIN;
        }
        if (!have_dl && timeout_ms > 0) {
            dl = deadline_after(timeout_ms); /* only when it has to wait */
            have_dl = true;
        }
        ws->waiters++;
        int rc = timeout_ms < 0 ? pthread_cond_wait(&ws->qcv, &ws->qmu)
                                : pthread_cond_timedwait(&ws->qcv, &ws->qmu, &dl);
        ws->waiters--;
        if (rc == ETIMEDOUT && ws->n == 0) {
            pthread_mutex_unlock(&ws->qmu);
            return -ETIMEDOUT;
        }
    }
    mvcc__wresp *r = ws->ring[ws->head];
    ws->ring[ws->head] = NULL;
    ws->head = (ws->head + 1) % ws->cap;
    if (--ws->n == 0)
        efd_clear(ws);
    ws->qbytes -= r->bytes;
    bool kick = ws->blocked;
    ws->blocked = false;
    pthread_mutex_unlock(&ws->qmu);
    if (kick)
        mvcc__watchable_kick(ws->W);
    *out = &r->pub;
    return 0;
}

int mvcc_watch_stream_wait(mvcc_watch_stream *ws, int timeout_ms, bool *caught_up)
{
    if (ws == NULL || caught_up == NULL)
        return STRATA_EMISUSE;
    mvcc__watchable *W = ws->W;
    struct timespec dl = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (!W->have_thread)
            mvcc__watchable_sync(W); /* no thread: catch up on this one */
        else
            mvcc__watchable_kick(W);
        pthread_mutex_lock(&ws->qmu);
        if (ws->n > 0 || ws->behind == 0) {
            *caught_up = ws->behind == 0;
            pthread_mutex_unlock(&ws->qmu);
            return 0;
        }
        if (store_closed(ws)) {
            pthread_mutex_unlock(&ws->qmu);
            return MVCC_ECLOSED;
        }
        if (!W->have_thread) {
            /* Behind with an empty queue and nobody else to move it: run
             * another round (each round makes progress or finds nothing). */
            pthread_mutex_unlock(&ws->qmu);
            if (timeout_ms == 0)
                return -ETIMEDOUT;
            continue;
        }
        int rc = 0;
        ws->waiters++;
        if (timeout_ms < 0) {
            /* Bounded sleeps so a lost wake-up costs at most a period. */
            struct timespec t = deadline_after(100);
            rc = pthread_cond_timedwait(&ws->qcv, &ws->qmu, &t);
            rc = 0;
        } else if (timeout_ms == 0) {
            rc = ETIMEDOUT;
        } else {
            rc = pthread_cond_timedwait(&ws->qcv, &ws->qmu, &dl);
        }
        ws->waiters--;
        bool done = ws->n > 0 || ws->behind == 0;
        pthread_mutex_unlock(&ws->qmu);
        if (rc == ETIMEDOUT && !done)
            return -ETIMEDOUT;
    }
}

int mvcc_watch_stream_fd(mvcc_watch_stream *ws)
{
    if (ws == NULL)
        return STRATA_EMISUSE;
    pthread_mutex_lock(&ws->qmu);
    if (ws->efd < 0) {
        ws->efd = eventfd(ws->n > 0 ? 1 : 0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (ws->efd < 0) {
            int rc = -errno;
            pthread_mutex_unlock(&ws->qmu);
            return rc;
        }
    }
    int fd = ws->efd;
    pthread_mutex_unlock(&ws->qmu);
    return fd;
}

int mvcc_watch(mvcc_watch_stream *ws, const mvcc_watch_request *req, int64_t *id_out)
{
    if (ws == NULL || req == NULL || id_out == NULL || (req->key == NULL && req->key_len != 0) ||
        (req->end == NULL && req->end_len != 0))
        return STRATA_EMISUSE;
    return mvcc__watch_add(ws, req, id_out);
}

int mvcc_watch_cancel(mvcc_watch_stream *ws, int64_t id)
{
    if (ws == NULL)
        return STRATA_EMISUSE;
    return mvcc__watch_cancel(ws, id);
}

int mvcc_watch_request_progress(mvcc_watch_stream *ws, int64_t id)
{
    if (ws == NULL)
        return STRATA_EMISUSE;
    return mvcc__watch_progress(ws, id);
}

void mvcc_watch_stream_stats_get(mvcc_watch_stream *ws, mvcc_watch_stream_stats *st)
{
    memset(st, 0, sizeof *st);
    mvcc__watchable *W = ws->W;
    pthread_mutex_lock(&W->mu);
    st->watchers = ws->nwatchers;
    st->compacted = ws->ncompacted;
    for (mvcc__watcher *w = W->synced.head; w != NULL; w = w->gnext)
        st->synced += w->ws == ws;
    for (mvcc__watcher *w = W->unsynced.head; w != NULL; w = w->gnext)
        st->unsynced += w->ws == ws;
    for (mvcc__watcher *w = W->victims; w != NULL; w = w->gnext)
        st->victims += w->ws == ws;
    pthread_mutex_lock(&ws->qmu);
    st->queued = ws->n;
    st->queued_bytes = ws->qbytes;
    st->victim_bytes = ws->victim_bytes;
    st->peak_bytes = ws->peak_bytes;
    st->max_bytes = ws->max_bytes;
    st->dropped_batches = ws->dropped;
    pthread_mutex_unlock(&ws->qmu);
    pthread_mutex_unlock(&W->mu);
}

void mvcc_watch_stream_close(mvcc_watch_stream *ws)
{
    if (ws == NULL)
        return;
    mvcc__watchable *W = ws->W;
    mvcc__watch_stream_detach(ws);
    for (size_t i = 0; i < ws->n; i++)
        mvcc__wresp_free(ws->ring[(ws->head + i) % ws->cap]);
    strata_free(ws->ring);
    mvcc__wmap_destroy(&ws->ids);
    if (ws->efd >= 0)
        close(ws->efd);
    pthread_mutex_destroy(&ws->qmu);
    pthread_cond_destroy(&ws->qcv);
    strata_free(ws);
    mvcc__watchable_unref(W);
}
