/*
 * read_tx.c: read transactions: a published buffer snapshot plus a bolt
 * read transaction, merged in key order.
 *
 * Rules:
 *   1. Begin takes, under snap_mu, a reference on the current db and a
 *      reference on the published snapshot: O(1) and no copy. The bolt read
 *      transaction is begun after snap_mu is released: bolt's begin takes
 *      the db's lock, which a write begin holds while it releases freed
 *      pages (milliseconds after a large commit), and every put's publish
 *      waits for snap_mu. The pair is still consistent (backend.c rules 2
 *      and 8): the count of commits begun (inflight_seq) is read before the
 *      snapshot is taken and again after bolt's begin. Unchanged, no commit
 *      began in between, so bolt shows the state the snapshot was published
 *      against, or that plus the one commit in flight, which the snapshot
 *      covers (rule 8). Changed, the bolt transaction is ended and begin
 *      tries again; after BEGIN_TRIES tries it begins bolt under snap_mu,
 *      as before, so a reader always gets through.
 *   2. The view never changes: the snapshot is immutable and bolt's read
 *      transaction sees one meta. Writers, commits and defrag never wait
 *      for a reader; a reader on a db that defrag replaced keeps it open
 *      until it ends.
 *   3. Merge: for a key in both, the buffer wins (a put shadows bolt's
 *      value, a tombstone hides the key); otherwise the smaller key comes
 *      first. The limit counts visited pairs, not tombstones.
 *   4. Kept views (be->views): an ended view whose state is still the
 *      current one is kept in a slot instead of being torn down, and
 *      backend_read_tx_reuse hands it to the next reader without a lock or
 *      an allocation (an mvcc point get otherwise pays a calloc, snap_mu
 *      twice, its references and bolt's park and unpark under db->mu).
 *      "Still current" is a generation (views.gen): it moves at every
 *      publish (under snap_mu, so a view's gen, read with its snapshot,
 *      names exactly that snapshot), at close, and when a commit begins
 *      and finishes; it is odd while a commit is in flight. A view records
 *      the gen it was begun at; it is kept and reused only while gen still
 *      equals it and is even, so a reused view is what a new one would be:
 *      no change was published since (a read begun after a write's unlock
 *      sees the unlock's bump and begins afresh), no commit began (bolt's
 *      current meta is the view's). Kept views never hold anything back:
 *      a commit's BEGIN ends them all before its bolt commit frees pages
 *      or its shrink looks at bolt's readers, and none is kept until it
 *      finishes; a publish (a defrag's switch-over among them) and close
 *      end them too, so a replaced db is not held open. The race between
 *      a keeper and a dropper is Dekker's: the keeper stores into the slot
 *      then loads gen, the dropper bumps gen then loads the slot (all
 *      sequentially consistent), so one of them sees the other and ends
 *      the view. Kept views count in nreaders (close's check stays safe
 *      against a reader that takes one as close drops them) but not in
 *      backend_read_tx_open. Only bolt transactions bolt_tx_reusable
 *      accepts (no cursor left open, small arena) are kept.
 */
#include <errno.h>
#include <stdlib.h>

#include "backend_int.h"

struct backend_read_tx {
    backend *be;
    backend__dbref *ref;
    backend__rbuf *rbuf;
    bolt_tx *btx;
    uint64_t gen; /* rule 4: views.gen when its snapshot was taken (odd: never kept) */
    uint64_t tag; /* backend_read_tx_set_tag's word; 0 at begin */
};

/* Rule 4: odd marks a view that is never kept (begun while a commit was in flight). */
#define GEN_NEVER 1

#define BEGIN_TRIES 4

int backend_read_tx_begin(backend *be, backend_read_tx **out)
{
    *out = NULL;
    backend_read_tx *tx = strata_calloc(1, sizeof *tx);
    if (tx == NULL)
        return -ENOMEM;
    tx->be = be;
    int rc;
    /* Rule 1: the snapshot, then bolt outside snap_mu, while no commit begins. */
    for (int tries = 0;; tries++) {
        bool locked_begin = tries == BEGIN_TRIES;
        uint64_t seq = __atomic_load_n(&be->inflight_seq, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&be->snap_mu);
        if (be->closed) {
            pthread_mutex_unlock(&be->snap_mu);
            strata_free(tx);
            return BACKEND_ECLOSED;
        }
        backend__dbref *ref = be->cur;
        ref->refs++;
        backend__rbuf *rbuf = be->rbuf;
        backend__rbuf_ref(rbuf);
        /* Rule 4: publish moves gen under snap_mu, so gen names this snapshot. */
        tx->gen = __atomic_load_n(&be->views.gen, __ATOMIC_SEQ_CST);
        /* Under snap_mu, as closed is set: close then waits for this reader. */
        __atomic_add_fetch(&be->nreaders, 1, __ATOMIC_ACQ_REL);
        if (!locked_begin)
            pthread_mutex_unlock(&be->snap_mu);
        /* Tests hold a reader here, between the snapshot and bolt's begin. */
        rc = locked_begin ? 0 : backend__failpoint(be, "read_tx_begin");
        if (rc == 0)
            rc = bolt_tx_begin(ref->db, 0, &tx->btx);
        if (locked_begin)
            pthread_mutex_unlock(&be->snap_mu);
        bool same = locked_begin || __atomic_load_n(&be->inflight_seq, __ATOMIC_SEQ_CST) == seq;
        if (rc == 0 && same) {
            tx->ref = ref;
            tx->rbuf = rbuf;
            break;
        }
        if (rc == 0)
            bolt_tx_rollback(tx->btx);
        tx->btx = NULL;
        backend__rbuf_unref(rbuf);
        backend__dbref_unref(be, ref);
        __atomic_sub_fetch(&be->nreaders, 1, __ATOMIC_ACQ_REL);
        if (rc != 0) {
            strata_free(tx);
            return rc;
        }
    }
    *out = tx;
    return 0;
}

/* Tear a view down (never under snap_mu: the db reference takes it). */
static void view_free(backend_read_tx *tx)
{
    backend *be = tx->be;
    bolt_tx_rollback(tx->btx);
    backend__rbuf_unref(tx->rbuf);
    backend__dbref_unref(be, tx->ref);
    __atomic_sub_fetch(&be->nreaders, 1, __ATOMIC_ACQ_REL);
    strata_free(tx);
}

static backend_read_tx **slot_of(backend *be, size_t i)
{
    return &be->views.slot[i].tx;
}

/* Rule 4: the view is of the current state and may be kept or reused. */
static bool view_current(const backend_read_tx *tx)
{
    uint64_t gen = __atomic_load_n(&tx->be->views.gen, __ATOMIC_SEQ_CST);
    return (tx->gen & 1) == 0 && tx->gen == gen;
}

/* Rule 4: keep tx in a free slot; false when it is not current or none is free. */
static bool view_keep(backend_read_tx *tx)
{
    backend *be = tx->be;
    uint64_t gen = tx->gen; /* once in the slot, tx may be taken and freed at once */
    if (!view_current(tx) || !bolt_tx_reusable(tx->btx))
        return false;
    for (size_t i = 0; i < BACKEND__VIEW_SLOTS; i++) {
        backend_read_tx *none = NULL;
        if (!__atomic_compare_exchange_n(slot_of(be, i), &none, tx, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_RELAXED))
            continue;
        /* Dekker: a dropper that bumped gen before our store may have missed it. */
        if (__atomic_load_n(&be->views.gen, __ATOMIC_SEQ_CST) != gen) {
            backend_read_tx *back = __atomic_exchange_n(slot_of(be, i), NULL, __ATOMIC_SEQ_CST);
            if (back != NULL)
                view_free(back); /* ours, or another stale one: a later one is only a miss */
        }
        return true;
    }
    return false;
}

void backend__views_stale(backend *be)
{
    __atomic_add_fetch(&be->views.gen, 2, __ATOMIC_SEQ_CST);
}

void backend__views_drop(backend *be)
{
    for (size_t i = 0; i < BACKEND__VIEW_SLOTS; i++) {
        if (__atomic_load_n(slot_of(be, i), __ATOMIC_SEQ_CST) == NULL)
            continue;
        backend_read_tx *tx = __atomic_exchange_n(slot_of(be, i), NULL, __ATOMIC_SEQ_CST);
        if (tx != NULL)
            view_free(tx);
    }
}

void backend__views_commit(backend *be, bool begin)
{
    __atomic_add_fetch(&be->views.gen, 1, __ATOMIC_SEQ_CST);
    if (begin)
        backend__views_drop(be);
}

size_t backend__views_kept(backend *be)
{
    size_t n = 0;
    for (size_t i = 0; i < BACKEND__VIEW_SLOTS; i++)
        n += __atomic_load_n(slot_of(be, i), __ATOMIC_RELAXED) != NULL;
    return n;
}

bool backend_read_tx_reuse(backend *be, backend_read_tx **out, uint64_t *tag)
{
    *out = NULL;
    uint64_t gen = __atomic_load_n(&be->views.gen, __ATOMIC_SEQ_CST);
    if (gen & 1)
        return false;
    for (size_t i = 0; i < BACKEND__VIEW_SLOTS; i++) {
        if (__atomic_load_n(slot_of(be, i), __ATOMIC_RELAXED) == NULL)
            continue;
        backend_read_tx *tx = __atomic_exchange_n(slot_of(be, i), NULL, __ATOMIC_SEQ_CST);
        if (tx == NULL)
            continue;
        if (tx->gen != gen) {
            view_free(tx); /* stale: a dropper has not reached it yet */
            continue;
        }
        if (tag != NULL)
            *tag = tx->tag;
        *out = tx;
        return true;
    }
    return false;
}

bool backend_read_tx_current(const backend_read_tx *tx)
{
    return view_current(tx);
}

void backend_read_tx_set_tag(backend_read_tx *tx, uint64_t tag)
{
    tx->tag = tag;
}

void backend_read_tx_end(backend_read_tx *tx)
{
    if (tx == NULL)
        return;
    if (!view_keep(tx))
        view_free(tx);
}

bolt_tx *backend_read_tx_bolt(backend_read_tx *tx)
{
    return tx->btx;
}

static backend__bytes as_bytes(bolt_val v)
{
    return (backend__bytes){ v.data, v.size };
}

static bolt_val as_val(backend__bytes b)
{
    return (bolt_val){ b.data, b.size };
}

/* Rule 3 for the single key of an end-less range. */
static int read_one(backend_read_tx *tx, bolt_bucket *b, bolt_val bucket, bolt_val key,
                    backend_kv_fn fn, void *arg)
{
    backend__bytes v;
    switch (backend__rbuf_get(tx->rbuf, as_bytes(bucket), as_bytes(key), &v)) {
    case BACKEND__PRESENT:
        return fn(arg, key, as_val(v));
    case BACKEND__DELETED:
        return 0;
    case BACKEND__ABSENT:
        break;
    }
    return b != NULL ? backend__bolt_range(b, key, (bolt_val){ NULL, 0 }, 1, fn, arg) : 0;
}

/*
 * The bucket as this transaction sees it: *b is bolt's, or NULL when only
 * the buffer has it (created since the last commit). BACKEND_EBUCKETNOTFOUND
 * when neither has it; bolt's codes.
 */
static int read_bucket(backend_read_tx *tx, bolt_val bucket, bolt_bucket **b)
{
    *b = NULL;
    int rc = bolt_tx_bucket(tx->btx, bucket, b);
    if (rc == BOLT_NOTFOUND) {
        *b = NULL;
        return backend__rbuf_runs(tx->rbuf, as_bytes(bucket)) == 0 ? BACKEND_EBUCKETNOTFOUND : 0;
    }
    return rc;
}

/* end == NULL: no upper bound (for_each); else end->size > 0. */
static int read_range(backend_read_tx *tx, bolt_val bucket, bolt_val key, const bolt_val *end,
                      uint64_t limit, backend_kv_fn fn, void *arg)
{
    if (key.data == NULL)
        key.data = ""; /* an empty start: no NULL reaches memcmp */
    bolt_bucket *b;
    int rc = read_bucket(tx, bucket, &b);
    if (rc != 0)
        return rc;
    if (end != NULL && end->size == 0)
        return read_one(tx, b, bucket, key, fn, arg);

    backend__rbuf_iter it;
    backend__bytes ubound = end != NULL ? as_bytes(*end) : (backend__bytes){ NULL, 0 };
    rc = backend__rbuf_iter_init(&it, tx->rbuf, as_bytes(bucket), as_bytes(key), ubound);
    if (rc != 0)
        return rc;
    bolt_cursor *c = NULL;
    bolt_val bk = { 0 }, bv = { 0 };
    bool have_b = false;
    if (b != NULL) {
        rc = bolt_cursor_open(b, &c);
        if (rc == 0) {
            rc = bolt_cursor_seek(c, key, &bk, &bv);
            have_b = rc == 0;
            rc = rc == BOLT_NOTFOUND ? 0 : rc;
        }
    }
    backend__bytes uk, uv;
    bool have_u = rc == 0 && backend__rbuf_iter_next(&it, &uk, &uv);
    uint64_t n = 0;
    /* Loop invariant: every pair below min(bk, uk) was visited or hidden; n were visited. */
    while (rc == 0 && (limit == 0 || n < limit)) {
        if (have_b && end != NULL && backend__bytes_cmp(as_bytes(bk), as_bytes(*end)) >= 0)
            have_b = false;
        if (!have_b && !have_u)
            break;
        int c3 = !have_b ? 1 : !have_u ? -1 : backend__bytes_cmp(as_bytes(bk), uk);
        if (c3 < 0) {
            if (bv.data != NULL) { /* nested buckets are skipped */
                rc = fn(arg, bk, bv);
                n++;
            }
        } else if (uv.data != NULL) {
            rc = fn(arg, as_val(uk), as_val(uv));
            n++;
        }
        if (rc != 0)
            break;
        if (c3 <= 0) {
            int r = bolt_cursor_next(c, &bk, &bv);
            have_b = r == 0;
            if (r != 0 && r != BOLT_NOTFOUND)
                rc = r;
        }
        if (c3 >= 0)
            have_u = backend__rbuf_iter_next(&it, &uk, &uv);
    }
    bolt_cursor_close(c);
    backend__rbuf_iter_release(&it);
    return rc;
}

int backend_read_tx_range(backend_read_tx *tx, bolt_val bucket, bolt_val key, bolt_val end,
                          uint64_t limit, backend_kv_fn fn, void *arg)
{
    return read_range(tx, bucket, key, &end, limit, fn, arg);
}

#define GET_MANY_CHUNK 64

int backend_read_tx_get_many(backend_read_tx *tx, bolt_val bucket, const bolt_val *keys, size_t n,
                             bolt_val *values)
{
    if (n > 0 && (keys == NULL || values == NULL))
        return STRATA_EMISUSE;
    bolt_bucket *b;
    int rc = read_bucket(tx, bucket, &b);
    if (rc != 0)
        return rc;
    /* Rule 3 per key: the buffer first; the keys it does not know go to bolt together. */
    for (size_t base = 0; base < n; base += GET_MANY_CHUNK) {
        size_t m = n - base < GET_MANY_CHUNK ? n - base : GET_MANY_CHUNK;
        bolt_val ask[GET_MANY_CHUNK], got[GET_MANY_CHUNK];
        size_t at[GET_MANY_CHUNK], nask = 0;
        for (size_t i = base; i < base + m; i++) {
            backend__bytes v;
            values[i] = (bolt_val){ NULL, 0 };
            switch (backend__rbuf_get(tx->rbuf, as_bytes(bucket), as_bytes(keys[i]), &v)) {
            case BACKEND__PRESENT:
                values[i] = as_val(v);
                break;
            case BACKEND__DELETED:
                break;
            case BACKEND__ABSENT:
                at[nask] = i;
                ask[nask++] = keys[i];
                break;
            }
        }
        if (b == NULL || nask == 0)
            continue;
        rc = bolt_bucket_get_many(b, ask, nask, got);
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < nask; j++)
            values[at[j]] = got[j];
    }
    return 0;
}

int backend_read_tx_for_each(backend_read_tx *tx, bolt_val bucket, backend_kv_fn fn, void *arg)
{
    return read_range(tx, bucket, (bolt_val){ "", 0 }, NULL, 0, fn, arg);
}

int backend__view_range(backend_batch_tx *btx, bolt_val bucket, bolt_val key, const bolt_val *end,
                        uint64_t limit, backend_kv_fn fn, void *arg)
{
    backend *be = btx->be;
    backend__rbuf *v;
    /* be->rbuf is only replaced under batch_mu, which the caller holds. */
    if (backend__wbuf_count(btx->wbuf) > 0) {
        int rc = backend__rbuf_writeback_keep(be->rbuf, btx->wbuf, &v);
        if (rc != 0)
            return rc;
    } else {
        v = be->rbuf;
        backend__rbuf_ref(v);
    }
    backend__rbuf_unref(btx->view);
    btx->view = v;
    backend_read_tx tx = { .be = be, .ref = NULL, .rbuf = v, .btx = be->vtx };
    return read_range(&tx, bucket, key, end, limit, fn, arg);
}
