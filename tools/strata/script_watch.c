/*
 * script_watch.c: the `watch` and `cancel` ops of the mvcc script
 * language and the drain after every op (ORACLE.md §2, §3, §4.3 rule W).
 *
 * The runner watches as an application does: one watch stream on the
 * store (mvcc.h), every event received from it, never read from the `key`
 * bucket. After every top-level op the drain receives until the stream is
 * caught up (mvcc_watch_stream_wait: every watcher in sync; it makes the
 * store's sync thread run at once, so there is no timer sleep), then
 * prints the collected lines grouped by watch id, ascending, each
 * watcher's in arrival order (= (revision, sub-revision) order).
 *
 * Rules:
 *   1. `watchers` holds every id the script created and did not cancel
 *      (compacted ones included, as their ids stay taken), sorted by id.
 *   2. A watcher prints at most one `compacted` line; strata sends one
 *      compaction response per watcher (etcd 3.4 may repeat it; the
 *      oracle prints it once).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

/* A drain that does not finish in this long is an internal error (the oracle's -watch-timeout). */
#define DRAIN_TIMEOUT_MS 60000

typedef struct wstate {
    int64_t id;
    bool compacted;
    char *buf; /* the lines collected since the last drain */
    size_t len, cap;
} wstate;

typedef struct watch_state {
    mvcc_watch_stream *ws;
    wstate *w; /* rule 1 */
    size_t n, cap;
} watch_state;

static wstate *find(watch_state *st, int64_t id, size_t *pos)
{
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->w[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos != NULL)
        *pos = lo;
    return lo < st->n && st->w[lo].id == id ? &st->w[lo] : NULL;
}

static int track(watch_state *st, int64_t id)
{
    size_t pos;
    if (find(st, id, &pos) != NULL)
        return 0;
    if (st->n == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 16;
        wstate *n = realloc(st->w, ncap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        st->w = n;
        st->cap = ncap;
    }
    memmove(&st->w[pos + 1], &st->w[pos], (st->n - pos) * sizeof *st->w);
    st->w[pos] = (wstate){ .id = id };
    st->n++;
    return 0;
}

static void untrack(watch_state *st, int64_t id)
{
    size_t pos;
    wstate *w = find(st, id, &pos);
    if (w == NULL)
        return;
    free(w->buf);
    memmove(&st->w[pos], &st->w[pos + 1], (st->n - pos - 1) * sizeof *st->w);
    st->n--;
}

/* Appends text to w's pending lines. */
static int append(wstate *w, const char *s, size_t len)
{
    if (w->len + len > w->cap) {
        size_t ncap = w->cap ? w->cap : 256;
        while (ncap < w->len + len)
            ncap *= 2;
        char *n = realloc(w->buf, ncap);
        if (n == NULL)
            return -ENOMEM;
        w->buf = n;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, s, len);
    w->len += len;
    return 0;
}

/* Renders one response into its watcher's pending lines (through a memory stream). */
static int collect(script_ctx *c, watch_state *st, const mvcc_watch_response *r)
{
    wstate *w = find(st, r->watch_id, NULL);
    if (w == NULL)
        return 0; /* a cancelled watcher's leftover: cancel happens between drains */
    if (r->kind == MVCC_WATCH_PROGRESS)
        return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (mem == NULL)
        return -errno;
    FILE *out = c->out;
    c->out = mem;
    if (r->kind == MVCC_WATCH_COMPACTED) {
        if (!w->compacted)
            script_line(c, "event watch=%" PRId64 " compacted compact=%" PRId64, w->id,
                        r->compact_revision);
        w->compacted = true;
    } else {
        for (size_t i = 0; i < r->n_events; i++) {
            const mvcc_event *e = r->events[i];
            char prefix[96];
            snprintf(prefix, sizeof prefix, "event watch=%" PRId64 " type=%s", w->id,
                     e->type == MVCC_EVENT_DELETE ? "DELETE" : "PUT");
            script_kv kv = { e->kv.key,
                             e->kv.key_len,
                             e->kv.value,
                             e->kv.value_len,
                             e->kv.create_revision,
                             e->kv.mod_revision,
                             e->kv.version,
                             e->kv.lease };
            script_kv_line(c, prefix, &kv, true);
        }
    }
    c->out = out;
    int rc = fclose(mem) == 0 ? 0 : -EIO;
    if (rc == 0)
        rc = append(w, text, len);
    free(text);
    return rc;
}

/* Rule W: receive until caught up, then print grouped by id. */
static int watch_after_op(script_ctx *c, void *state)
{
    watch_state *st = state;
    if (st->ws == NULL || st->n == 0)
        return 0;
    mvcc_watch_response *r;
    for (;;) {
        int rc;
        while ((rc = mvcc_watch_stream_recv(st->ws, 0, &r)) == 0) {
            rc = collect(c, st, r);
            mvcc_watch_response_free(r);
            if (rc != 0)
                return script_internal(c, rc, "watch: collecting events");
        }
        if (rc != -EAGAIN)
            return script_internal(c, rc, "watch: receiving");
        bool caught_up = false;
        rc = mvcc_watch_stream_wait(st->ws, DRAIN_TIMEOUT_MS, &caught_up);
        if (rc == -ETIMEDOUT)
            return script_internal(c, rc, "watch: watchers did not catch up within 60 s");
        if (rc != 0)
            return script_internal(c, rc, "watch: waiting for watchers");
        if (!caught_up)
            continue;
        while ((rc = mvcc_watch_stream_recv(st->ws, 0, &r)) == 0) {
            rc = collect(c, st, r);
            mvcc_watch_response_free(r);
            if (rc != 0)
                return script_internal(c, rc, "watch: collecting events");
        }
        break;
    }
    for (size_t i = 0; i < st->n; i++) {
        wstate *w = &st->w[i];
        if (w->len > 0) {
            fwrite(w->buf, 1, w->len, c->out);
            w->len = 0;
        }
    }
    return 0;
}

static const char *const watch_options[] = { "rev", "startrev", NULL };
static const char *const watch_flags[] = { "prefix", "fromkey", "noput", "nodelete", NULL };

static int op_watch(script_ctx *c, const script_args *a, void *state)
{
    watch_state *st = state;
    if (a->npos < 2)
        return script_fail(c, "usage: watch ID KEY [END] [prefix|fromkey] [rev=N] [noput] "
                              "[nodelete]");
    int64_t idv;
    if (script_parse_int64(a->pos[0].s, a->pos[0].len, &idv) != 0 || idv < 0)
        return script_fail(c, "bad watch id %.*s", (int)a->pos[0].len, (const char *)a->pos[0].s);
    script_range r;
    unsigned char *buf = NULL;
    int rc = script_key_range(c, a, 1, &r, &buf);
    if (rc != 0)
        return rc;
    int64_t start = 0;
    if ((rc = script_opt_int64(c, a, "rev", 0, &start)) != 0 ||
        (rc = script_opt_int64(c, a, "startrev", start, &start)) != 0) {
        free(buf);
        return rc;
    }
    mvcc_watch_request rq = { .id = idv,
                              .key = r.key,
                              .key_len = r.klen,
                              .end = r.end,
                              .end_len = r.elen,
                              .start_rev = start,
                              .filters = (script_flag(a, "noput") ? MVCC_WATCH_NOPUT : 0u) |
                                         (script_flag(a, "nodelete") ? MVCC_WATCH_NODELETE : 0u) };
    int64_t id = 0;
    rc = mvcc_watch(st->ws, &rq, &id);
    free(buf);
    if (rc != 0 && script_error_is_etcd(rc)) {
        script_print(c, "watch id=%" PRId64 " ", idv);
        script_error(c, rc);
        script_line(c, "%s", "");
        return 0;
    }
    if (rc != 0)
        return script_internal(c, rc, "watch");
    if ((rc = track(st, id)) != 0)
        return script_internal(c, rc, "watch: tracking the id");
    script_line(c, "watch id=%" PRId64 " ok", id);
    return 0;
}

static int op_cancel(script_ctx *c, const script_args *a, void *state)
{
    watch_state *st = state;
    if (a->npos != 1)
        return script_fail(c, "usage: cancel ID");
    int64_t idv;
    if (script_parse_int64(a->pos[0].s, a->pos[0].len, &idv) != 0)
        return script_fail(c, "bad watch id: %.*s", (int)a->pos[0].len, (const char *)a->pos[0].s);
    int rc = mvcc_watch_cancel(st->ws, idv);
    untrack(st, idv);
    if (rc != 0 && script_error_is_etcd(rc)) {
        script_print(c, "cancel id=%" PRId64 " ", idv);
        script_error(c, rc);
        script_line(c, "%s", "");
        return 0;
    }
    if (rc != 0)
        return script_internal(c, rc, "cancel");
    script_line(c, "cancel id=%" PRId64 " ok", idv);
    return 0;
}

static int watch_open_after_store(script_ctx *c, void *state)
{
    watch_state *st = state;
    int rc = mvcc_watch_stream_open(c->kv, NULL, &st->ws);
    if (rc != 0)
        return script_internal(c, rc, "opening the watch stream");
    return 0;
}

static int watch_close_before_store(script_ctx *c, void *state, int64_t *dropped)
{
    (void)c;
    watch_state *st = state;
    *dropped += (int64_t)st->n;
    for (size_t i = 0; i < st->n; i++)
        free(st->w[i].buf);
    free(st->w);
    st->w = NULL;
    st->n = st->cap = 0;
    mvcc_watch_stream_close(st->ws);
    st->ws = NULL;
    return 0;
}

static const script_op watch_ops[] = {
    { "watch", watch_options, watch_flags, 0, op_watch },
    { "cancel", NULL, NULL, 0, op_cancel },
};

const script_plugin script_watch_plugin = {
    .name = "watch",
    .state_size = sizeof(watch_state),
    .ops = watch_ops,
    .nops = sizeof watch_ops / sizeof watch_ops[0],
    .open_after_store = watch_open_after_store,
    .close_before_store = watch_close_before_store,
    .after_op = watch_after_op,
};
