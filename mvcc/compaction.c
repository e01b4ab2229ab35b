/*
 * compaction.c: Compact(rev) and its background physical deletion (etcd
 * 3.4.23 kvstore.go Compact/updateCompactRev/compact and
 * kvstore_compaction.go scheduleCompaction, docs/schema.md §8.1).
 *
 * State machine of one compaction:
 *
 *   mvcc_store_compact ---> ACCEPTED (compact_rev = rev, scheduled mark
 *        |                  written and force-committed, queued)
 *        v  compaction thread
 *   INDEX (idx_tree_compact: the keep set) ---> BATCHES (examine below rev
 *        in key order, a bounded batch at a time in a read view; the unkept
 *        go to the backend as deferred deletes its commits apply)
 *        |                                          |
 *        |  close: stop between batches             v last batch
 *        +--------------> ABANDONED            FINISHED (every delete applied,
 *                         (next open resumes)  then the finished mark written)
 *
 * Rules:
 *   1. Acceptance (under the write lock, so no write transaction is open
 *      and the current revision is stable): rev <= compacted ->
 *      MVCC_ECOMPACTED, rev > current -> MVCC_EFUTUREREV (etcd's order);
 *      else compact_rev = rev at once (reads below are refused from now
 *      on), meta/scheduledCompactRev written, the watch seam told, the job
 *      queued, and a forced commit makes the mark durable before return.
 *   2. One thread runs the queued compactions one at a time, in the order
 *      accepted. The index compaction is chunked (index/tree_index.c) so
 *      puts flow meanwhile.
 *   3. A physical batch examines at most compaction_batch_limit entries
 *      below rev+1 (from where the previous batch stopped) through a
 *      backend READ transaction, holding no lock that a writer takes, and
 *      stops early when compaction_batch_max_ns has passed. Entries at or
 *      below rev never change again (new revisions are above rev, and only
 *      this compaction deletes below it, behind the batches), so any view
 *      taken since the acceptance is exact for those not yet examined: one
 *      view serves VIEW_BATCHES batches (a few milliseconds; it pins pages
 *      and buffer memory meanwhile, and is never held across a wait for a
 *      commit). Beginning a view takes the backend's snapshot lock and
 *      bolt's db lock, which a commit's begin of the next write
 *      transaction holds while it releases freed pages; a put publishing
 *      its writes then waits behind the view's begin, so views are begun
 *      rarely. The entries not in the keep set are handed to the
 *      backend as deferred deletes (backend.h, backend.c rule 12): the next
 *      backend commit deletes them in its bolt transaction outside the
 *      batch lock, and nothing of them goes through the read buffer or the
 *      write log. A put therefore never waits for a compaction batch; it
 *      shares the CPU with it, and between batches the thread pauses
 *      compaction_pause_ns, or by default as long as the batch ran (at
 *      least MIN_PAUSE_NS), so on a busy machine it takes at most about
 *      half of a core.
 *   4. The last batch (it examines the last entry below rev+1) waits until
 *      every deferred delete of the compaction is applied and visible to
 *      new readers, then writes meta/finishedCompactRev under the batch
 *      lock, in a bolt transaction at or after theirs (a crash before it
 *      leaves the scheduled mark, and the next open resumes; restore.c
 *      rule 3 keeps the revision right); then the hash state switches to
 *      the new base under hash_mu alone (its sums were gathered by the
 *      pass; a write transaction's delta combines with it in either order).
 *   5. Every entry examined goes through the hash rebase (hash.c rule 3).
 *   6. Pacing: once WINDOW_BATCHES batches' worth of deletes are queued
 *      since the last wait, the thread waits until the deletes of the
 *      window before are applied (backend_deferred_wait), so at most two
 *      windows are queued and the backend commits about once per window
 *      (etcd: once per batch of 1,000).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "be64.h"
#include "mvcc_int.h"

#define BATCH_STOP     2      /* range callback: the time budget ran out */
#define MIN_PAUSE_NS   50000u /* rule 3's shortest default pause */
#define WINDOW_BATCHES 10     /* rule 6: batches of deletes queued per backend commit */
#define VIEW_BATCHES   8      /* rule 3: batches examined in one read view */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const bolt_val key_bucket = { MVCC__BUCKET_KEY, 3 };
static const bolt_val meta_bucket = { MVCC__BUCKET_META, 4 };

static int put_mark(backend_batch_tx *tx, const char *name, int64_t rev)
{
    uint8_t v[MVCC__REVKEY_TOMB_LEN];
    size_t n = mvcc__revkey_encode((idx_rev){ rev, 0 }, false, v);
    return backend_batch_tx_put(tx, meta_bucket, (bolt_val){ name, strlen(name) },
                                (bolt_val){ v, n });
}

/* ---- the queue (rule 2) ------------------------------------------------------- */

static int enqueue(mvcc_store *s, int64_t rev)
{
    pthread_mutex_lock(&s->cmp_mu);
    if (s->cmp_n == s->cmp_cap) {
        size_t cap = s->cmp_cap ? s->cmp_cap * 2 : 8;
        int64_t *q = strata_realloc(s->cmp_queue, cap * sizeof *q);
        if (q == NULL) {
            pthread_mutex_unlock(&s->cmp_mu);
            return -ENOMEM;
        }
        s->cmp_queue = q;
        s->cmp_cap = cap;
    }
    s->cmp_queue[s->cmp_n++] = rev;
    s->cmp_accepted++;
    s->cmp_pending = rev;
    pthread_cond_signal(&s->cmp_cv);
    pthread_mutex_unlock(&s->cmp_mu);
    return 0;
}

static bool stopping(mvcc_store *s)
{
    pthread_mutex_lock(&s->cmp_mu);
    bool st = s->cmp_stop;
    pthread_mutex_unlock(&s->cmp_mu);
    return st;
}

/* ---- one batch (rule 3) --------------------------------------------------------- */

typedef struct batch {
    mvcc_store *s;
    idx_rev_set *keep;
    mvcc__hash_rebase *rb;
    uint8_t (*del)[MVCC__REVKEY_TOMB_LEN]; /* keys to delete */
    uint8_t *del_len;
    size_t ndel;
    size_t examined;
    uint8_t last[MVCC__REVKEY_TOMB_LEN];
    size_t last_len;
    uint64_t t0, budget_ns;
    int rc;
} batch;

static int batch_fn(void *arg, bolt_val key, bolt_val value)
{
    batch *b = arg;
    mvcc__revkey rk;
    int rc = mvcc__revkey_decode(key.data, key.size, &rk);
    if (rc != 0) {
        b->rc = rc;
        return 1;
    }
    bool kept = idx_rev_set_contains(b->keep, rk.rev);
    bool superseded = false;
    if (kept) {
        /* hash.c rule 3: is it still its key's newest revision? */
        mvcc__kv kv;
        idx_rev mod;
        rc = mvcc__kv_decode(value.data, value.size, &kv);
        if (rc != 0) {
            b->rc = MVCC_ECORRUPT;
            return 1;
        }
        superseded =
                idx_tree_get(b->s->index, kv.key, kv.key_len, INT64_MAX, &mod, NULL, NULL) != 0 ||
                idx_rev_cmp(mod, rk.rev) != 0;
    }
    mvcc__hash_rebase_entry(b->rb, rk.rev, key.data, key.size, value.data, value.size, kept,
                            superseded);
    if (!kept) {
        memcpy(b->del[b->ndel], key.data, key.size);
        b->del_len[b->ndel++] = (uint8_t)key.size;
    }
    memcpy(b->last, key.data, key.size);
    b->last_len = key.size;
    b->examined++;
    if ((b->examined & 31) == 0 && mono_ns() - b->t0 > b->budget_ns)
        return BATCH_STOP;
    return 0;
}

/*
 * The physical deletion of the compaction at rev (rules 3-6). 0 when
 * finished, MVCC_ECLOSED when stopped by close, else an error (the
 * deletion stopped; the next open resumes it).
 */
static int delete_below(mvcc_store *s, int64_t rev, idx_rev_set *keep, mvcc__hash_rebase *rb)
{
    uint32_t limit = s->opt.compaction_batch_limit;
    batch b = { .s = s, .keep = keep, .rb = rb, .budget_ns = s->opt.compaction_batch_max_ns };
    b.del = strata_malloc((size_t)limit * sizeof *b.del);
    b.del_len = strata_malloc(limit);
    bolt_val *keys = strata_malloc((size_t)limit * sizeof *keys);
    if (b.del == NULL || b.del_len == NULL || keys == NULL) {
        strata_free(b.del);
        strata_free(b.del_len);
        strata_free(keys);
        return -ENOMEM;
    }
    uint8_t end[8];
    strata__store_be64(end, (uint64_t)rev + 1);
    uint8_t from[MVCC__REVKEY_TOMB_LEN] = { 0 };
    size_t from_len = MVCC__REVKEY_LEN;
    uint64_t ticket = 0, window_ticket = 0; /* rule 6 */
    size_t window = 0;
    backend_read_tx *rtx = NULL; /* rule 3's view, kept for VIEW_BATCHES batches */
    unsigned views_left = 0;
    int rc = 0;
    /* Loop invariant: every entry below `from` has been examined, the unkept queued. */
    for (;;) {
        if (stopping(s)) {
            rc = MVCC_ECLOSED;
            break;
        }
        if (rtx == NULL || views_left-- == 0) { /* rule 3: a view serves VIEW_BATCHES batches */
            backend_read_tx_end(rtx);
            rtx = NULL;
            rc = backend_read_tx_begin(s->be, &rtx);
            if (rc != 0)
                break;
            views_left = VIEW_BATCHES - 1;
        }
        b.ndel = 0;
        b.examined = 0;
        b.rc = 0;
        b.t0 = mono_ns();
        rc = backend_read_tx_range(rtx, key_bucket, (bolt_val){ from, from_len },
                                   (bolt_val){ end, 8 }, limit, batch_fn, &b);
        bool timed_out = rc == BATCH_STOP;
        if (rc == 1)
            rc = b.rc;
        else if (rc == BATCH_STOP)
            rc = 0;
        if (rc == 0 && b.ndel > 0) {
            for (size_t i = 0; i < b.ndel; i++)
                keys[i] = (bolt_val){ b.del[i], b.del_len[i] };
            rc = backend_delete_deferred(s->be, key_bucket, keys, b.ndel, &ticket);
        }
        uint64_t ran = mono_ns() - b.t0;
        if (rc != 0)
            break;
        if (!timed_out && b.examined < limit) { /* rule 4: the last batch */
            backend_read_tx_end(rtx);
            rtx = NULL;
            rc = backend_deferred_wait(s->be, ticket);
            if (rc != 0)
                break;
            backend_batch_tx *tx = backend_batch(s->be);
            backend_batch_tx_lock(tx);
            rc = put_mark(tx, MVCC__META_FINISHED, rev);
            int urc = backend_batch_tx_unlock(tx);
            if (rc == 0)
                rc = urc;
            if (rc == 0)
                mvcc__hash_compact_end(s, rb, true); /* rule 4: hash_mu only */
            break;
        }
        window += b.ndel;
        if (window >= (size_t)WINDOW_BATCHES * limit) { /* rule 6 */
            backend_read_tx_end(rtx); /* no view held while waiting for a commit */
            rtx = NULL;
            rc = backend_deferred_wait(s->be, window_ticket);
            if (rc != 0)
                break;
            window_ticket = ticket;
            window = 0;
        }
        /* The next batch starts right after the last entry examined. */
        mvcc__revkey last;
        if (mvcc__revkey_decode(b.last, b.last_len, &last) != 0) {
            rc = MVCC_ECORRUPT;
            break;
        }
        last.rev.sub++;
        from_len = mvcc__revkey_encode(last.rev, false, from);
        uint64_t pause = s->opt.compaction_pause_ns;
        if (pause == 0)
            pause = ran > MIN_PAUSE_NS ? ran : MIN_PAUSE_NS; /* rule 3 */
        struct timespec ts = { (time_t)(pause / 1000000000u), (long)(pause % 1000000000u) };
        nanosleep(&ts, NULL);
    }
    backend_read_tx_end(rtx);
    strata_free(b.del);
    strata_free(b.del_len);
    strata_free(keys);
    return rc;
}

static int run_compaction(mvcc_store *s, int64_t rev)
{
    idx_rev_set *keep = NULL;
    int rc = idx_tree_compact(s->index, rev, &keep);
    mvcc__hash_rebase rb;
    mvcc__hash_rebase_init(&rb, mvcc__hash_base(s), rev);
    if (rc == 0)
        rc = delete_below(s, rev, keep, &rb);
    if (rc != 0)
        mvcc__hash_compact_end(s, &rb, false);
    mvcc__hash_rebase_release(&rb);
    idx_rev_set_free(keep);
    return rc;
}

static void *compaction_thread(void *arg)
{
    mvcc_store *s = arg;
    pthread_mutex_lock(&s->cmp_mu);
    /* Loop invariant: cmp_mu held; cmp_finished + cmp_n == cmp_accepted. */
    while (!s->cmp_stop) {
        if (s->cmp_n == 0) {
            pthread_cond_wait(&s->cmp_cv, &s->cmp_mu);
            continue;
        }
        int64_t rev = s->cmp_queue[0];
        pthread_mutex_unlock(&s->cmp_mu);
        int rc = run_compaction(s, rev);
        pthread_mutex_lock(&s->cmp_mu);
        if (rc == MVCC_ECLOSED)
            break; /* the marks make the next open resume it */
        memmove(s->cmp_queue, s->cmp_queue + 1, (s->cmp_n - 1) * sizeof *s->cmp_queue);
        s->cmp_n--;
        s->cmp_finished++;
        if (rc != 0 && s->cmp_err == 0)
            s->cmp_err = rc;
        if (s->cmp_n == 0)
            s->cmp_pending = 0;
        pthread_cond_broadcast(&s->cmp_done_cv);
    }
    s->cmp_thread_running = false;
    pthread_cond_broadcast(&s->cmp_done_cv);
    pthread_mutex_unlock(&s->cmp_mu);
    return NULL;
}

int mvcc__compaction_start(mvcc_store *s)
{
    pthread_mutex_lock(&s->cmp_mu);
    s->cmp_thread_running = true;
    int rc = -pthread_create(&s->cmp_thread, NULL, compaction_thread, s);
    if (rc != 0)
        s->cmp_thread_running = false;
    else
        s->cmp_thread_started = true;
    pthread_mutex_unlock(&s->cmp_mu);
    return rc;
}

void mvcc__compaction_stop(mvcc_store *s)
{
    pthread_mutex_lock(&s->cmp_mu);
    bool started = s->cmp_thread_started;
    s->cmp_stop = true;
    pthread_cond_broadcast(&s->cmp_cv);
    pthread_mutex_unlock(&s->cmp_mu);
    if (started)
        pthread_join(s->cmp_thread, NULL);
    s->cmp_thread_started = false;
}

/* ---- restore's unfinished compaction (restore.c rule 3) ----------------------- */

int mvcc__compaction_restore_pending(mvcc_store *s, int64_t rev)
{
    s->compact_rev = rev; /* as etcd's compactLockfree: reads below are refused */
    mvcc__hash_compact_begin(s, rev);
    if (!s->read_only)
        return enqueue(s, rev); /* the thread, started after restore, resumes it */
    /*
     * Read-only: nothing may be deleted, but the index must not lead reads
     * to entries a crashed pass already removed: compact it in memory.
     */
    idx_rev_set *keep = NULL;
    int rc = idx_tree_compact(s->index, rev, &keep);
    idx_rev_set_free(keep);
    s->cmp_pending = rev;
    return rc;
}

/* ---- the public calls ----------------------------------------------------------- */

int mvcc_store_compact(mvcc_store *s, int64_t rev)
{
    if (s->read_only)
        return MVCC_EREADONLY;
    if (__atomic_load_n(&s->closing, __ATOMIC_ACQUIRE))
        return MVCC_ECLOSED;
    pthread_mutex_lock(&s->write_mu); /* rule 1 */
    pthread_mutex_lock(&s->rev_mu);
    int rc = 0;
    if (rev <= s->compact_rev)
        rc = MVCC_ECOMPACTED;
    else if (rev > s->current_rev)
        rc = MVCC_EFUTUREREV;
    else
        __atomic_store_n(&s->compact_rev, rev, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&s->rev_mu);
    if (rc != 0) {
        pthread_mutex_unlock(&s->write_mu);
        return rc;
    }
    mvcc__hash_compact_begin(s, rev);
    backend_batch_tx *tx = backend_batch(s->be);
    backend_batch_tx_lock(tx);
    rc = put_mark(tx, MVCC__META_SCHEDULED, rev);
    int urc = backend_batch_tx_unlock(tx);
    if (rc == 0)
        rc = urc;
    if (s->compact_hook != NULL)
        s->compact_hook(s->hook_arg, rev);
    int qrc = enqueue(s, rev);
    pthread_mutex_unlock(&s->write_mu);
    if (rc == 0)
        rc = qrc;
    if (rc == 0)
        rc = backend_force_commit(s->be);
    return rc;
}

int mvcc_store_compact_wait(mvcc_store *s)
{
    pthread_mutex_lock(&s->cmp_mu);
    uint64_t target = s->cmp_accepted;
    while (s->cmp_finished < target && s->cmp_thread_running)
        pthread_cond_wait(&s->cmp_done_cv, &s->cmp_mu);
    int rc = s->cmp_err;
    s->cmp_err = 0;
    if (rc == 0 && s->cmp_finished < target)
        rc = MVCC_ECLOSED;
    pthread_mutex_unlock(&s->cmp_mu);
    return rc;
}
