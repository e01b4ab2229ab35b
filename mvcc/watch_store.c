/*
 * watch_store.c: the watchable store on a real mvcc store: its history
 * source (the `key` bucket through a backend read transaction, docs/schema.md
 * §11's catch-up read) and its hooks into the kvstore (mvcc_int.h's watch
 * seam), created with the first watch stream and closed with the store.
 *
 * Rules:
 *   1. The current revision is read under the store's rev_mu, where the
 *      kvstore moves it and publishes the backend buffer together, so a
 *      read transaction begun afterwards sees every entry up to it.
 *   2. One watch state per store: it is the hooks' arg and sits in the
 *      store's watch slot; whoever registers the hooks first wins, a
 *      concurrent loser closes its own and takes the winner's.
 *   3. The store's close hook closes the watch state first thing (joins
 *      the sync thread), so nothing of it touches a store being freed;
 *      open streams stay valid (recv drains, then MVCC_ECLOSED).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "mvcc_int.h"
#include "watch_int.h"

static void src_revs(void *arg, int64_t *cur, int64_t *compact)
{
    mvcc_store *s = arg;
    pthread_mutex_lock(&s->rev_mu); /* rule 1 */
    *cur = __atomic_load_n(&s->current_rev, __ATOMIC_ACQUIRE);
    *compact = __atomic_load_n(&s->compact_rev, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&s->rev_mu);
}

typedef struct read_ctx {
    int (*fn)(void *cbarg, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen);
    void *cbarg;
} read_ctx;

static int visit(void *arg, bolt_val key, bolt_val value)
{
    read_ctx *c = arg;
    return c->fn(c->cbarg, key.data, key.size, value.data, value.size);
}

static int src_read(void *arg, int64_t from, int64_t to,
                    int (*fn)(void *cbarg, const uint8_t *k, size_t klen, const uint8_t *v,
                              size_t vlen),
                    void *cbarg)
{
    mvcc_store *s = arg;
    if (from < 0)
        from = 0;
    if (to < from)
        return 0;
    uint8_t lo[MVCC__REVKEY_TOMB_LEN], hi[MVCC__REVKEY_TOMB_LEN];
    size_t lo_len = mvcc__revkey_encode((idx_rev){ from, 0 }, false, lo);
    size_t hi_len = mvcc__revkey_encode((idx_rev){ to + 1, 0 }, false, hi);
    backend_read_tx *tx;
    int rc = backend_read_tx_begin(s->be, &tx);
    if (rc != 0)
        return rc;
    read_ctx c = { fn, cbarg };
    rc = backend_read_tx_range(tx, (bolt_val){ MVCC__BUCKET_KEY, strlen(MVCC__BUCKET_KEY) },
                               (bolt_val){ lo, lo_len }, (bolt_val){ hi, hi_len }, 0, visit, &c);
    backend_read_tx_end(tx);
    return rc;
}

static void on_write(void *arg, int64_t rev, const mvcc__change *changes, size_t n)
{
    mvcc__watch_notify(arg, rev, changes, n);
}

static void on_compact(void *arg, int64_t rev)
{
    (void)rev;
    mvcc__watchable_kick(arg);
}

static void on_close(void *arg)
{
    mvcc__watchable_close(arg);
}

/*
 * The store's watch state, created on first use (rule 2) and kept in the
 * store's watch slot, which only this file reads or writes, under the
 * store's write lock.
 */
static int watchable_of(mvcc_store *s, mvcc__watchable **out)
{
    mvcc__store_write_lock(s);
    mvcc__watchable *W = *mvcc__store_watch_slot(s);
    mvcc__store_write_unlock(s);
    if (W != NULL) {
        *out = W;
        return 0;
    }
    mvcc__watch_source src = { s, src_revs, src_read };
    int rc = mvcc__watchable_open(&src, NULL, &W);
    if (rc != 0)
        return rc;
    rc = mvcc__store_set_watch_hooks(s, on_write, on_compact, on_close, W);
    if (rc != 0) {
        /* Another thread's state won the race: it fills the slot right
         * after its registration. */
        mvcc__watchable_close(W);
        for (int spin = 0; spin < 100000; spin++) {
            mvcc__store_write_lock(s);
            W = *mvcc__store_watch_slot(s);
            mvcc__store_write_unlock(s);
            if (W != NULL) {
                *out = W;
                return 0;
            }
            sched_yield();
        }
        return rc;
    }
    mvcc__store_write_lock(s);
    *mvcc__store_watch_slot(s) = W;
    mvcc__store_write_unlock(s);
    *out = W;
    return 0;
}

int mvcc_watch_stream_open(mvcc_store *s, const mvcc_watch_stream_options *o,
                           mvcc_watch_stream **out)
{
    if (out == NULL)
        return STRATA_EMISUSE;
    *out = NULL;
    if (s == NULL)
        return STRATA_EMISUSE;
    if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
        return MVCC_ECLOSED;
    mvcc__watchable *W;
    int rc = watchable_of(s, &W);
    if (rc != 0)
        return rc;
    return mvcc__watch_stream_open(W, o, out);
}
