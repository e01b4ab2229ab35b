/*
 * test_watch.c: the watchable store's core (mvcc/watch_*.c,
 * watchable_store.c) over a model history: watcher groups against brute
 * force, notify and filters, ids, catch-up in bounded rounds, compaction
 * responses, victims, the memory budget of a stalled stream, progress, the
 * eventfd, shared events, and the sync thread with wait/recv.
 *
 * The model store keeps every revision as the `key` bucket would (revision
 * key bytes and mvccpb.KeyValue bytes), answers the source's reads, and
 * calls mvcc__watch_notify at the end of each write txn the way the
 * kvstore does. Every check of delivered events compares them with the
 * model's history: each matching change once, in (revision, sub) order.
 */
#include "../harness.h"

#include <errno.h>
#include <poll.h>

#include "../../mvcc/kvpb.h"
#include "../../mvcc/revkey.h"
#include "../../mvcc/watch_int.h"

/* ---- the model store ---------------------------------------------------- */

typedef struct entry {
    int64_t main, sub;
    bool tomb;
    char key[32];
    char val[64];
    int64_t create, ver;
    bool gone; /* removed by compaction */
} entry;

typedef struct model {
    pthread_mutex_t mu;  /* entries, cur, compact (the "backend") */
    pthread_mutex_t wmu; /* the store's write lock */
    entry *e;
    size_t n, cap;
    int64_t cur, compact;
    mvcc__watchable *W;
} model;

static void m_revs(void *arg, int64_t *cur, int64_t *compact)
{
    model *m = arg;
    pthread_mutex_lock(&m->mu);
    *cur = m->cur;
    *compact = m->compact;
    pthread_mutex_unlock(&m->mu);
}

static int m_read(void *arg, int64_t from, int64_t to,
                  int (*fn)(void *, const uint8_t *, size_t, const uint8_t *, size_t), void *cb)
{
    model *m = arg;
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    for (size_t i = 0; i < m->n && rc == 0; i++) {
        entry *e = &m->e[i];
        if (e->gone || e->main < from || e->main > to)
            continue;
        uint8_t k[18], v[256];
        size_t klen = mvcc__revkey_encode((idx_rev){ e->main, e->sub }, e->tomb, k);
        mvcc__kv kv;
        if (e->tomb) {
            kv = mvcc__kv_tombstone(e->key, strlen(e->key));
        } else {
            kv = (mvcc__kv){ (const uint8_t *)e->key, strlen(e->key), e->create, e->main, e->ver,
                             (const uint8_t *)e->val, strlen(e->val), 0 };
        }
        size_t vlen;
        ASSERT_OK(mvcc__kv_encode(&kv, v, sizeof v, &vlen));
        rc = fn(cb, k, klen, v, vlen);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

static void model_init(model *m, const mvcc__watchable_options *o)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->wmu, NULL);
    m->cur = 1; /* etcd's store starts at revision 1 */
    m->compact = -1;
    mvcc__watch_source src = { m, m_revs, m_read };
    ASSERT_OK(mvcc__watchable_open(&src, o, &m->W));
}

static void model_free(model *m)
{
    mvcc__watchable_close(m->W);
    free(m->e);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->wmu);
}

static const entry *latest(const model *m, const char *key)
{
    for (size_t i = m->n; i-- > 0;)
        if (!strcmp(m->e[i].key, key))
            return &m->e[i];
    return NULL;
}

/* One write txn: ops[i] = "p key val" or "d key". Returns its revision. */
static int64_t model_txn(model *m, const char *const *ops, size_t nops)
{
    pthread_mutex_lock(&m->wmu);
    pthread_mutex_lock(&m->mu);
    int64_t rev = m->cur + 1;
    mvcc__change ch[16];
    size_t first = m->n;
    for (size_t i = 0; i < nops; i++) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 256;
            m->e = realloc(m->e, m->cap * sizeof *m->e);
        }
        entry *e = &m->e[m->n];
        memset(e, 0, sizeof *e);
        const entry *prev = latest(m, ops[i] + 2);
        bool alive = prev != NULL && !prev->tomb;
        e->main = rev;
        e->sub = (int64_t)(m->n - first);
        e->tomb = ops[i][0] == 'd';
        const char *sp = strchr(ops[i] + 2, ' ');
        size_t kl = sp ? (size_t)(sp - ops[i] - 2) : strlen(ops[i] + 2);
        memcpy(e->key, ops[i] + 2, kl);
        prev = latest(m, e->key);
        alive = prev != NULL && !prev->tomb;
        if (!e->tomb) {
            snprintf(e->val, sizeof e->val, "%s", sp ? sp + 1 : "");
            e->create = alive ? prev->create : rev;
            e->ver = alive ? prev->ver + 1 : 1;
        }
        m->n++;
    }
    for (size_t i = first; i < m->n; i++) {
        entry *e = &m->e[i];
        ch[i - first].deleted = e->tomb;
        ch[i - first].sub = e->sub;
        if (e->tomb)
            ch[i - first].kv = (mvcc__kv){ .key = (const uint8_t *)e->key,
                                           .key_len = strlen(e->key),
                                           .mod_revision = rev };
        else
            ch[i - first].kv =
                    (mvcc__kv){ (const uint8_t *)e->key, strlen(e->key), e->create, rev, e->ver,
                                (const uint8_t *)e->val, strlen(e->val), 0 };
    }
    m->cur = rev;
    pthread_mutex_unlock(&m->mu);
    /* The kvstore's hook: write lock held, the revision readable. */
    mvcc__watch_notify(m->W, rev, ch, m->n - first);
    pthread_mutex_unlock(&m->wmu);
    return rev;
}

static int64_t model_put(model *m, const char *key, const char *val)
{
    char op[128];
    snprintf(op, sizeof op, "p %s %s", key, val);
    const char *ops[] = { op };
    return model_txn(m, ops, 1);
}

static int64_t model_del(model *m, const char *key)
{
    char op[128];
    snprintf(op, sizeof op, "d %s", key);
    const char *ops[] = { op };
    return model_txn(m, ops, 1);
}

/* etcd's compaction: entries below rev go, except each key's newest put at or below rev. */
static void model_compact(model *m, int64_t rev)
{
    pthread_mutex_lock(&m->mu);
    m->compact = rev;
    for (size_t i = 0; i < m->n; i++) {
        entry *e = &m->e[i];
        if (e->main > rev || e->gone)
            continue;
        bool newest = true;
        for (size_t j = i + 1; j < m->n; j++)
            if (!strcmp(m->e[j].key, e->key) && m->e[j].main <= rev)
                newest = false;
        if (!newest || e->tomb)
            e->gone = true;
    }
    pthread_mutex_unlock(&m->mu);
    mvcc__watchable_kick(m->W);
}

/* ---- what a watcher must receive ---------------------------------------- */

typedef struct spec {
    const char *key, *end; /* end NULL: one key; "" : to infinity */
    int64_t start;
    unsigned filters;
    int64_t from; /* set by watch_spec: the first revision it must get */
} spec;

static bool spec_match(const spec *s, const char *key)
{
    if (s->end == NULL)
        return !strcmp(key, s->key);
    return strcmp(key, s->key) >= 0 && (s->end[0] == '\0' || strcmp(key, s->end) < 0);
}

typedef struct got {
    int64_t mod[8192];
    int64_t sub[8192];
    char key[8192][16];
    bool del[8192];
    size_t n;
    int64_t last_rev; /* highest response revision seen */
    int compacted;    /* compaction responses */
    int64_t compact_rev;
    int progress;
    int64_t progress_rev;
} got;

static void got_add(got *g, const mvcc_watch_response *r)
{
    if (r->kind == MVCC_WATCH_COMPACTED) {
        g->compacted++;
        g->compact_rev = r->compact_revision;
        return;
    }
    if (r->kind == MVCC_WATCH_PROGRESS) {
        ASSERT_GE_INT(r->revision, g->last_rev); /* never below an event received */
        g->progress++;
        g->progress_rev = r->revision;
        return;
    }
    ASSERT_TRUE(r->n_events > 0);
    for (size_t i = 0; i < r->n_events; i++) {
        const mvcc_event *e = r->events[i];
        ASSERT_TRUE(g->n < 8192);
        ASSERT_LE_INT(e->kv.mod_revision, r->revision);
        g->mod[g->n] = e->kv.mod_revision;
        g->sub[g->n] = e->sub;
        g->del[g->n] = e->type == MVCC_EVENT_DELETE;
        ASSERT_TRUE(e->kv.key_len < 16);
        memcpy(g->key[g->n], e->kv.key, e->kv.key_len);
        g->key[g->n][e->kv.key_len] = '\0';
        g->n++;
    }
    if (r->revision > g->last_rev)
        g->last_rev = r->revision;
}

/* Compares what a watcher got with the model's history from its start. */
static void expect_history(const model *m, const spec *s, const got *g, int64_t upto)
{
    size_t k = 0;
    for (size_t i = 0; i < m->n; i++) {
        const entry *e = &m->e[i];
        if (e->main < s->from || e->main > upto || !spec_match(s, e->key))
            continue;
        if ((s->filters & MVCC_WATCH_NOPUT) && !e->tomb)
            continue;
        if ((s->filters & MVCC_WATCH_NODELETE) && e->tomb)
            continue;
        if (k >= g->n)
            fprintf(stderr, "missing event %zu: rev %lld key %s\n", k, (long long)e->main, e->key);
        ASSERT_TRUE(k < g->n);
        ASSERT_EQ_INT(g->mod[k], e->main);
        ASSERT_EQ_INT(g->sub[k], e->sub);
        ASSERT_EQ_STR(g->key[k], e->key);
        ASSERT_EQ_INT(g->del[k], e->tomb);
        k++;
    }
    ASSERT_EQ_SIZE(g->n, k);
}

static int64_t watch_spec(mvcc_watch_stream *ws, int64_t id, spec *s)
{
    int64_t cur, compact;
    ws->W->src.revs(ws->W->src.arg, &cur, &compact);
    s->from =
            s->start == 0 || s->start > cur ? (s->start > cur + 1 ? s->start : cur + 1) : s->start;
    mvcc_watch_request rq = { .id = id,
                              .key = s->key,
                              .key_len = strlen(s->key),
                              .end = s->end,
                              .end_len = s->end ? strlen(s->end) : 0,
                              .start_rev = s->start,
                              .filters = s->filters };
    int64_t out = -99;
    ASSERT_OK(mvcc_watch(ws, &rq, &out));
    return out;
}

/* Receives everything queued into gots[id] (ids < n). Returns the count. */
static size_t drain(mvcc_watch_stream *ws, got *gots, size_t n)
{
    size_t c = 0;
    mvcc_watch_response *r;
    while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
        ASSERT_TRUE(r->watch_id >= 0 && (size_t)r->watch_id < n);
        got_add(&gots[r->watch_id], r);
        mvcc_watch_response_free(r);
        c++;
    }
    return c;
}

/* Runs sync passes and receives until the stream is caught up (no thread). */
static void settle(model *m, mvcc_watch_stream *ws, got *gots, size_t n)
{
    for (int i = 0; i < 100000; i++) {
        drain(ws, gots, n);
        size_t moved = mvcc__watchable_sync(m->W);
        size_t d = drain(ws, gots, n);
        mvcc_watch_stream_stats st;
        mvcc_watch_stream_stats_get(ws, &st);
        if (moved == 0 && d == 0 && st.unsynced == 0 && st.victims == 0)
            return;
    }
    ASSERT_TRUE(!"settle did not converge");
}

static void check_groups(mvcc__watchable *W)
{
    char why[200];
    int rc = mvcc__watchable_check(W, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "watchable check: %s\n", why);
    ASSERT_EQ_INT(rc, 0);
}

static const mvcc__watchable_options manual = { .no_thread = true };

/* ---- tests --------------------------------------------------------------- */

typedef struct hits {
    mvcc__watcher *w[1024];
    size_t n;
} hits;

static void hit(void *arg, mvcc__watcher *w)
{
    hits *h = arg;
    h->w[h->n++] = w;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (mvcc__watcher *const *)a;
    uintptr_t y = (uintptr_t) * (mvcc__watcher *const *)b;
    return x < y ? -1 : x > y;
}

/* Groups: random single-key and range watchers against brute force. */
static void test_group_model(void)
{
    strata_rng r;
    strata_rng_seed(&r, harness_seed());
    enum { N = 600 };
    static mvcc__watcher ws[N];
    static char keys[N][4], ends[N][4];
    static bool in[N];
    mvcc__wgroup g;
    mvcc__wgroup_init(&g);
    for (int step = 0; step < 20000; step++) {
        size_t i = strata_rng_below(&r, N);
        if (in[i]) {
            mvcc__wgroup_remove(&g, &ws[i]);
            in[i] = false;
        } else {
            memset(&ws[i], 0, sizeof ws[i]);
            keys[i][0] = (char)('a' + strata_rng_below(&r, 4));
            keys[i][1] = (char)('a' + strata_rng_below(&r, 4));
            keys[i][2] = '\0';
            ws[i].key = (uint8_t *)keys[i];
            ws[i].key_len = 1 + strata_rng_below(&r, 2);
            unsigned kind = (unsigned)strata_rng_below(&r, 3);
            if (kind > 0) {
                ws[i].is_range = true;
                ws[i].end_inf = kind == 2;
                memcpy(ends[i], keys[i], 3);
                ends[i][0]++; /* above key */
                ws[i].end = (uint8_t *)ends[i];
                ws[i].end_len = ws[i].end_inf ? 0 : ws[i].key_len;
            }
            ASSERT_OK(mvcc__wgroup_add(&g, &ws[i]));
            in[i] = true;
        }
        if (step % 64 == 0) {
            char why[200];
            int rc = mvcc__wgroup_check(&g, why, sizeof why);
            if (rc != 0)
                fprintf(stderr, "group check: %s\n", why);
            ASSERT_EQ_INT(rc, 0);
        }
        char probe[3] = { (char)('a' + strata_rng_below(&r, 5)),
                          (char)('a' + strata_rng_below(&r, 4)), 0 };
        size_t plen = 1 + strata_rng_below(&r, 2);
        hits h = { .n = 0 };
        mvcc__wgroup_match(&g, (uint8_t *)probe, plen, hit, &h);
        mvcc__watcher *want[N];
        size_t nw = 0;
        for (size_t j = 0; j < N; j++) {
            if (!in[j])
                continue;
            mvcc__watcher *w = &ws[j];
            bool m;
            if (!w->is_range)
                m = mvcc__bytes_cmp(w->key, w->key_len, probe, plen) == 0;
            else
                m = mvcc__bytes_cmp(w->key, w->key_len, probe, plen) <= 0 &&
                    (w->end_inf || mvcc__bytes_cmp(probe, plen, w->end, w->end_len) < 0);
            if (m)
                want[nw++] = w;
        }
        ASSERT_EQ_SIZE(h.n, nw);
        qsort(h.w, h.n, sizeof h.w[0], cmp_ptr);
        qsort(want, nw, sizeof want[0], cmp_ptr);
        for (size_t j = 0; j < nw; j++)
            ASSERT_EQ_PTR(h.w[j], want[j]);
        ASSERT_EQ_INT(mvcc__wgroup_contains(&g, (uint8_t *)probe, plen), nw > 0);
    }
    mvcc__wgroup_destroy(&g);
}

static void test_notify_filters_and_sharing(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    static got g[8];
    memset(g, 0, sizeof g);
    spec s[] = {
        { "foo", NULL, 0, 0, 0 },                /* 0: one key */
        { "f", "g", 0, 0, 0 },                   /* 1: prefix f */
        { "a", "", 0, 0, 0 },                    /* 2: from a to infinity */
        { "f", "g", 0, MVCC_WATCH_NOPUT, 0 },    /* 3 */
        { "f", "g", 0, MVCC_WATCH_NODELETE, 0 }, /* 4 */
        { "zzz", NULL, 0, 0, 0 },                /* 5: never written */
        { "foo", NULL, 5, 0, 0 },                /* 6: future start */
    };
    for (int i = 0; i < 7; i++)
        ASSERT_EQ_INT(watch_spec(ws, MVCC_WATCH_AUTO_ID, &s[i]), i);
    model_put(&m, "foo", "1"); /* 2 */
    model_put(&m, "fa", "2");  /* 3 */
    const char *t1[] = { "p foo x", "d fa", "p bar y" };
    model_txn(&m, t1, 3);     /* 4 */
    model_del(&m, "foo");     /* 5 */
    model_put(&m, "zz", "9"); /* 6 */

    /* Fan-out: the first response of watchers 0, 1 and 2 carry one shared event. */
    mvcc_watch_response *r[5];
    for (int i = 0; i < 4; i++) { /* watchers 0, 1, 2 and 4 (3 drops puts) */
        mvcc_watch_response *x;
        ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &x));
        ASSERT_TRUE(x->watch_id >= 0 && x->watch_id < 5 && x->watch_id != 3);
        ASSERT_EQ_INT(x->revision, 2);
        r[x->watch_id] = x;
    }
    got_add(&g[4], r[4]);
    ASSERT_EQ_PTR(r[4]->events[0], r[0]->events[0]);
    mvcc_watch_response_free(r[4]);
    ASSERT_EQ_PTR(r[0]->events[0], r[1]->events[0]);
    ASSERT_EQ_PTR(r[1]->events[0], r[2]->events[0]);
    ASSERT_EQ_INT(r[0]->events[0]->kv.version, 1);
    ASSERT_EQ_MEM(r[0]->events[0]->kv.value, r[0]->events[0]->kv.value_len, "1", 1);
    for (int i = 0; i < 3; i++) {
        got_add(&g[i], r[i]);
        mvcc_watch_response_free(r[i]);
    }
    drain(ws, g, 8);
    for (int i = 0; i < 7; i++)
        expect_history(&m, &s[i], &g[i], m.cur);
    ASSERT_EQ_SIZE(g[3].n, 2); /* DELETE fa, DELETE foo */
    ASSERT_EQ_SIZE(g[5].n, 0);
    ASSERT_EQ_SIZE(g[6].n, 1); /* only the delete at 5 */
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

static bool drop_value_x(void *arg, const mvcc_event *e)
{
    (*(int *)arg)++;
    return e->kv.value_len == 1 && e->kv.value[0] == 'x';
}

static void test_app_filter_and_ids(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    int calls = 0;
    mvcc_watch_request rq = {
        .id = 7, .key = "k", .key_len = 1, .filter = drop_value_x, .filter_arg = &calls
    };
    int64_t id;
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    ASSERT_EQ_INT(id, 7);
    ASSERT_RC(mvcc_watch(ws, &rq, &id), MVCC_EDUPWATCHID);
    rq.id = MVCC_WATCH_AUTO_ID;
    rq.filter = NULL;
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    ASSERT_EQ_INT(id, 0);
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    ASSERT_EQ_INT(id, 1);
    ASSERT_OK(mvcc_watch_cancel(ws, 1));
    ASSERT_RC(mvcc_watch_cancel(ws, 1), MVCC_EWATCHERNOTEXIST);
    ASSERT_RC(mvcc_watch_cancel(ws, 12345), MVCC_EWATCHERNOTEXIST);
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    ASSERT_EQ_INT(id, 2); /* the counter never goes back */
    rq.id = 3;
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    rq.id = MVCC_WATCH_AUTO_ID;
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    ASSERT_EQ_INT(id, 4); /* skips 3, in use */
    rq.id = -5;
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    ASSERT_EQ_INT(id, -5);
    /* empty ranges */
    mvcc_watch_request bad = { .key = "b", .key_len = 1, .end = "a", .end_len = 1 };
    ASSERT_RC(mvcc_watch(ws, &bad, &id), MVCC_EEMPTYWATCHERRANGE);
    bad.end = "b";
    ASSERT_RC(mvcc_watch(ws, &bad, &id), MVCC_EEMPTYWATCHERRANGE);
    ASSERT_RC(mvcc_watch(NULL, &bad, &id), STRATA_EMISUSE);

    model_put(&m, "k", "x");
    model_put(&m, "k", "y");
    mvcc_watch_response *r;
    int seen7 = 0;
    while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
        if (r->watch_id == 7) {
            seen7++;
            ASSERT_EQ_MEM(r->events[0]->kv.value, r->events[0]->kv.value_len, "y", 1);
        }
        mvcc_watch_response_free(r);
    }
    ASSERT_EQ_INT(seen7, 1);
    ASSERT_EQ_INT(calls, 2);
    mvcc_watch_stream_stats st;
    mvcc_watch_stream_stats_get(ws, &st);
    ASSERT_EQ_SIZE(st.watchers, 6); /* 7, 0, 2, 3, 4, -5 */
    ASSERT_EQ_SIZE(st.synced, 6);
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

static void test_catch_up_in_rounds(void)
{
    model m;
    mvcc__watchable_options o = manual;
    o.max_revs = 100;
    model_init(&m, &o);
    char k[16], v[16];
    for (int i = 0; i < 750; i++) {
        snprintf(k, sizeof k, "k%d", i % 7);
        snprintf(v, sizeof v, "v%d", i);
        if (i % 11 == 10)
            model_del(&m, k);
        else
            model_put(&m, k, v);
    }
    const char *t[] = { "p k1 a", "p k2 b", "p k1 c", "d k2", 0 };
    model_txn(&m, t, 4);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    static got g[4];
    memset(g, 0, sizeof g);
    spec s[] = { { "k1", NULL, 1, 0, 0 },
                 { "k", "l", 300, 0, 0 },
                 { "k3", "", 2, MVCC_WATCH_NOPUT, 0 },
                 { "k0", "k2", 600, 0, 0 } };
    for (int i = 0; i < 4; i++)
        watch_spec(ws, i, &s[i]);
    /* Round by round: every response spans at most 100 revisions. */
    mvcc_watch_response *r;
    for (int round = 0; round < 50; round++) {
        mvcc__watchable_sync(m.W);
        while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
            if (r->kind == MVCC_WATCH_EVENTS) {
                int64_t lo = r->events[0]->kv.mod_revision;
                int64_t hi = r->events[r->n_events - 1]->kv.mod_revision;
                ASSERT_LT_INT(hi - lo, 100);
            }
            got_add(&g[r->watch_id], r);
            mvcc_watch_response_free(r);
        }
    }
    mvcc_watch_stream_stats st;
    mvcc_watch_stream_stats_get(ws, &st);
    ASSERT_EQ_SIZE(st.synced, 4);
    model_put(&m, "k1", "after");
    model_del(&m, "k3");
    drain(ws, g, 4);
    for (int i = 0; i < 4; i++)
        expect_history(&m, &s[i], &g[i], m.cur);
    check_groups(m.W);
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

static void test_compaction(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    static got g[8];
    memset(g, 0, sizeof g);
    /* Never compacted: -1 behaves as "from now", -2 is compacted at -1. */
    model_put(&m, "a", "1"); /* 2 */
    spec sm1 = { "a", NULL, -1, 0, 0 }, sm2 = { "a", NULL, -2, 0, 0 };
    watch_spec(ws, 0, &sm1);
    watch_spec(ws, 1, &sm2);
    settle(&m, ws, g, 8);
    ASSERT_EQ_INT(g[0].compacted, 0);
    ASSERT_EQ_INT(g[1].compacted, 1);
    ASSERT_EQ_INT(g[1].compact_rev, -1);
    model_put(&m, "a", "2"); /* 3 */
    drain(ws, g, 8);
    ASSERT_EQ_SIZE(g[0].n, 1);
    ASSERT_EQ_INT(g[0].mod[0], 3);
    ASSERT_EQ_SIZE(g[1].n, 0);

    const char *t[] = { "p x a", "p x b", "p j c" };
    model_txn(&m, t, 3); /* 4 */
    model_del(&m, "j");  /* 5 */
    model_compact(&m, 4);
    spec below = { "x", NULL, 3, 0, 0 }, at = { "", "", 4, 0, 0 }, above = { "a", "", 5, 0, 0 };
    watch_spec(ws, 2, &below);
    watch_spec(ws, 3, &at);
    watch_spec(ws, 4, &above);
    settle(&m, ws, g, 8);
    ASSERT_EQ_INT(g[2].compacted, 1);
    ASSERT_EQ_INT(g[2].compact_rev, 4);
    ASSERT_EQ_SIZE(g[2].n, 0);
    /* At the compacted revision: only what the compaction kept (PUT x b, PUT j), then DELETE j. */
    ASSERT_EQ_SIZE(g[3].n, 3);
    ASSERT_EQ_STR(g[3].key[0], "x");
    ASSERT_EQ_STR(g[3].key[1], "j");
    ASSERT_TRUE(g[3].del[2]);
    ASSERT_EQ_SIZE(g[4].n, 1);
    /* A compacted watcher gets nothing more and keeps its id. */
    model_put(&m, "x", "later");
    settle(&m, ws, g, 8);
    ASSERT_EQ_INT(g[2].compacted, 1);
    ASSERT_EQ_SIZE(g[2].n, 0);
    int64_t id;
    mvcc_watch_request rq = { .id = 2, .key = "q", .key_len = 1 };
    ASSERT_RC(mvcc_watch(ws, &rq, &id), MVCC_EDUPWATCHID);
    mvcc_watch_stream_stats st;
    mvcc_watch_stream_stats_get(ws, &st);
    ASSERT_EQ_SIZE(st.compacted, 2);
    check_groups(m.W);
    /* The check sees a miscount (or it proves nothing). */
    char why[160];
    ws->ncompacted++;
    ASSERT_EQ_INT(mvcc__watchable_check(m.W, why, sizeof why), -1);
    ws->ncompacted--;
    ws->behind++;
    ASSERT_EQ_INT(mvcc__watchable_check(m.W, why, sizeof why), -1);
    ws->behind--;
    check_groups(m.W);
    ASSERT_OK(mvcc_watch_cancel(ws, 2));
    ASSERT_OK(mvcc_watch(ws, &rq, &id));
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

/* A small queue: watchers become victims, then deliver everything once, in order. */
static void test_victims(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream_options so;
    mvcc_watch_stream_options_init(&so);
    so.queue_len = 4;
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, &so, &ws));
    enum { NW = 40 };
    static got g[NW];
    memset(g, 0, sizeof g);
    static spec s[NW];
    static char keys[NW][8];
    for (int i = 0; i < NW; i++) {
        snprintf(keys[i], sizeof keys[i], "k%02d", i % 10);
        s[i] = (spec){ i < 30 ? keys[i] : "k", i < 30 ? NULL : "l", 0, 0, 0 };
        watch_spec(ws, i, &s[i]);
    }
    char k[8];
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "k%02d", i % 13);
        model_put(&m, k, "v");
        if (i % 7 == 0) {
            mvcc_watch_response *r;
            if (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
                got_add(&g[r->watch_id], r);
                mvcc_watch_response_free(r);
            }
            mvcc__watchable_sync(m.W);
        }
        if (i % 50 == 0)
            check_groups(m.W);
    }
    mvcc_watch_stream_stats st;
    mvcc_watch_stream_stats_get(ws, &st);
    ASSERT_TRUE(st.victims + st.unsynced > 0); /* the queue was too small */
    settle(&m, ws, g, NW);
    for (int i = 0; i < NW; i++)
        expect_history(&m, &s[i], &g[i], m.cur);
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

/* A stalled consumer: memory stays within the budget; later it gets everything. */
static void test_stalled_budget(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream_options so;
    mvcc_watch_stream_options_init(&so);
    so.max_bytes = 16 << 10;
    mvcc_watch_stream *stalled, *reader;
    ASSERT_OK(mvcc__watch_stream_open(m.W, &so, &stalled));
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &reader));
    enum { NW = 50 };
    static got gs[NW], gr[NW];
    memset(gs, 0, sizeof gs);
    memset(gr, 0, sizeof gr);
    static spec s[NW];
    static char keys[NW][8];
    for (int i = 0; i < NW; i++) {
        snprintf(keys[i], sizeof keys[i], "k%02d", i % 25);
        s[i] = (spec){ i < 45 ? keys[i] : "k", i < 45 ? NULL : "l", 0, 0, 0 };
        watch_spec(stalled, i, &s[i]);
        watch_spec(reader, i, &s[i]);
    }
    char k[8], v[64];
    memset(v, 'v', 60);
    v[60] = '\0';
    size_t max_peak = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(k, sizeof k, "k%02d", i % 25);
        model_put(&m, k, v);
        drain(reader, gr, NW);
        if (i % 10 == 0)
            mvcc__watchable_sync(m.W);
        mvcc_watch_stream_stats st;
        mvcc_watch_stream_stats_get(stalled, &st);
        if (st.peak_bytes > max_peak)
            max_peak = st.peak_bytes;
        ASSERT_LE_U64(st.queued_bytes + st.victim_bytes, so.max_bytes);
        if (i % 100 == 0)
            check_groups(m.W);
    }
    settle(&m, reader, gr, NW);
    mvcc_watch_stream_stats st;
    mvcc_watch_stream_stats_get(stalled, &st);
    printf("stalled stream: peak %zu bytes of %zu, %llu batches released, %zu victims, "
           "%zu unsynced\n",
           st.peak_bytes, st.max_bytes, (unsigned long long)st.dropped_batches, st.victims,
           st.unsynced);
    ASSERT_LE_U64(st.peak_bytes, so.max_bytes);
    ASSERT_TRUE(st.dropped_batches > 0);
    ASSERT_TRUE(st.synced < NW);
    /* The reader never waited for the stalled stream. */
    for (int i = 0; i < NW; i++)
        expect_history(&m, &s[i], &gr[i], m.cur);
    /* The stalled consumer reads at last: every event once, in order. */
    settle(&m, stalled, gs, NW);
    for (int i = 0; i < NW; i++)
        expect_history(&m, &s[i], &gs[i], m.cur);
    check_groups(m.W);
    mvcc_watch_stream_close(stalled);
    mvcc_watch_stream_close(reader);
    model_free(&m);
}

static void test_progress(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    for (int i = 0; i < 20; i++)
        model_put(&m, "p", "v");
    static got g[2];
    memset(g, 0, sizeof g);
    spec fast = { "p", NULL, 0, 0, 0 }, slow = { "p", NULL, 2, 0, 0 };
    watch_spec(ws, 0, &fast);
    watch_spec(ws, 1, &slow);
    ASSERT_OK(mvcc_watch_request_progress(ws, 0));
    ASSERT_OK(mvcc_watch_request_progress(ws, 1));
    ASSERT_RC(mvcc_watch_request_progress(ws, 9), MVCC_EWATCHERNOTEXIST);
    /* The synced watcher answers at once, while the other is still behind. */
    mvcc_watch_response *r;
    ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &r));
    ASSERT_EQ_INT(r->watch_id, 0);
    ASSERT_EQ_INT(r->kind, MVCC_WATCH_PROGRESS);
    ASSERT_EQ_INT(r->revision, m.cur);
    mvcc_watch_response_free(r);
    ASSERT_RC(mvcc_watch_stream_recv(ws, 0, &r), -EAGAIN);
    /* The slow one answers after its events. */
    mvcc__watchable_sync(m.W);
    ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &r));
    ASSERT_EQ_INT(r->watch_id, 1);
    ASSERT_EQ_INT(r->kind, MVCC_WATCH_EVENTS);
    got_add(&g[1], r);
    mvcc_watch_response_free(r);
    ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &r));
    ASSERT_EQ_INT(r->kind, MVCC_WATCH_PROGRESS);
    got_add(&g[1], r); /* asserts progress >= last event revision */
    ASSERT_EQ_INT(r->revision, m.cur);
    mvcc_watch_response_free(r);
    expect_history(&m, &slow, &g[1], m.cur);
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

static void test_eventfd(void)
{
    model m;
    model_init(&m, &manual);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    spec s = { "e", NULL, 0, 0, 0 };
    watch_spec(ws, 0, &s);
    struct pollfd p = { .fd = mvcc_watch_stream_fd(ws), .events = POLLIN };
    ASSERT_EQ_INT(poll(&p, 1, 0), 0);
    model_put(&m, "e", "1");
    model_put(&m, "e", "2");
    ASSERT_EQ_INT(poll(&p, 1, 0), 1);
    mvcc_watch_response *r;
    ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &r));
    mvcc_watch_response_free(r);
    ASSERT_EQ_INT(poll(&p, 1, 0), 1);
    ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &r));
    mvcc_watch_response_free(r);
    ASSERT_EQ_INT(poll(&p, 1, 0), 0);
    ASSERT_RC(mvcc_watch_stream_recv(ws, 0, &r), -EAGAIN);
    ASSERT_NULL(r);
    /* Asked for while a response is queued: readable at once. */
    mvcc_watch_stream *ws2;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws2));
    watch_spec(ws2, 0, &s);
    model_put(&m, "e", "3");
    struct pollfd p2 = { .fd = mvcc_watch_stream_fd(ws2), .events = POLLIN };
    ASSERT_GE_INT(p2.fd, 0);
    ASSERT_EQ_INT(mvcc_watch_stream_fd(ws2), p2.fd);
    ASSERT_EQ_INT(poll(&p2, 1, 0), 1);
    ASSERT_OK(mvcc_watch_stream_recv(ws2, 0, &r));
    mvcc_watch_response_free(r);
    ASSERT_EQ_INT(poll(&p2, 1, 0), 0);
    mvcc_watch_stream_close(ws2);
    ASSERT_OK(mvcc_watch_stream_recv(ws, 0, &r)); /* the first stream got it too */
    mvcc_watch_response_free(r);
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

/* With the sync thread: wait() returns caught up without any sleep in the test. */
typedef struct writer_arg {
    model *m;
    int n;
} writer_arg;

static void *writer(void *arg)
{
    writer_arg *a = arg;
    char k[8];
    for (int i = 0; i < a->n; i++) {
        snprintf(k, sizeof k, "t%d", i % 5);
        if (i % 9 == 8)
            model_del(a->m, k);
        else
            model_put(a->m, k, "v");
    }
    return NULL;
}

static void test_thread_wait(void)
{
    model m;
    mvcc__watchable_options o = { .max_revs = 50 };
    model_init(&m, &o);
    for (int i = 0; i < 500; i++)
        model_put(&m, "t1", "old");
    mvcc_watch_stream_options so;
    mvcc_watch_stream_options_init(&so);
    so.queue_len = 8;
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, &so, &ws));
    static got g[6];
    memset(g, 0, sizeof g);
    spec s[6] = { { "t1", NULL, 1, 0, 0 },   { "t", "u", 100, 0, 0 },
                  { "t2", NULL, 0, 0, 0 },   { "t", "", 0, MVCC_WATCH_NODELETE, 0 },
                  { "t3", NULL, 450, 0, 0 }, { "t4", NULL, 0, 0, 0 } };
    for (int i = 0; i < 6; i++)
        watch_spec(ws, i, &s[i]);
    pthread_t th;
    writer_arg wa = { &m, 3000 };
    ASSERT_EQ_INT(pthread_create(&th, NULL, writer, &wa), 0);
    /* Consume while the writer runs. */
    mvcc_watch_response *r;
    for (int i = 0; i < 200; i++) {
        if (mvcc_watch_stream_recv(ws, 1000, &r) == 0) {
            got_add(&g[r->watch_id], r);
            mvcc_watch_response_free(r);
        }
    }
    pthread_join(th, NULL);
    for (;;) {
        bool caught_up = false;
        ASSERT_OK(mvcc_watch_stream_wait(ws, 60000, &caught_up));
        drain(ws, g, 6);
        if (caught_up)
            break;
    }
    drain(ws, g, 6);
    check_groups(m.W);
    for (int i = 0; i < 6; i++)
        expect_history(&m, &s[i], &g[i], m.cur);
    mvcc_watch_stream_close(ws);
    model_free(&m);
}

/* Closing the store first: recv drains, then reports closed; close after is safe. */
static void test_store_closed_first(void)
{
    model m;
    model_init(&m, NULL);
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc__watch_stream_open(m.W, NULL, &ws));
    spec s = { "c", NULL, 0, 0, 0 };
    watch_spec(ws, 0, &s);
    model_put(&m, "c", "1");
    model_free(&m);
    mvcc_watch_response *r;
    ASSERT_OK(mvcc_watch_stream_recv(ws, -1, &r));
    mvcc_watch_response_free(r);
    ASSERT_RC(mvcc_watch_stream_recv(ws, -1, &r), MVCC_ECLOSED);
    int64_t id;
    mvcc_watch_request rq = { .key = "d", .key_len = 1 };
    ASSERT_RC(mvcc_watch(ws, &rq, &id), MVCC_ECLOSED);
    ASSERT_OK(mvcc_watch_cancel(ws, 0));
    mvcc_watch_stream_close(ws);
}

int main(void)
{
    HARNESS_BEGIN(15);
    RUN(test_group_model);
    RUN(test_notify_filters_and_sharing);
    RUN(test_app_filter_and_ids);
    RUN(test_catch_up_in_rounds);
    RUN(test_compaction);
    RUN(test_victims);
    RUN(test_stalled_budget);
    RUN(test_progress);
    RUN(test_eventfd);
    RUN(test_thread_wait);
    RUN(test_store_closed_first);
    return 0;
}
