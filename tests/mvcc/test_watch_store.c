/*
 * test_watch_store.c: watches on a real store (mvcc/watch_store.c): the
 * catch-up read of the `key` bucket, ORACLE.md's rule C at the compacted
 * revision, negative and future start revisions, reading the store at an
 * event's revision the moment it arrives, and a store closed under an
 * open stream.
 */
#include "mvcc_test.h"

#include <pthread.h>

typedef struct ev {
    int64_t id, mod, create, ver, sub;
    bool del, compacted;
    int64_t compact;
    char key[16], val[16];
} ev;

typedef struct evlog {
    ev e[4096];
    size_t n;
} evlog;

static void log_resp(evlog *l, const mvcc_watch_response *r)
{
    if (r->kind == MVCC_WATCH_PROGRESS)
        return;
    if (r->kind == MVCC_WATCH_COMPACTED) {
        l->e[l->n++] = (ev){ .id = r->watch_id, .compacted = true, .compact = r->compact_revision };
        return;
    }
    for (size_t i = 0; i < r->n_events; i++) {
        const mvcc_event *e = r->events[i];
        ev *x = &l->e[l->n++];
        memset(x, 0, sizeof *x);
        x->id = r->watch_id;
        x->mod = e->kv.mod_revision;
        x->create = e->kv.create_revision;
        x->ver = e->kv.version;
        x->sub = e->sub;
        x->del = e->type == MVCC_EVENT_DELETE;
        memcpy(x->key, e->kv.key, e->kv.key_len < 15 ? e->kv.key_len : 15);
        if (e->kv.value_len)
            memcpy(x->val, e->kv.value, e->kv.value_len < 15 ? e->kv.value_len : 15);
    }
}

/* Stable sort by watch id: each watcher's events stay in arrival order (rule W's printing). */
static void group_by_id(evlog *l)
{
    for (size_t i = 1; i < l->n; i++) {
        ev x = l->e[i];
        size_t j = i;
        while (j > 0 && l->e[j - 1].id > x.id) {
            l->e[j] = l->e[j - 1];
            j--;
        }
        l->e[j] = x;
    }
}

/*
 * Receives until every watcher of ws is caught up (ORACLE.md rule W,
 * without timers), then groups the log by watcher.
 */
static void drain(mvcc_watch_stream *ws, evlog *l)
{
    for (;;) {
        bool caught_up = false;
        ASSERT_OK(mvcc_watch_stream_wait(ws, 60000, &caught_up));
        mvcc_watch_response *r;
        while (mvcc_watch_stream_recv(ws, 0, &r) == 0) {
            log_resp(l, r);
            mvcc_watch_response_free(r);
        }
        if (caught_up)
            break;
    }
    group_by_id(l);
}

static int64_t watch(mvcc_watch_stream *ws, int64_t id, const char *key, const char *end,
                     size_t end_len, int64_t start)
{
    mvcc_watch_request rq = { .id = id,
                              .key = key,
                              .key_len = strlen(key),
                              .end = end,
                              .end_len = end_len,
                              .start_rev = start };
    if (key[0] == '\0')
        rq.key_len = 1; /* "" prefix: the key "\0" */
    int64_t out;
    ASSERT_OK(mvcc_watch(ws, &rq, &out));
    return out;
}

static void expect(const ev *e, int64_t id, const char *type, const char *key, int64_t mod,
                   int64_t ver, const char *val)
{
    ASSERT_EQ_INT(e->id, id);
    ASSERT_FALSE(e->compacted);
    ASSERT_EQ_INT(e->del, !strcmp(type, "DELETE"));
    ASSERT_EQ_STR(e->key, key);
    ASSERT_EQ_INT(e->mod, mod);
    ASSERT_EQ_INT(e->ver, ver);
    ASSERT_EQ_STR(e->val, val);
}

/* ORACLE.md §4.2's example: at the compacted revision only what the compaction kept. */
static void test_rule_c(void)
{
    mt_store m;
    mt_open(&m, "rulec.db");
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc_watch_stream_open(m.s, NULL, &ws));
    mvcc_txn *t;
    ASSERT_OK(mvcc_txn_write_begin(m.s, &t));
    ASSERT_OK(mvcc_txn_put(t, "k", 1, "a", 1, 0, NULL));
    ASSERT_OK(mvcc_txn_put(t, "k", 1, "b", 1, 0, NULL));
    ASSERT_OK(mvcc_txn_put(t, "j", 1, "c", 1, 0, NULL));
    ASSERT_OK(mvcc_txn_end(t, NULL)); /* 2 */
    int64_t n;
    ASSERT_OK(mvcc_store_delete_range(m.s, "j", 1, NULL, 0, &n, NULL)); /* 3 */
    static evlog l;
    l.n = 0;
    /* Before the compaction: all three puts of revision 2, then the delete. */
    watch(ws, 1, "", "", 0, 2);
    drain(ws, &l);
    ASSERT_EQ_SIZE(l.n, 4);
    expect(&l.e[0], 1, "PUT", "k", 2, 1, "a");
    ASSERT_EQ_INT(l.e[0].sub, 0);
    expect(&l.e[1], 1, "PUT", "k", 2, 2, "b");
    ASSERT_EQ_INT(l.e[1].sub, 1);
    expect(&l.e[2], 1, "PUT", "j", 2, 1, "c");
    expect(&l.e[3], 1, "DELETE", "j", 3, 0, "");
    ASSERT_OK(mvcc_store_compact(m.s, 2));
    ASSERT_OK(mvcc_store_compact_wait(m.s));
    ASSERT_OK(mvcc_store_commit(m.s));
    l.n = 0;
    watch(ws, 2, "", "", 0, 2);
    watch(ws, 3, "k", NULL, 0, 1);
    drain(ws, &l);
    ASSERT_EQ_SIZE(l.n, 4);
    expect(&l.e[0], 2, "PUT", "k", 2, 2, "b");
    expect(&l.e[1], 2, "PUT", "j", 2, 1, "c");
    expect(&l.e[2], 2, "DELETE", "j", 3, 0, "");
    ASSERT_TRUE(l.e[3].compacted);
    ASSERT_EQ_INT(l.e[3].id, 3);
    ASSERT_EQ_INT(l.e[3].compact, 2);
    /* The compacted watcher keeps its id; the others follow new writes. */
    mvcc_watch_request rq = { .id = 3, .key = "z", .key_len = 1 };
    int64_t id;
    ASSERT_RC(mvcc_watch(ws, &rq, &id), MVCC_EDUPWATCHID);
    l.n = 0;
    mt_put(m.s, "k", "c"); /* 4 */
    drain(ws, &l);
    ASSERT_EQ_SIZE(l.n, 2);
    expect(&l.e[0], 1, "PUT", "k", 4, 3, "c");
    expect(&l.e[1], 2, "PUT", "k", 4, 3, "c");
    mvcc_watch_stream_close(ws);
    mt_close(&m);
}

static void test_negative_and_future(void)
{
    mt_store m;
    mt_open(&m, "neg.db");
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc_watch_stream_open(m.s, NULL, &ws));
    mt_put(m.s, "a", "1"); /* 2 */
    static evlog l;
    l.n = 0;
    watch(ws, 0, "a", NULL, 0, -1); /* never compacted: as "from now" */
    watch(ws, 0, "a", NULL, 0, -2); /* compacted at -1 */
    watch(ws, 0, "a", NULL, 0, 4);  /* future */
    drain(ws, &l);
    ASSERT_EQ_SIZE(l.n, 1);
    ASSERT_TRUE(l.e[0].compacted);
    ASSERT_EQ_INT(l.e[0].id, 1);
    ASSERT_EQ_INT(l.e[0].compact, -1);
    l.n = 0;
    mt_put(m.s, "a", "2"); /* 3 */
    mt_put(m.s, "a", "3"); /* 4 */
    drain(ws, &l);
    ASSERT_EQ_SIZE(l.n, 3);
    expect(&l.e[0], 0, "PUT", "a", 3, 2, "2");
    expect(&l.e[1], 0, "PUT", "a", 4, 3, "3");
    expect(&l.e[2], 2, "PUT", "a", 4, 3, "3");
    /* -1 after `compact 0`: compacted at 0. */
    ASSERT_OK(mvcc_store_compact(m.s, 0));
    l.n = 0;
    watch(ws, 9, "a", NULL, 0, -1);
    drain(ws, &l);
    ASSERT_EQ_SIZE(l.n, 1);
    ASSERT_TRUE(l.e[0].compacted);
    ASSERT_EQ_INT(l.e[0].compact, 0);
    mvcc_watch_stream_close(ws);
    mt_close(&m);
}

/* A consumer reads the store at each event's revision the moment it gets it. */
typedef struct reader_arg {
    mvcc_store *s;
    mvcc_watch_stream *ws;
    int64_t last;
    size_t checked;
} reader_arg;

static void *reader(void *arg)
{
    reader_arg *a = arg;
    mvcc_watch_response *r;
    while (a->last < 1001) {
        ASSERT_OK(mvcc_watch_stream_recv(a->ws, -1, &r));
        for (size_t i = 0; i < r->n_events; i++) {
            const mvcc_event *e = r->events[i];
            mvcc_range_options o = { .rev = e->kv.mod_revision };
            mvcc_range_result res;
            mvcc_range_result_init(&res);
            ASSERT_OK(mvcc_store_range(a->s, e->kv.key, e->kv.key_len, NULL, 0, &o, &res));
            ASSERT_EQ_SIZE(res.n, 1);
            ASSERT_EQ_INT(res.kvs[0].mod_revision, e->kv.mod_revision);
            ASSERT_EQ_MEM(res.kvs[0].value, res.kvs[0].value_len, e->kv.value, e->kv.value_len);
            mvcc_range_result_release(&res);
            a->last = e->kv.mod_revision;
            a->checked++;
        }
        mvcc_watch_response_free(r);
    }
    return NULL;
}

static void test_read_at_event_revision(void)
{
    mt_store m;
    mt_open(&m, "readat.db");
    mvcc_watch_stream *ws;
    ASSERT_OK(mvcc_watch_stream_open(m.s, NULL, &ws));
    watch(ws, 0, "r", "s", 1, 0);
    reader_arg a = { m.s, ws, 0, 0 };
    pthread_t th;
    ASSERT_EQ_INT(pthread_create(&th, NULL, reader, &a), 0);
    char k[16], v[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "r%d", i % 17);
        snprintf(v, sizeof v, "v%d", i);
        mt_put(m.s, k, v);
    }
    pthread_join(th, NULL);
    ASSERT_EQ_SIZE(a.checked, 1000);
    mvcc_watch_stream_close(ws);
    mt_close(&m);
}

/* Streams open across the store's close: recv drains, then says closed. */
static void test_store_closes_first(void)
{
    mt_store m;
    mt_open(&m, "close.db");
    mvcc_watch_stream *ws, *ws2;
    ASSERT_OK(mvcc_watch_stream_open(m.s, NULL, &ws));
    ASSERT_OK(mvcc_watch_stream_open(m.s, NULL, &ws2));
    watch(ws, 0, "c", NULL, 0, 0);
    watch(ws2, 0, "c", NULL, 0, 1); /* behind: the sync thread may or may not catch it up */
    mt_put(m.s, "c", "1");
    mt_close(&m);
    mvcc_watch_response *r;
    ASSERT_OK(mvcc_watch_stream_recv(ws, -1, &r));
    ASSERT_EQ_INT(r->events[0]->kv.mod_revision, 2);
    mvcc_watch_response_free(r);
    ASSERT_RC(mvcc_watch_stream_recv(ws, -1, &r), MVCC_ECLOSED);
    bool caught_up;
    int rc = mvcc_watch_stream_wait(ws2, -1, &caught_up);
    ASSERT_TRUE(rc == 0 || rc == MVCC_ECLOSED);
    mvcc_watch_request rq = { .key = "d", .key_len = 1 };
    int64_t id;
    ASSERT_RC(mvcc_watch(ws, &rq, &id), MVCC_ECLOSED);
    mvcc_watch_stream_close(ws);
    mvcc_watch_stream_close(ws2);
}

int main(void)
{
    HARNESS_BEGIN(15);
    RUN(test_rule_c);
    RUN(test_negative_and_future);
    RUN(test_read_at_event_revision);
    RUN(test_store_closes_first);
    return 0;
}
