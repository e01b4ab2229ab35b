/*
 * kvstore.c: the store (etcd 3.4.23 mvcc/kvstore.go): open over a backend,
 * close, the revision getters, the consistent index and its commit hook,
 * the watch seam's registration, and the backend pass-throughs.
 *
 * Rules:
 *   1. current_rev and compact_rev change only with write_mu and rev_mu
 *      both held, and are read atomically anywhere. current_rev never goes
 *      below compact_rev (restore enforces it: etcd issue 17780).
 *   2. Open (not read-only) creates `key` and `meta` and force-commits
 *      before restoring, as etcd's NewStore; a read-only open writes
 *      nothing at all and resumes no compaction.
 *   3. The consistent index is written to meta by a backend commit hook,
 *      only once the application has set one and only when it changed
 *      since it was last written, so it always goes out with (never ahead
 *      of) the commit that holds the writes it covers.
 *   4. Close stops the compaction thread between two batches (its marks
 *      make the next open resume it), commits, removes the hook and only
 *      then frees: no hook or thread can touch a freed store.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "be64.h"
#include "mvcc_int.h"
#include "sync.h"

void mvcc_options_init(mvcc_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

int64_t mvcc__current_rev(const mvcc_store *s)
{
    return __atomic_load_n(&s->current_rev, __ATOMIC_ACQUIRE);
}

int64_t mvcc__compact_rev(const mvcc_store *s)
{
    return __atomic_load_n(&s->compact_rev, __ATOMIC_ACQUIRE);
}

void mvcc__errf(mvcc_store *s, const char *fmt, ...)
{
    if (s->opt.errbuf == NULL || s->opt.errbuf_size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->opt.errbuf, s->opt.errbuf_size, fmt, ap);
    va_end(ap);
}

static bolt_val bstr(const char *s)
{
    return (bolt_val){ s, strlen(s) };
}

typedef struct meta_get {
    bool found;
    uint8_t buf[32];
    size_t len;
} meta_get;

static int meta_get_fn(void *arg, bolt_val key, bolt_val value)
{
    (void)key;
    meta_get *m = arg;
    m->found = true;
    m->len = value.size;
    memcpy(m->buf, value.data, value.size < sizeof m->buf ? value.size : sizeof m->buf);
    return 0;
}

/* Read meta/name through rtx; a missing bucket reads as a missing key. */
static int meta_read(backend_read_tx *rtx, const char *name, meta_get *m)
{
    memset(m, 0, sizeof *m);
    int rc = backend_read_tx_range(rtx, bstr(MVCC__BUCKET_META), bstr(name), (bolt_val){ NULL, 0 },
                                   1, meta_get_fn, m);
    return rc == BACKEND_EBUCKETNOTFOUND ? 0 : rc;
}

int mvcc__meta_rev(mvcc_store *s, backend_read_tx *rtx, const char *name, int64_t *rev, bool *found)
{
    meta_get m;
    int rc = meta_read(rtx, name, &m);
    if (rc != 0)
        return rc;
    *found = m.found;
    if (!m.found)
        return 0;
    /* etcd reads only bytesToRev(value).main; strata insists on the whole form. */
    mvcc__revkey rk;
    if (m.len != MVCC__REVKEY_LEN || mvcc__revkey_decode(m.buf, m.len, &rk) != 0) {
        mvcc__errf(s, "meta/%s: not a 17-byte revision (%zu bytes)", name, m.len);
        return MVCC_EMETA;
    }
    *rev = rk.rev.main;
    return 0;
}

static int read_consistent_index(mvcc_store *s, backend_read_tx *rtx)
{
    meta_get m;
    int rc = meta_read(rtx, MVCC__META_CONSISTENT_INDEX, &m);
    if (rc != 0 || !m.found)
        return rc;
    if (m.len != 8) {
        mvcc__errf(s, "meta/%s: %zu bytes, not 8", MVCC__META_CONSISTENT_INDEX, m.len);
        return MVCC_EMETA;
    }
    uint64_t v = strata__load_be64(m.buf);
    s->consistent_index = v;
    s->ci_saved = v;
    return 0;
}

/* Rule 3: the commit hook. Runs under the batch lock on the committing thread. */
static int ci_hook(void *arg, backend_batch_tx *tx)
{
    mvcc_store *s = arg;
    if (!__atomic_load_n(&s->ci_set, __ATOMIC_ACQUIRE))
        return 0;
    uint64_t v = __atomic_load_n(&s->consistent_index, __ATOMIC_ACQUIRE);
    if (v == s->ci_saved) /* ci_saved: only ever touched under the batch lock */
        return 0;
    uint8_t buf[8];
    strata__store_be64(buf, v);
    int rc = backend_batch_tx_put(tx, bstr(MVCC__BUCKET_META), bstr(MVCC__META_CONSISTENT_INDEX),
                                  (bolt_val){ buf, 8 });
    if (rc == 0)
        s->ci_saved = v;
    return rc;
}

int mvcc_store_set_consistent_index(mvcc_store *s, uint64_t index)
{
    if (s->read_only)
        return MVCC_EREADONLY;
    __atomic_store_n(&s->consistent_index, index, __ATOMIC_RELEASE);
    __atomic_store_n(&s->ci_set, true, __ATOMIC_RELEASE);
    return 0;
}

uint64_t mvcc_store_consistent_index(mvcc_store *s)
{
    return __atomic_load_n(&s->consistent_index, __ATOMIC_ACQUIRE);
}

static void store_free(mvcc_store *s)
{
    mvcc__txn_spare_free(s);
    idx_tree_free(s->index);
    mvcc__hash_release(&s->hash);
    strata_free(s->cmp_queue);
    pthread_mutex_destroy(&s->write_mu);
    pthread_mutex_destroy(&s->rev_mu);
    pthread_mutex_destroy(&s->hash_mu);
    pthread_mutex_destroy(&s->cmp_mu);
    pthread_cond_destroy(&s->cmp_cv);
    pthread_cond_destroy(&s->cmp_done_cv);
    strata_free(s);
}

static int create_buckets(mvcc_store *s)
{
    backend_batch_tx *tx = backend_batch(s->be);
    backend_batch_tx_lock(tx);
    int rc = backend_batch_tx_create_bucket(tx, bstr(MVCC__BUCKET_KEY));
    if (rc == 0)
        rc = backend_batch_tx_create_bucket(tx, bstr(MVCC__BUCKET_META));
    int urc = backend_batch_tx_unlock(tx);
    if (rc == 0)
        rc = urc;
    if (rc == 0)
        rc = backend_force_commit(s->be);
    return rc;
}

int mvcc_store_open(backend *be, const mvcc_options *opt, mvcc_store **out)
{
    *out = NULL;
    if (be == NULL)
        return STRATA_EMISUSE;
    mvcc_store *s = strata_calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    mvcc_options_init(&s->opt);
    if (opt != NULL) {
        size_t n = opt->size == 0 || opt->size > sizeof *opt ? sizeof *opt : opt->size;
        memcpy(&s->opt, opt, n);
        s->opt.size = sizeof s->opt;
    }
    if (s->opt.compaction_batch_limit == 0)
        s->opt.compaction_batch_limit = MVCC__DEFAULT_COMPACT_BATCH;
    if (s->opt.compaction_batch_max_ns == 0)
        s->opt.compaction_batch_max_ns = MVCC__DEFAULT_COMPACT_MAX_NS;
    s->be = be;
    s->lessor = s->opt.lessor;
    s->read_only = s->opt.read_only;
    s->current_rev = 1;
    s->compact_rev = -1;
    pthread_mutex_t *const mus[] = { &s->write_mu, &s->rev_mu, &s->hash_mu, &s->cmp_mu };
    int rc = strata__mutexes_init(mus, 4); /* all or none, -errno */
    if (rc == 0) {
        rc = strata__cond_init(&s->cmp_cv, false);
        if (rc == 0) {
            rc = strata__cond_init(&s->cmp_done_cv, false);
            if (rc != 0)
                pthread_cond_destroy(&s->cmp_cv);
        }
        if (rc != 0)
            for (size_t i = 4; i > 0; i--)
                pthread_mutex_destroy(mus[i - 1]);
    }
    if (rc != 0) {
        strata_free(s);
        return rc;
    }
    mvcc__hash_init(&s->hash);
    bool bound = false;
    rc = idx_tree_new(&s->index);
    if (rc != 0)
        goto fail;
    if (s->lessor != NULL) {
#ifdef MVCC_HAVE_LEASE_GLUE
        rc = mvcc__lease_bind(s);
        if (rc != 0)
            goto fail;
        bound = true;
#else
        rc = MVCC_ENOLESSOR;
        mvcc__errf(s, "a lessor was given but this build has no lease glue");
        goto fail;
#endif
    }
    if (!s->read_only) {
        rc = create_buckets(s); /* rule 2 */
        if (rc != 0) {
            mvcc__errf(s, "creating the key and meta buckets: %s", mvcc_strerror(rc));
            goto fail;
        }
    }
    backend_read_tx *rtx;
    rc = backend_read_tx_begin(be, &rtx);
    if (rc != 0)
        goto fail;
    rc = read_consistent_index(s, rtx);
    backend_read_tx_end(rtx);
    if (rc != 0)
        goto fail;
    rc = mvcc__restore(s);
    if (rc != 0)
        goto fail;
    if (!s->read_only) {
        rc = backend_commit_hook_add(be, ci_hook, s, &s->ci_hook);
        if (rc != 0)
            goto fail;
        rc = mvcc__compaction_start(s);
        if (rc != 0)
            goto fail;
    }
    *out = s;
    return 0;
fail:
    mvcc__compaction_stop(s);
    if (s->ci_hook != NULL)
        (void)backend_commit_hook_remove(be, s->ci_hook);
#ifdef MVCC_HAVE_LEASE_GLUE
    if (bound)
        mvcc__lease_unbind(s);
#endif
    (void)bound;
    store_free(s);
    return rc;
}

int mvcc_store_close(mvcc_store *s)
{
    if (s == NULL)
        return 0;
    __atomic_store_n(&s->closing, true, __ATOMIC_RELEASE);
    mvcc__compaction_stop(s); /* rule 4 */
    if (s->close_hook != NULL)
        s->close_hook(s->hook_arg);
    int rc = 0;
    if (!s->read_only) {
        rc = backend_force_commit(s->be);
        int r = backend_commit_hook_remove(s->be, s->ci_hook);
        if (rc == 0)
            rc = r;
    }
#ifdef MVCC_HAVE_LEASE_GLUE
    if (s->lessor != NULL)
        mvcc__lease_unbind(s);
#endif
    store_free(s);
    return rc;
}

backend *mvcc_store_backend(mvcc_store *s)
{
    return s->be;
}

int64_t mvcc_store_rev(mvcc_store *s)
{
    return mvcc__current_rev(s);
}

int64_t mvcc_store_compact_rev(mvcc_store *s)
{
    return mvcc__compact_rev(s);
}

int64_t mvcc_store_pending_compaction(mvcc_store *s)
{
    pthread_mutex_lock(&s->cmp_mu);
    int64_t r = s->cmp_pending;
    pthread_mutex_unlock(&s->cmp_mu);
    return r;
}

/* ---- the watch seam ---------------------------------------------------------- */

int mvcc__store_set_watch_hooks(mvcc_store *s, mvcc__write_hook_fn on_write,
                                mvcc__compact_hook_fn on_compact, mvcc__close_hook_fn on_close,
                                void *arg)
{
    pthread_mutex_lock(&s->write_mu);
    int rc = 0;
    bool set = s->write_hook != NULL || s->compact_hook != NULL || s->close_hook != NULL;
    if (set && (on_write != NULL || on_compact != NULL || on_close != NULL)) {
        rc = STRATA_EMISUSE;
    } else {
        s->write_hook = on_write;
        s->compact_hook = on_compact;
        s->close_hook = on_close;
        s->hook_arg = arg;
    }
    pthread_mutex_unlock(&s->write_mu);
    return rc;
}

void **mvcc__store_watch_slot(mvcc_store *s)
{
    return &s->watch;
}

void mvcc__store_write_lock(mvcc_store *s)
{
    pthread_mutex_lock(&s->write_mu);
}

void mvcc__store_write_unlock(mvcc_store *s)
{
    pthread_mutex_unlock(&s->write_mu);
}

/* ---- pass-throughs ------------------------------------------------------------- */

int mvcc_store_commit(mvcc_store *s)
{
    if (s->read_only)
        return 0;
    return backend_force_commit(s->be);
}

int mvcc_store_hash(mvcc_store *s, uint32_t *hash, int64_t *rev)
{
    int rc = mvcc_store_commit(s);
    if (rc != 0)
        return rc;
    int64_t cur = mvcc__current_rev(s);
    uint32_t h;
    rc = backend_hash(s->be, NULL, 0, &h);
    if (rc != 0)
        return rc;
    if (hash != NULL)
        *hash = h;
    if (rev != NULL)
        *rev = cur;
    return 0;
}

int mvcc_store_defrag(mvcc_store *s, backend_defrag_stats *st)
{
    if (s->read_only)
        return MVCC_EREADONLY;
    return backend_defrag(s->be, st);
}

int mvcc_store_snapshot(mvcc_store *s, int fd, unsigned flags,
                        int (*progress)(void *arg, uint64_t done, uint64_t total), void *arg,
                        uint64_t *written)
{
    return backend_snapshot(s->be, fd, flags, progress, arg, written);
}
