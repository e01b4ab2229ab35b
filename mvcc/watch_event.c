/*
 * watch_event.c: shared events and watch responses.
 *
 * An event is built once per change (or per history entry) that some
 * watcher wants, in one allocation (header, key, value), and every
 * response that carries it holds a reference: fan-out to a thousand
 * watchers copies pointers, never keys and values.
 *
 * Rules:
 *   1. refs counts the responses (and the one builder) holding the event;
 *      it is changed with atomic operations because responses are freed by
 *      consumers on their own threads.
 *   2. An event never changes after mvcc__event_new returns.
 */
#include <string.h>

#include "watch_int.h"

mvcc__event *mvcc__event_new(mvcc_event_type type, int64_t sub, const mvcc__kv *kv, int64_t mod_rev)
{
    bool deleted = type == MVCC_EVENT_DELETE;
    size_t klen = kv->key_len, vlen = deleted ? 0 : kv->value_len;
    size_t total = sizeof(mvcc__event) + klen + vlen;
    if (klen > UINT32_MAX || vlen > UINT32_MAX || total > UINT32_MAX)
        return NULL;
    mvcc__event *e = strata_malloc(total);
    if (e == NULL)
        return NULL;
    uint8_t *p = (uint8_t *)(e + 1);
    e->refs = 1;
    e->bytes = (uint32_t)total;
    memset(&e->pub, 0, sizeof e->pub);
    e->pub.type = type;
    e->pub.sub = sub;
    if (klen)
        memcpy(p, kv->key, klen);
    e->pub.kv.key = p;
    e->pub.kv.key_len = klen;
    e->pub.kv.mod_revision = mod_rev;
    if (!deleted) {
        if (vlen)
            memcpy(p + klen, kv->value, vlen);
        e->pub.kv.value = vlen ? p + klen : NULL;
        e->pub.kv.value_len = vlen;
        e->pub.kv.create_revision = kv->create_revision;
        e->pub.kv.version = kv->version;
        e->pub.kv.lease = kv->lease;
    }
    return e;
}

void mvcc__event_ref(mvcc__event *e)
{
    __atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
}

void mvcc__event_unref(mvcc__event *e)
{
    if (e != NULL && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
        strata_free(e);
}

mvcc__wresp *mvcc__wresp_new(int64_t id, mvcc_watch_response_kind kind, int64_t rev, size_t n)
{
    if (n > (SIZE_MAX - sizeof(mvcc__wresp)) / sizeof(mvcc_event *))
        return NULL;
    mvcc__wresp *r = strata_malloc(sizeof *r + n * sizeof(mvcc_event *));
    if (r == NULL)
        return NULL;
    memset(&r->pub, 0, sizeof r->pub);
    r->pub.watch_id = id;
    r->pub.kind = kind;
    r->pub.revision = rev;
    r->pub.events = r->evs;
    r->bytes = sizeof *r + n * sizeof(mvcc_event *);
    return r;
}

void mvcc__wresp_add(mvcc__wresp *r, mvcc__event *e)
{
    mvcc__event_ref(e);
    r->evs[r->pub.n_events++] = &e->pub;
    r->bytes += e->bytes;
}

void mvcc__wresp_free(mvcc__wresp *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->pub.n_events; i++)
        mvcc__event_unref(mvcc__event_of(r->evs[i]));
    strata_free(r);
}

void mvcc_watch_response_free(mvcc_watch_response *r)
{
    mvcc__wresp_free((mvcc__wresp *)r);
}
