/*
 * batch_tx.c: the batch transaction (etcd's batchTxBuffered): the lock,
 * the writes, reads through bolt's write transaction, and the write-back
 * on unlock.
 *
 * State machine (one batch transaction per backend):
 *
 *   UNLOCKED --backend_batch_tx_lock--> LOCKED --backend_batch_tx_unlock--> UNLOCKED
 *                                        |  ^ put / seq_put / delete /
 *                                        +--+ create / delete bucket / range
 *
 * Rules:
 *   1. Every function but lock checks that the calling thread holds the
 *      lock (BACKEND_ENOTLOCKED otherwise), so a forgotten lock is an
 *      error, not a data race. The check reads `holder` without the lock,
 *      so `holder` is atomic: the holder stores its own thread's token
 *      after locking and clears it before unlocking; a thread reads its own
 *      token only if it stored it itself, that is, while it holds the lock
 *      (relaxed order suffices: only the one location's coherence counts).
 *   2. A write is applied to bolt's write transaction first; only when that
 *      succeeded is it buffered and counted as pending, so a refused write
 *      leaves no trace. Deletes are buffered as tombstones, so readers stop
 *      seeing the key at unlock (etcd 3.4 shows it until the commit).
 *   3. Unlock writes the buffer back into a new published snapshot before
 *      releasing the lock, so a read transaction begun after unlock returns
 *      sees every write of the locked section. If the write-back cannot
 *      allocate, unlock commits instead (readers then see bolt's state).
 *   4. Buckets are not buffered: creating or deleting one makes unlock
 *      commit, so readers see the bucket change as soon as unlock returns.
 *   5. Limit: unlock asks the commit thread for a commit once pending
 *      reaches the batch limit, and at twice the limit begins the commit
 *      itself (its BEGIN, under the lock), so a writer that keeps the lock
 *      busy cannot grow a batch without bound; the bolt commit is handed to
 *      the commit thread (backend.c rule 14), so the unlocking thread (and
 *      whoever waits on a lock it holds) does not wait for the write-out.
 *   6. While a defrag copies, every changed (bucket, key) is recorded in its
 *      log (defrag.c replays them into the copy).
 *   7. While a commit is in flight or its log not yet replayed (backend.c
 *      rules 9-10), put and delete check the write against the logging
 *      read transaction and append it to the write log instead of bolt
 *      (then rule 2 as usual); a write these checks cannot decide (a key
 *      or value near bolt's limits, no logging transaction) and the bucket
 *      functions settle first and then go to bolt. Ranges read the
 *      holder's view. Unlock replays twice what its section logged (at
 *      most one slice) once the log has taken the batch limit's worth of
 *      entries since it was last empty, so writers cannot outrun the
 *      replay and the log's memory stays bounded (about twice the limit
 *      plus a section); a shorter log is left to the thread that finished
 *      the commit (the commit thread's drain, settle, lock_quiet), so a
 *      section's end (often with a caller's lock held: the mvcc store's
 *      write lock, that other writers wait on) does not replay it.
 *      backend_batch_tx_unlock_waited (a caller whose own lock a writer
 *      waits for), and any unlock while the commit thread replays outside
 *      the lock (backend.c rule 16), leaves its share to the commit thread
 *      until the log has taken WAITED_LOG_LIMITS times the limit (the
 *      bound is then about four times the limit): during a mass expiry
 *      that share, replayed at the end of each batch of revokes the putter
 *      waited for, was 30-100 us in 540 of 9,000 batch ends (session 8),
 *      the putter's worst waits after the revoker's preemptions. The check
 *      that the key is not a nested bucket in vtx is a cursor seek, except
 *      for a key above the bucket's last key in vtx (read once per bucket
 *      and vtx): no key of vtx is there, so no bucket either. mvcc's puts
 *      of new revisions are all such keys: the seek was a tenth of M1's
 *      put thread.
 */
#include <errno.h>
#include <string.h>

#include "backend_int.h"

/*
 * Rule 7: writes up to these sizes are decided in log mode; bolt's own
 * limits (keys 32,768 bytes; key + value about 2 GiB) lie above them, so a
 * write bolt would refuse always takes the slow path and gets bolt's code.
 */
#define LOG_MAX_KEY    32768u
#define LOG_MAX_VALUE  (64u << 20)
#define DRAIN_SLICE_NS (500u * 1000u) /* as backend.c's DRAIN_BUDGET_NS */

backend_batch_tx *backend_batch(backend *be)
{
    return &be->batch;
}

void backend_batch_tx_lock(backend_batch_tx *tx)
{
    backend__batch_lock(tx->be);
}

void backend_batch_tx_lock_quiet(backend_batch_tx *tx)
{
    if (tx->be->opt.read_only) {
        backend__batch_lock(tx->be);
        return;
    }
    (void)backend__lock_quiet(tx->be); /* a sticky error: the writes report it */
}

int backend__batch_usable(const backend_batch_tx *tx)
{
    if (!backend__batch_held(tx)) /* rule 1 */
        return BACKEND_ENOTLOCKED;
    if (tx->be->opt.read_only)
        return BOLT_EDATABASEREADONLY; /* backend.c rule 6 */
    if (tx->be->err != 0)
        return BACKEND_EFAILED;
    if (tx->wtx == NULL && !tx->be->inflight)
        return BACKEND_ECLOSED;
    return 0;
}

/*
 * Rule 7's log bound for an unlock that leaves its replay share (a writer
 * waits on its caller): past this many times the limit appended since the
 * log was last empty, it replays its share anyway.
 */
#define WAITED_LOG_LIMITS 4

static int unlock(backend_batch_tx *tx, bool waited)
{
    if (!backend__batch_held(tx)) /* rule 1 */
        return BACKEND_ENOTLOCKED;
    backend *be = tx->be;
    int rc = 0;
    bool wake = false, commit_now = false;
    backend__rbuf_unref(tx->view);
    tx->view = NULL;
    if ((tx->wtx != NULL || be->inflight) && be->err == 0) {
        if (backend__writeback(be) != 0)
            tx->commit_on_unlock = true; /* rule 3 */
        if (tx->commit_on_unlock) {
            rc = backend__commit(be);
        } else {
            size_t appended = backend__wlog_appended(be->log);
            /* A waited unlock, or the commit thread replaying outside the lock
             * (backend.c rule 16), leaves the share until the log's bound. */
            bool leave = waited || backend__replaying_out(be);
            if (tx->logged > 0 && !be->inflight && backend__wlog_count(be->log) > 0 &&
                appended >= be->limit &&
                (!leave || appended >= WAITED_LOG_LIMITS * (size_t)be->limit))
                rc = backend__drain(be, 2 * tx->logged, DRAIN_SLICE_NS); /* rule 7 */
            if (rc == 0 && tx->pending >= 2 * (uint64_t)be->limit && !backend__logging(be))
                commit_now = true; /* rule 5: BEGIN here, the write-out handed off */
            else if (tx->pending >= be->limit)
                wake = true;
        }
    }
    tx->logged = 0;
    if (commit_now)
        rc = backend__commit_handoff_locked(be); /* releases the lock */
    else
        backend__batch_unlock(be);
    if (wake)
        backend__wake_for_limit(be);
    return rc;
}

int backend_batch_tx_unlock(backend_batch_tx *tx)
{
    return unlock(tx, false);
}

int backend_batch_tx_unlock_waited(backend_batch_tx *tx)
{
    return unlock(tx, true);
}

static int batch_bucket(backend_batch_tx *tx, bolt_val name, bolt_bucket **out)
{
    int rc = backend__batch_usable(tx);
    if (rc == 0 && backend__logging(tx->be))
        rc = backend__settle(tx->be); /* rule 7: bolt's write transaction itself */
    if (rc != 0)
        return rc;
    rc = bolt_tx_bucket(tx->wtx, name, out);
    return rc == BOLT_NOTFOUND ? BACKEND_EBUCKETNOTFOUND : rc;
}

static backend__bytes as_bytes(bolt_val v)
{
    return (backend__bytes){ v.data, v.size };
}

/* Rule 2: after bolt (or the log) took the change, buffer it and count it. */
static void batch_record(backend_batch_tx *tx, bolt_val bucket, bolt_val key, const bolt_val *val)
{
    backend__bytes v = val != NULL ? as_bytes(*val) : (backend__bytes){ NULL, 0 };
    if (backend__wbuf_put(tx->wbuf, as_bytes(bucket), as_bytes(key), val != NULL ? &v : NULL) != 0)
        tx->commit_on_unlock = true; /* rule 3: readers see it after the commit */
    __atomic_store_n(&tx->pending, tx->pending + 1, __ATOMIC_RELAXED);
    if (tx->be->dlog != NULL)
        backend__defrag_note(tx->be->dlog, bucket, &key);
}

/* Rule 7: BOLT_EINCOMPATIBLEVALUE when key names a nested bucket of c's bucket. */
static int check_nested(bolt_cursor *c, bolt_val key)
{
    bolt_val k, v;
    int rc = bolt_cursor_seek(c, key, &k, &v);
    if (rc == BOLT_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    bool nested = v.data == NULL && k.size == key.size && memcmp(k.data, key.data, key.size) == 0;
    return nested ? BOLT_EINCOMPATIBLEVALUE : 0;
}

/*
 * Rule 7's nested check on vb: skipped for a key above vb's last key in
 * vtx, which it reads (and copies, up to sizeof be->vlast) once per bucket
 * and vtx.
 */
static int check_nested_vb(backend *be, bolt_val key)
{
    if (be->vlast_state == BACKEND__VLAST_UNKNOWN) {
        bolt_val k, v;
        int rc = bolt_cursor_last(be->vc, &k, &v);
        be->vlast_state = BACKEND__VLAST_NONE;
        if (rc == BOLT_NOTFOUND) {
            be->vlast_state = BACKEND__VLAST_EMPTY;
        } else if (rc == 0 && k.size <= sizeof be->vlast) {
            if (k.size > 0)
                memcpy(be->vlast, k.data, k.size);
            be->vlast_len = k.size;
            be->vlast_state = BACKEND__VLAST_KEY;
        }
    }
    if (be->vlast_state == BACKEND__VLAST_EMPTY)
        return 0;
    if (be->vlast_state == BACKEND__VLAST_KEY) {
        size_t n = key.size < be->vlast_len ? key.size : be->vlast_len;
        int c = n > 0 ? backend__mem_cmp(key.data, be->vlast, n) : 0;
        if (c > 0 || (c == 0 && key.size > be->vlast_len))
            return 0;
    }
    return check_nested(be->vc, key);
}

/*
 * Rule 7: write to the log when logging. 0 when done there; 1 when the
 * write must go to bolt (not logging, or settled for the slow path); else
 * the write's error (nothing recorded).
 */
static int log_write(backend_batch_tx *tx, enum backend__wlog_op op, bolt_val bucket, bolt_val key,
                     bolt_val value)
{
    backend *be = tx->be;
    if (!backend__logging(be))
        return 1;
    bool put = op != BACKEND__LOG_DELETE;
    if (be->vtx == NULL || key.size > LOG_MAX_KEY || (put && value.size > LOG_MAX_VALUE)) {
        int rc = backend__settle(be);
        return rc != 0 ? rc : 1;
    }
    /* The bucket and a cursor on it, kept while vtx lives (one lookup per bucket). */
    bool cached = be->vc != NULL && be->vb_len == bucket.size &&
                  backend__mem_cmp(be->vb_name, bucket.data, bucket.size) == 0;
    if (!cached) {
        bolt_bucket *b;
        int rc = bolt_tx_bucket(be->vtx, bucket, &b);
        if (rc != 0)
            return rc == BOLT_NOTFOUND ? BACKEND_EBUCKETNOTFOUND : rc;
        bolt_cursor *c;
        rc = bolt_cursor_open(b, &c);
        if (rc != 0)
            return rc;
        bolt_cursor_close(be->vc); /* the previous bucket's (NULL: none) */
        be->vb = b;
        be->vc = c;
        be->vb_len = 0;
        be->vlast_state = BACKEND__VLAST_UNKNOWN;
        if (bucket.size <= sizeof be->vb_name) { /* a longer name is looked up each time */
            memcpy(be->vb_name, bucket.data, bucket.size);
            be->vb_len = bucket.size;
        } else {
            be->vb_len = SIZE_MAX;
        }
    }
    if (key.size == 0) /* after the bucket, as bolt orders its checks */
        return BOLT_EKEYREQUIRED;
    int nrc = check_nested_vb(be, key);
    if (nrc != 0)
        return nrc;
    int rc = backend__wlog_append(be->log, op, bucket, key, value);
    if (rc != 0)
        return rc;
    batch_record(tx, bucket, key, put ? &value : NULL);
    tx->logged++;
    return 0;
}

static int batch_put(backend_batch_tx *tx, bolt_val bucket, bolt_val key, bolt_val value, bool seq)
{
    if (value.data == NULL)
        value.data = ""; /* a NULL value would read as a nested bucket */
    int rc = backend__batch_usable(tx);
    if (rc != 0)
        return rc;
    rc = log_write(tx, seq ? BACKEND__LOG_SEQ_PUT : BACKEND__LOG_PUT, bucket, key, value);
    if (rc != 1)
        return rc;
    bolt_bucket *b;
    rc = batch_bucket(tx, bucket, &b);
    if (rc != 0)
        return rc;
    if (seq)
        bolt_bucket_set_fill_percent(b, BACKEND_SEQ_FILL_PERCENT);
    rc = bolt_bucket_put(b, key, value);
    if (rc != 0)
        return rc;
    batch_record(tx, bucket, key, &value);
    return 0;
}

int backend_batch_tx_put(backend_batch_tx *tx, bolt_val bucket, bolt_val key, bolt_val value)
{
    return batch_put(tx, bucket, key, value, false);
}

int backend_batch_tx_seq_put(backend_batch_tx *tx, bolt_val bucket, bolt_val key, bolt_val value)
{
    return batch_put(tx, bucket, key, value, true);
}

int backend_batch_tx_reserve(backend_batch_tx *tx, bolt_val bucket, size_t n, size_t bytes)
{
    int rc = backend__batch_usable(tx);
    if (rc != 0)
        return rc;
    rc = backend__wbuf_reserve(tx->wbuf, as_bytes(bucket), n, bytes);
    if (rc == 0 && backend__logging(tx->be)) { /* rule 8: the log copies the bucket's name too */
        size_t names = bucket.size != 0 && n > SIZE_MAX / bucket.size ? SIZE_MAX : n * bucket.size;
        rc = names > SIZE_MAX - bytes ? -ENOMEM
                                      : backend__wlog_reserve(tx->be->log, n, names + bytes);
    }
    return rc;
}

int backend_batch_tx_delete(backend_batch_tx *tx, bolt_val bucket, bolt_val key)
{
    int rc = backend__batch_usable(tx);
    if (rc != 0)
        return rc;
    rc = log_write(tx, BACKEND__LOG_DELETE, bucket, key, (bolt_val){ NULL, 0 });
    if (rc != 1)
        return rc;
    bolt_bucket *b;
    rc = batch_bucket(tx, bucket, &b);
    if (rc != 0)
        return rc;
    if (key.size == 0)
        return BOLT_EKEYREQUIRED;
    rc = bolt_bucket_delete(b, key);
    if (rc != 0)
        return rc;
    batch_record(tx, bucket, key, NULL);
    return 0;
}

int backend_batch_tx_create_bucket(backend_batch_tx *tx, bolt_val name)
{
    int rc = backend__batch_usable(tx);
    if (rc == 0 && backend__logging(tx->be))
        rc = backend__settle(tx->be); /* rule 7 */
    if (rc != 0)
        return rc;
    rc = bolt_bucket_create(bolt_tx_root(tx->wtx), name, NULL);
    if (rc == BOLT_EBUCKETEXISTS)
        rc = 0;
    else if (rc == 0) {
        tx->commit_on_unlock = true; /* rule 4 */
        if (tx->be->dlog != NULL)
            backend__defrag_note(tx->be->dlog, name, NULL);
    } else
        return rc;
    __atomic_store_n(&tx->pending, tx->pending + 1, __ATOMIC_RELAXED);
    return 0;
}

int backend_batch_tx_delete_bucket(backend_batch_tx *tx, bolt_val name)
{
    int rc = backend__batch_usable(tx);
    if (rc == 0 && backend__logging(tx->be))
        rc = backend__settle(tx->be); /* rule 7 */
    if (rc != 0)
        return rc;
    rc = bolt_bucket_delete_bucket(bolt_tx_root(tx->wtx), name);
    if (rc == BOLT_EBUCKETNOTFOUND)
        return BACKEND_EBUCKETNOTFOUND;
    if (rc != 0)
        return rc;
    tx->commit_on_unlock = true; /* rule 4 */
    if (tx->be->dlog != NULL)
        backend__defrag_note(tx->be->dlog, name, NULL);
    __atomic_store_n(&tx->pending, tx->pending + 1, __ATOMIC_RELAXED);
    return 0;
}

static int val_cmp(bolt_val a, bolt_val b)
{
    return backend__bytes_cmp(as_bytes(a), as_bytes(b));
}

int backend__bolt_range(bolt_bucket *b, bolt_val key, bolt_val end, uint64_t limit,
                        backend_kv_fn fn, void *arg)
{
    if (key.data == NULL)
        key.data = ""; /* an empty start: no NULL reaches memcmp */
    if (end.size == 0) {
        bolt_val v;
        int rc = bolt_bucket_get(b, key, &v);
        if (rc == BOLT_NOTFOUND)
            return 0;
        return rc != 0 ? rc : fn(arg, key, v);
    }
    bolt_cursor *c;
    int rc = bolt_cursor_open(b, &c);
    if (rc != 0)
        return rc;
    bolt_val k, v;
    uint64_t n = 0;
    rc = bolt_cursor_seek(c, key, &k, &v);
    /* Loop invariant: n pairs in [key, k) were visited. */
    while (rc == 0 && val_cmp(k, end) < 0 && (limit == 0 || n < limit)) {
        if (v.data != NULL) { /* nested buckets are skipped */
            rc = fn(arg, k, v);
            if (rc != 0)
                break;
            n++;
        }
        rc = bolt_cursor_next(c, &k, &v);
    }
    bolt_cursor_close(c);
    return rc == BOLT_NOTFOUND ? 0 : rc;
}

int backend_batch_tx_range(backend_batch_tx *tx, bolt_val bucket, bolt_val key, bolt_val end,
                           uint64_t limit, backend_kv_fn fn, void *arg)
{
    int vrc = backend__batch_usable(tx);
    if (vrc == 0 && backend__logging(tx->be) && tx->be->vtx != NULL)
        return backend__view_range(tx, bucket, key, &end, limit, fn, arg); /* rule 7 */
    bolt_bucket *b;
    int rc = batch_bucket(tx, bucket, &b);
    if (rc != 0)
        return rc;
    return backend__bolt_range(b, key, end, limit, fn, arg);
}

typedef struct skip_buckets {
    backend_kv_fn fn;
    void *arg;
} skip_buckets;

static int for_each_pair(void *arg, bolt_val key, bolt_val value)
{
    skip_buckets *s = arg;
    return value.data == NULL ? 0 : s->fn(s->arg, key, value);
}

int backend_batch_tx_for_each(backend_batch_tx *tx, bolt_val bucket, backend_kv_fn fn, void *arg)
{
    int vrc = backend__batch_usable(tx);
    if (vrc == 0 && backend__logging(tx->be) && tx->be->vtx != NULL)
        return backend__view_range(tx, bucket, (bolt_val){ "", 0 }, NULL, 0, fn, arg);
    bolt_bucket *b;
    int rc = batch_bucket(tx, bucket, &b);
    if (rc != 0)
        return rc;
    skip_buckets s = { fn, arg };
    return bolt_bucket_for_each(b, for_each_pair, &s);
}
